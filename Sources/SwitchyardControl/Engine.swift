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

/// Assembles and runs the engine: interfaces, neighbours, kernel guard, ARP, workers; then waits
/// for a signal and takes down everything it set up.
public final class Engine {
    let options: EngineOptions
    let config: Config
    /// The engine's interfaces; a frame's ingress/egress number indexes this list. The first
    /// holds the VIPs (clients' side); real servers may be on it (one-arm) or on others (two-arm).
    let interfaces: [InterfaceInfo]
    /// The interface number each VIP is answered on, and each real server is reached through.
    let vipInterface: [IPv4Address: Int]
    let realInterface: [IPv4Address: Int]
    var macs: [IPv4Address: MACAddress] = [:]

    public init(options: EngineOptions, config: Config) throws {
        self.options = options
        self.config = config
        guard !config.services.isEmpty else { throw SetupError("the config has no virtual_server: nothing to forward") }
        let routes = Route.all()
        var names: [String] = []
        func number(_ name: String) -> Int {
            if let i = names.firstIndex(of: name) { return i }
            names.append(name)
            return names.count - 1
        }
        var vipInterface: [IPv4Address: Int] = [:]
        for vip in config.vips {
            if let given = options.interface {
                vipInterface[vip] = number(given)
            } else if let route = Route.best(to: vip, in: routes) {
                vipInterface[vip] = number(route.interface)
            } else {
                throw SetupError("no route to VIP \(vip): cannot tell which interface its clients come from; give --interface")
            }
        }
        var realInterface: [IPv4Address: Int] = [:]
        for s in config.services {
            for r in s.reals {
                // DR rewrites only MACs and NAT sends to the real server's MAC too: both need the
                // real server on one of our segments, with no router between.
                guard let route = Route.best(to: r.address, in: routes), route.gateway == 0 else {
                    throw SetupError("real server \(r.address) of \(s.name) is not on a segment of this machine "
                        + "(the kernel routes it through a gateway, or not at all); real servers must be reachable without a router")
                }
                realInterface[r.address] = number(route.interface)
            }
        }
        guard names.count <= Pipeline.maxInterfaces else {
            throw SetupError("\(names.count) interfaces needed; at most \(Pipeline.maxInterfaces) are supported")
        }
        self.interfaces = try names.map { try InterfaceInfo.lookup($0) }
        self.vipInterface = vipInterface
        self.realInterface = realInterface
    }

    /// Every real server's address, once.
    var realAddresses: [IPv4Address] { Array(Set(config.services.flatMap { $0.reals.map(\.address) })).sorted() }
    /// Real servers of NAT services (their replies come back through us).
    var natRealAddresses: [IPv4Address] {
        Array(Set(config.services.filter { $0.method == .nat }.flatMap { $0.reals.map(\.address) })).sorted()
    }

    func buildSnapshot(generation: UInt64) -> ForwardingSnapshot {
        var nextRealID: UInt32 = 0
        let specs = config.services.enumerated().map { i, s in
            ServiceSpec(id: UInt32(i), proto: s.proto, vip: s.vip, port: s.port, scheduler: s.scheduler, method: s.method,
                        persistenceTimeout: s.persistenceTimeout, persistenceMask: s.persistenceMask,
                        reals: s.reals.map { r in
                            defer { nextRealID += 1 }
                            return RealServerSpec(id: nextRealID, address: r.address, port: r.port, weight: r.weight,
                                                  mac: macs[r.address], interface: UInt8(realInterface[r.address] ?? 0))
                        })
        }
        return ForwardingSnapshot(services: specs, schedulingKey: config.schedulingKey,
                                  maglevTableSize: config.maglevTableSize, generation: generation)
    }

    /// Merges the kernel's neighbour tables and what the ARP responders learned; true if a real
    /// server's MAC appeared or changed.
    func refreshNeighbours(_ responders: [ARPResponder]) -> Bool {
        var changed = false
        for a in realAddresses {
            let i = realInterface[a] ?? 0
            let kernel = NeighbourTable.read(interface: interfaces[i].name)
            if let mac = kernel[a] ?? responders[i].learnedNeighbours[a], macs[a] != mac {
                if let old = macs[a] {
                    Log.info("real server \(a) moved from \(old) to \(mac)")
                } else {
                    Log.info("real server \(a) is at \(mac) on \(interfaces[i].name)")
                }
                macs[a] = mac
                changed = true
            }
        }
        return changed
    }

    func requestUnknown(_ responders: [ARPResponder], all: Bool = false) {
        for a in realAddresses where all || macs[a] == nil { responders[realInterface[a] ?? 0].request(a) }
    }

    /// Runs until SIGINT or SIGTERM; returns after removing everything it installed.
    public func run() throws {
        let signals = blockSignals([SIGINT, SIGTERM, SIGHUP])
        for w in config.warnings { Log.warning(w.description) }
        let vips = config.vips
        let methods = Set(config.services.map(\.method.name)).sorted().joined(separator: "+")
        Log.info("\(config.services.count) virtual service(s) (\(methods)) on "
            + interfaces.map(\.description).joined(separator: "; ") + "; \(options.workers) worker(s)")

        let responders = try interfaces.enumerated().map { i, interface in
            try ARPResponder(interface: interface, vips: vips.filter { vipInterface[$0] == i })
        }
        let arpThreads = try responders.map { r in try OSThread(name: "sy-arp") { r.run() } }
        defer {
            responders.forEach { $0.stop() }
            arpThreads.forEach { $0.join() }
        }

        // Resolve the real servers' MACs: the kernel's tables first, then ask, for up to 3 s.
        _ = refreshNeighbours(responders)
        var deadline = 30
        while realAddresses.contains(where: { macs[$0] == nil }) && deadline > 0 {
            requestUnknown(responders)
            _ = waitForSignal(signals, milliseconds: 100)
            _ = refreshNeighbours(responders)
            deadline -= 1
        }
        for a in realAddresses where macs[a] == nil {
            Log.warning("real server \(a) does not answer ARP on \(interfaces[realInterface[a] ?? 0].name): it gets no flows until it does")
        }

        var generation: UInt64 = 1
        let publisher = SnapshotPublisher(buildSnapshot(generation: generation))

        let kernelGuard = KernelGuard(interface: interfaces[0].name)
        let rules = KernelGuard.Rules(
            vips: Dictionary(grouping: vips) { interfaces[vipInterface[$0] ?? 0].name },
            natRealServers: Dictionary(grouping: natRealAddresses) { interfaces[realInterface[$0] ?? 0].name })
        try kernelGuard.install(rules)
        defer {
            kernelGuard.remove()
            Log.info("kernel guard table \(kernelGuard.table) removed")
        }
        Log.info("kernel guard: nftables table ip \(kernelGuard.table) keeps the kernel from forwarding or answering "
            + "packets to \(vips.map(\.description).joined(separator: ", "))"
            + (natRealAddresses.isEmpty ? "" : " and NAT replies from \(natRealAddresses.map(\.description).joined(separator: ", "))"))
        let groOn = interfaces.map { GenericReceiveOffload.disable(on: $0.name) ?? false }
        defer { for (i, on) in groOn.enumerated() where on { GenericReceiveOffload.restore(on: interfaces[i].name) } }
        for (i, on) in groOn.enumerated() where on { Log.info("GRO turned off on \(interfaces[i].name) (restored on exit)") }

        let filter = try PacketFilter.forVIPs(vips, natRealServers: natRealAddresses)
        // Persistent services keep a client network on one worker, where its template lives.
        let clientMask = config.services.filter { $0.persistenceTimeout > 0 }.reduce(UInt32.max) { $0 & $1.persistenceMask }
        let fanout = FanoutProgram.build(vips: vips, workers: options.workers, clientMask: clientMask)
        let fanoutGroupBase = UInt16(truncatingIfNeeded: getpid() &* 8)
        let connections = ConnectionCounts(workers: options.workers)
        let maxMTU = interfaces.map(\.mtu).min() ?? 1500
        let workers = try (0..<options.workers).map { index in
            let pipelineConfig = PipelineConfig(
                interfaceMACs: interfaces.map(\.mac), mtu: maxMTU,
                flowCapacity: max(1_024, config.flowCapacity / options.workers), flowHashKey: .random(),
                timeouts: config.timeouts, connections: connections, workerIndex: index)
            return try Worker(index: index, interfaces: interfaces, filter: filter, fanoutGroupBase: fanoutGroupBase,
                              fanoutProgram: fanout, config: pipelineConfig, publisher: publisher)
        }
        let threads = try workers.map { w in try OSThread(name: "sy-worker-\(w.index)") { w.run() } }
        defer {
            workers.forEach { $0.stop() }
            threads.forEach { $0.join() }
            Log.info("stopped; totals: " + Engine.summary(workers))
        }

        responders.forEach { $0.announce() }
        Log.info("ready: answering ARP for \(vips.map(\.description).joined(separator: ", "))")
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
            if refreshNeighbours(responders) {
                generation += 1
                publisher.publish(buildSnapshot(generation: generation))
            }
            // Ask again now and then for real servers still unknown, and refresh the others.
            if seconds % 5 == 0 { requestUnknown(responders) }
            if seconds % 30 == 0 { requestUnknown(responders, all: true) }
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
