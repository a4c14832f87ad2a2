import Glibc
import Synchronization
import SwitchyardCore
import SwitchyardIO

/// How `switchyard run` was asked to run.
public struct EngineOptions: Sendable {
    public var configPath: String
    /// The interface to forward on; nil = the one the kernel routes the real servers through.
    public var interface: String?
    public var workers: Int
    /// Seconds between stats lines in the log; 0 = only at exit.
    public var statsInterval: Int

    public init(configPath: String, interface: String?, workers: Int, statsInterval: Int) {
        self.configPath = configPath
        self.interface = interface
        self.workers = workers
        self.statsInterval = statsInterval
    }
}

/// Assembles and runs the engine: interface, neighbours, kernel guard, ARP, workers; then waits
/// for a signal and takes down everything it set up.
public final class Engine {
    let options: EngineOptions
    let config: Config
    let interface: InterfaceInfo
    var macs: [IPv4Address: MACAddress] = [:]

    public init(options: EngineOptions, config: Config) throws {
        self.options = options
        self.config = config
        self.interface = try InterfaceInfo.lookup(options.interface ?? Engine.chooseInterface(config))
        try checkRealServersAreOnLink()
    }

    /// The interface the kernel would use to reach the first real server (DR needs every real
    /// server on that segment); else, the one it would use for the first VIP.
    static func chooseInterface(_ config: Config) throws -> String {
        let routes = Route.all()
        let target = config.services.lazy.flatMap(\.reals).first?.address ?? config.services.first?.vip
        guard let target else { throw SetupError("the config has no virtual_server: nothing to forward") }
        guard let route = Route.best(to: target, in: routes) else {
            throw SetupError("no route to \(target): cannot tell which interface to use; give --interface")
        }
        return route.interface
    }

    /// DR rewrites only MACs, so every real server must be on the interface's own segment.
    func checkRealServersAreOnLink() throws {
        let routes = Route.all().filter { $0.interface == interface.name }
        for s in config.services {
            for r in s.reals {
                guard let route = Route.best(to: r.address, in: routes), route.gateway == 0 else {
                    throw SetupError("real server \(r.address) of \(s.name) is not on \(interface.name)'s segment; "
                        + "with lb_kind DR every real server must be reachable without a router")
                }
            }
        }
    }

    /// Every real server's address, once.
    var realAddresses: [IPv4Address] { Array(Set(config.services.flatMap { $0.reals.map(\.address) })).sorted() }

    func buildSnapshot(generation: UInt64) -> ForwardingSnapshot {
        var nextRealID: UInt32 = 0
        let specs = config.services.enumerated().map { i, s in
            ServiceSpec(id: UInt32(i), proto: s.proto, vip: s.vip, port: s.port, scheduler: s.scheduler,
                        reals: s.reals.map { r in
                            defer { nextRealID += 1 }
                            return RealServerSpec(id: nextRealID, address: r.address, port: r.port, weight: r.weight,
                                                  mac: macs[r.address])
                        })
        }
        return ForwardingSnapshot(services: specs, schedulingKey: config.schedulingKey,
                                  maglevTableSize: config.maglevTableSize, generation: generation)
    }

    /// Merges the kernel's neighbour table and what the ARP responder learned; true if a real
    /// server's MAC appeared or changed.
    func refreshNeighbours(_ arp: ARPResponder) -> Bool {
        let kernel = NeighbourTable.read(interface: interface.name)
        let learned = arp.learnedNeighbours
        var changed = false
        for a in realAddresses {
            if let mac = kernel[a] ?? learned[a], macs[a] != mac {
                if let old = macs[a] {
                    Log.info("real server \(a) moved from \(old) to \(mac)")
                } else {
                    Log.info("real server \(a) is at \(mac)")
                }
                macs[a] = mac
                changed = true
            }
        }
        return changed
    }

    /// Runs until SIGINT or SIGTERM; returns after removing everything it installed.
    public func run() throws {
        let signals = blockSignals([SIGINT, SIGTERM, SIGHUP])
        for w in config.warnings { Log.warning(w.description) }
        Log.info("forwarding on \(interface) for \(config.services.count) virtual service(s), \(options.workers) worker(s)")

        let vips = config.vips
        let arp = try ARPResponder(interface: interface, vips: vips)
        let arpThread = try OSThread(name: "sy-arp") { arp.run() }
        defer {
            arp.stop()
            arpThread.join()
        }

        // Resolve the real servers' MACs: the kernel's table first, then ask, for up to 3 s.
        _ = refreshNeighbours(arp)
        var deadline = 30
        while realAddresses.contains(where: { macs[$0] == nil }) && deadline > 0 {
            for a in realAddresses where macs[a] == nil { arp.request(a) }
            _ = waitForSignal(signals, milliseconds: 100)
            _ = refreshNeighbours(arp)
            deadline -= 1
        }
        for a in realAddresses where macs[a] == nil {
            Log.warning("real server \(a) does not answer ARP on \(interface.name): it gets no flows until it does")
        }

        var generation: UInt64 = 1
        let publisher = SnapshotPublisher(buildSnapshot(generation: generation))

        let kernelGuard = KernelGuard(interface: interface.name)
        try kernelGuard.install(vips: vips)
        defer {
            kernelGuard.remove()
            Log.info("kernel guard table \(kernelGuard.table) removed")
        }
        Log.info("kernel guard: nftables table ip \(kernelGuard.table) drops the kernel's copy of packets to \(vips.map(\.description).joined(separator: ", "))")
        let groWasOn = GenericReceiveOffload.disable(on: interface.name) ?? false
        defer { if groWasOn { GenericReceiveOffload.restore(on: interface.name) } }
        if groWasOn { Log.info("GRO turned off on \(interface.name) (restored on exit)") }

        let filter = try PacketFilter.forVIPs(vips)
        let fanoutGroup = UInt16(truncatingIfNeeded: getpid())
        var pipelineConfig = PipelineConfig(sourceMAC: interface.mac, mtu: interface.mtu,
                                            flowCapacity: max(1_024, config.flowCapacity / options.workers))
        pipelineConfig.flowHashKey = .random()
        let workers = try (0..<options.workers).map {
            try Worker(index: $0, interface: interface, filter: filter, fanoutGroup: fanoutGroup, config: pipelineConfig,
                       publisher: publisher)
        }
        let threads = try workers.map { w in try OSThread(name: "sy-worker-\(w.index)") { w.run() } }
        defer {
            workers.forEach { $0.stop() }
            threads.forEach { $0.join() }
            Log.info("stopped; totals: " + Engine.summary(workers))
        }

        arp.announce()
        Log.info("ready: answering ARP for \(vips.map(\.description).joined(separator: ", ")) on \(interface.name)")
        var seconds = 0
        while true {
            if let s = waitForSignal(signals, milliseconds: 1000) {
                if s == SIGHUP {
                    Log.warning("SIGHUP: configuration reload is not implemented yet; the running config stays")
                    continue
                }
                Log.info("signal \(s == SIGINT ? "SIGINT" : "SIGTERM"): shutting down")
                break
            }
            seconds += 1
            if refreshNeighbours(arp) {
                generation += 1
                publisher.publish(buildSnapshot(generation: generation))
            }
            // Ask again now and then for real servers still unknown, and refresh the others.
            if seconds % 5 == 0 { for a in realAddresses where macs[a] == nil { arp.request(a) } }
            if seconds % 30 == 0 { for a in realAddresses { arp.request(a) } }
            if options.statsInterval > 0 && seconds % options.statsInterval == 0 {
                Log.info("stats: " + Engine.summary(workers))
            }
        }
    }

    /// The workers' counters summed, non-zero ones only, as `name=value` pairs.
    static func summary(_ workers: [Worker]) -> String {
        Counter.allCases.compactMap { c in
            let total = workers.reduce(UInt64(0)) { $0 &+ $1.published[c.rawValue] }
            return total == 0 && c != .forwarded ? nil : "\(c.name)=\(total)"
        }.joined(separator: " ")
    }
}
