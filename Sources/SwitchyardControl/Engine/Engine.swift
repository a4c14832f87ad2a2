import Glibc
import Synchronization
import SwitchyardCore
import SwitchyardIO

/// How `switchyard run` was asked to run.
public struct EngineOptions: Sendable {
    public var configPath: String
    /// The interface the VIPs are served on; nil = the one the kernel routes each VIP through.
    public var interface: String?
    public var workers: Int
    /// Seconds between stats lines in the log; 0 = only at exit.
    public var statsInterval: Int
    /// The control socket's path.
    public var controlPath: String
    /// How workers send.
    public var txMode: TXMode
    /// How workers receive.
    public var rxMode: RXMode
    /// Put the guard's tcx program in front of its nftables chain, where the kernel has tcx.
    public var guardTCX = true
    /// How AF_PACKET rings hand frames over (TPACKET_V2 frames or TPACKET_V3 blocks).
    public var ringFormat = RingFormat.frames

    public init(configPath: String, interface: String?, workers: Int, statsInterval: Int, controlPath: String,
                txMode: TXMode = .ring, rxMode: RXMode = .afPacket) {
        self.configPath = configPath
        self.interface = interface
        self.workers = workers
        self.statsInterval = statsInterval
        self.controlPath = controlPath
        self.txMode = txMode
        self.rxMode = rxMode
    }

    /// The default control socket for a config file: under /run/switchyard/, named after the
    /// file and a hash of its absolute path, so two daemons with different configs never collide
    /// and `adm --config` finds the right one.
    public static func defaultControlPath(configPath: String) -> String {
        var absolute = configPath
        if !absolute.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: 4096)
            if getcwd(&buffer, buffer.count) != nil {
                absolute = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } + "/" + configPath
            }
        }
        let name = absolute.split(separator: "/").last.map(String.init) ?? "switchyard"
        let stem = name.split(separator: ".").first.map(String.init) ?? name
        // FNV-1a: a short, stable tag of the path.
        var h: UInt32 = 2_166_136_261
        for b in absolute.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        let tag = String(h, radix: 16)
        return "/run/switchyard/\(stem)-\(String(repeating: "0", count: 8 - tag.count))\(tag).sock"
    }
}

/// Assembles and runs the engine: interfaces, neighbours, kernel guard, ARP, workers, health
/// checks and the control socket; then waits for signals and takes down everything it set up.
public final class Engine: @unchecked Sendable {
    let options: EngineOptions
    /// The engine's interfaces; a frame's ingress/egress number indexes this list. Fixed at
    /// start: a reload that needs another interface is refused.
    let interfaces: [InterfaceInfo]
    let routes: [Route]

    struct State {
        var table = ServiceTable()
        var config: Config
        var macs: [IPv4Address: MACAddress] = [:]
        var generation: UInt64 = 0
        var vips: [IPv4Address] = []
        var natReals: [IPv4Address] = []
        var natEndpoints: [KernelGuard.Endpoint] = []
        var targets: [UInt32: HealthMonitor.Target] = [:]
        var rates: [UInt32: Rates] = [:]
        var lastTotals: [UInt32: RealNumbers] = [:]
    }
    let state: Locked<State>

    // Set up by run().
    var responders: [ARPResponder] = []
    var publisher: SnapshotPublisher?
    var workers: [Worker] = []
    var kernelGuard: KernelGuard?
    var monitor: HealthMonitor?
    let counts: ConnectionCounts
    let stats: RealServerStats

    public init(options: EngineOptions, config: Config) throws {
        self.options = options
        guard !config.services.isEmpty else { throw SetupError("the config has no virtual_server: nothing to forward") }
        routes = Route.all()
        var names: [String] = []
        if let given = options.interface { names.append(given) }
        for address in Engine.addressesNeeded(config) {
            let name = try Engine.interfaceName(for: address, vip: config.vips.contains(address), options: options,
                                                routes: routes)
            if !names.contains(name) { names.append(name) }
        }
        guard names.count <= Pipeline.maxInterfaces else {
            throw SetupError("\(names.count) interfaces needed; at most \(Pipeline.maxInterfaces) are supported")
        }
        interfaces = try names.map { try InterfaceInfo.lookup($0) }
        counts = ConnectionCounts(workers: options.workers)
        stats = RealServerStats(workers: options.workers)
        state = Locked(State(config: config))
    }

    /// VIPs first (their interface leads), then every real and sorry server.
    static func addressesNeeded(_ config: Config) -> [IPv4Address] {
        var table = ServiceTable()
        table.apply(config)
        return config.vips + table.reachableAddresses
    }

    /// The interface for an address: for a VIP, --interface or the kernel's route to it; for a
    /// real server, its on-link route (DR and NAT both need it on one of our segments).
    static func interfaceName(for address: IPv4Address, vip: Bool, options: EngineOptions, routes: [Route]) throws -> String {
        if vip {
            if let given = options.interface { return given }
            guard let route = Route.best(to: address, in: routes) else {
                throw SetupError("no route to VIP \(address): cannot tell which interface its clients come from; give --interface")
            }
            return route.interface
        }
        guard let route = Route.best(to: address, in: routes), route.gateway == 0 else {
            throw SetupError("real server \(address) is not on a segment of this machine (the kernel routes it through "
                + "a gateway, or not at all); real servers must be reachable without a router")
        }
        return route.interface
    }

    /// The engine's number for the interface an address needs, or an error if it is not one of
    /// the interfaces the engine started on.
    func interfaceNumber(for address: IPv4Address, vip: Bool) throws -> Int {
        let name = try Engine.interfaceName(for: address, vip: vip, options: options, routes: routes)
        guard let i = interfaces.firstIndex(where: { $0.name == name }) else {
            throw SetupError("\(address) needs interface \(name), which this engine was not started on; restart it")
        }
        return i
    }

    func realInterface(_ a: IPv4Address) -> Int { (try? interfaceNumber(for: a, vip: false)) ?? 0 }

    // MARK: snapshot and address sets

    /// Builds and publishes a snapshot of the current table.
    func republish() {
        let snapshot = state.withLock { s -> ForwardingSnapshot in
            s.generation += 1
            let macs = s.macs
            let specs = s.table.specs(mac: { macs[$0] }, interface: { UInt8(self.realInterface($0)) })
            return ForwardingSnapshot(services: specs, schedulingKey: s.config.schedulingKey,
                                      maglevTableSize: s.config.maglevTableSize, generation: s.generation,
                                      timeouts: s.table.timeouts)
        }
        publisher?.publish(snapshot)
    }

    /// Brings ARP, the packet filter, the fanout program and the kernel guard in line with the
    /// table's VIPs and NAT real servers, when they changed.
    func applyAddressSets(force: Bool = false) throws {
        let (vips, endpoints, changed) = state.withLock { s -> ([IPv4Address], [KernelGuard.Endpoint], Bool) in
            let vips = Array(Set(s.table.services.map(\.config.vip))).sorted()
            let natServices = s.table.services.filter { $0.config.method == .nat }
            let endpoints = Array(Set(natServices.flatMap { svc in
                svc.reals.map { KernelGuard.Endpoint(address: $0.config.address, proto: svc.config.proto, port: $0.config.port) }
            })).sorted()
            let nat = Array(Set(endpoints.map(\.address))).sorted()
            let changed = vips != s.vips || endpoints != s.natEndpoints
            s.vips = vips
            s.natReals = nat
            s.natEndpoints = endpoints
            return (vips, endpoints, changed)
        }
        guard changed || force else { return }
        let vipInterface = try Dictionary(uniqueKeysWithValues: vips.map { ($0, try interfaceNumber(for: $0, vip: true)) })
        for (i, r) in responders.enumerated() { r.setVIPs(vips.filter { vipInterface[$0] == i }) }
        let filter = try PacketFilter.forVIPs(vips, natEndpoints: endpoints)
        for w in workers {
            try w.update(filter: filter, fanoutProgram: fanoutProgram(vips))
            try w.update(vips: vips, nat: endpoints)
        }
        try kernelGuard?.install(KernelGuard.Rules(
            vips: Dictionary(grouping: vips) { interfaces[vipInterface[$0] ?? 0].name },
            natRealServers: Dictionary(grouping: endpoints) { interfaces[realInterface($0.address)].name }))
    }

    func fanoutProgram(_ vips: [IPv4Address]) -> [BPFInstruction] {
        // Persistent services keep a client network on one worker, where its template lives.
        let mask = state.withLock { s in
            s.table.services.filter { $0.config.persistenceTimeout > 0 }.reduce(UInt32.max) { $0 & $1.config.persistenceMask }
        }
        return FanoutProgram.build(vips: vips, workers: options.workers, clientMask: mask)
    }

    // MARK: neighbours

    /// Merges the kernel's neighbour tables and what the ARP responders learned; true if a real
    /// server's MAC appeared or changed.
    func refreshNeighbours() -> Bool {
        let addresses = state.withLock { $0.table.reachableAddresses }
        // Each interface's kernel table is read once, not once per address.
        var kernel: [Int: [IPv4Address: MACAddress]] = [:]
        var found: [IPv4Address: MACAddress] = [:]
        for a in addresses {
            let i = realInterface(a)
            if kernel[i] == nil { kernel[i] = NeighbourTable.read(interface: interfaces[i].name) }
            if let mac = kernel[i]?[a] ?? responders[i].learnedMAC(for: a) { found[a] = mac }
        }
        return state.withLock { s in
            var changed = false
            for (a, mac) in found where s.macs[a] != mac {
                if let old = s.macs[a] {
                    Log.info("real server \(a) moved from \(old) to \(mac)")
                } else {
                    Log.info("real server \(a) is at \(mac) on \(interfaces[realInterface(a)].name)")
                }
                s.macs[a] = mac
                changed = true
            }
            return changed
        }
    }

    func requestNeighbours(all: Bool) {
        // Decided under the lock: a copy of a table read outside it would share storage that
        // the lock's next holder may change in place (see `control`).
        let addresses = state.withLock { s in s.table.reachableAddresses.filter { all || s.macs[$0] == nil } }
        for a in addresses { responders[realInterface(a)].request(a) }
    }

    // MARK: health checks

    /// Starts and stops checkers as a table change requires (outside the lock: stopping waits
    /// for a probe in flight).
    func applyCheckers(_ changes: TableChanges) {
        guard let monitor else { return }
        for id in Set(changes.checkersToStop + changes.checkersToStart) {
            if let t = state.withLock({ $0.targets.removeValue(forKey: id) }) { monitor.stop(t) }
        }
        for id in changes.checkersToStart {
            let found = state.withLock { s -> (HealthMonitor.Target, [CheckerConfig], Bool)? in
                for svc in s.table.services {
                    if let r = svc.reals.first(where: { $0.id == id }), !r.config.checkers.isEmpty {
                        let t = HealthMonitor.Target(serviceID: svc.id, realID: id, address: r.config.address,
                                                     port: r.config.port)
                        s.targets[id] = t
                        return (t, r.config.checkers, !svc.config.alpha)
                    }
                }
                return nil
            }
            guard let (target, checkers, startUp) = found else { continue }
            do {
                try monitor.start(target, checkers: checkers, startUp: startUp)
            } catch {
                Log.error("cannot start the checkers of \(target.address):\(target.port): \(error)")
            }
        }
        for id in changes.checkersToStop { stats.reset(realID: id) }
    }

    /// A checker changed its verdict: log it with its reason, run notify scripts, re-evaluate the
    /// quorum, and publish.
    func healthReport(_ target: HealthMonitor.Target, _ index: Int, _ up: Bool, _ result: ProbeResult) {
        let outcome = state.withLock { s -> (String, RealState, Bool, [(ServiceKey, Bool)], VirtualServiceConfig?)? in
            guard s.targets[target.realID] == target,
                  let (key, real, changed) = s.table.setChecker(realID: target.realID, index: index, up: up) else { return nil }
            let quorum = s.table.updateQuorum()
            return ("\(key)", real, changed, quorum, s.table.service(key)?.config)
        }
        guard let (service, real, changed, quorum, config) = outcome else { return }
        let checker = real.config.checkers[index].kind.name
        let reason: String
        if case .down(let why) = result { reason = why } else { reason = "\(checker) succeeded" }
        let name = "\(real.config.address):\(real.config.port)"
        if changed {
            Log.info("real server \(name) of \(service) is \(real.up ? "UP" : "DOWN"): \(reason)"
                + (real.up ? "" : (real.config.inhibitOnFailure ? " (kept with weight 0)" : " (removed from the pool)")))
            if let script = real.up ? real.config.notifyUp : real.config.notifyDown { runScript(script) }
        } else {
            Log.info("real server \(name) of \(service): \(checker) says \(up ? "up" : "down") (\(reason)); "
                + "the server stays \(real.up ? "UP" : "DOWN")")
        }
        for (key, up) in quorum {
            Log.info("\(key) \(up ? "regained" : "lost") its quorum"
                + (config?.sorryServer.map { up ? "; the sorry server steps back" : "; the sorry server \($0.address):\($0.port) answers" } ?? ""))
            if let script = up ? config?.quorumUp : config?.quorumDown { runScript(script) }
        }
        republish()
    }

    func runScript(_ script: String) {
        OSThread.detached(name: "sy-notify") {
            let result = runCommand(["/bin/sh", "-c", script])
            if result.status != 0 { Log.warning("script \"\(script)\" exited \(result.status)") }
        }
    }

    // MARK: numbers

    func numbers(_ id: UInt32, rates: [UInt32: Rates]) -> RealNumbers {
        var n = RealNumbers()
        (n.active, n.inactive) = counts.totals(realID: id)
        n.connections = stats.total(realID: id, field: RealServerStats.connections)
        n.inPackets = stats.total(realID: id, field: RealServerStats.inPackets)
        n.inBytes = stats.total(realID: id, field: RealServerStats.inBytes)
        n.outPackets = stats.total(realID: id, field: RealServerStats.outPackets)
        n.outBytes = stats.total(realID: id, field: RealServerStats.outBytes)
        n.rates = rates[id] ?? Rates()
        return n
    }

    /// Every 2 s: rates as moving averages (each sample weighs a quarter, as IPVS's estimator
    /// smooths its 2-second samples).
    func updateRates(interval: Double) {
        let ids = state.withLock { s in s.table.services.flatMap { $0.reals.map(\.id) + [$0.sorryID] } }
        let totals = ids.map { ($0, numbers($0, rates: [:])) }
        state.withLock { s in
            for (id, now) in totals {
                let before = s.lastTotals[id] ?? now
                var r = s.rates[id] ?? Rates()
                func smooth(_ old: Double, _ delta: UInt64) -> Double { old + (Double(delta) / interval - old) / 4 }
                r.cps = smooth(r.cps, now.connections &- before.connections)
                r.inPPS = smooth(r.inPPS, now.inPackets &- before.inPackets)
                r.outPPS = smooth(r.outPPS, now.outPackets &- before.outPackets)
                r.inBPS = smooth(r.inBPS, (now.inBytes &- before.inBytes) &* 8)
                r.outBPS = smooth(r.outBPS, (now.outBytes &- before.outBytes) &* 8)
                s.rates[id] = r
                s.lastTotals[id] = now
            }
        }
    }

    // MARK: control

    /// Reads the config file again and applies only the difference. A bad file is reported
    /// with its line and column and changes nothing.
    func reload() -> (ok: Bool, text: String) {
        let config: Config
        do {
            config = try Config.load(path: options.configPath)
        } catch {
            Log.error("reload refused, the running config stays: \(error)")
            return (false, "reload refused, the running config stays: \(error)\n")
        }
        do {
            for a in Engine.addressesNeeded(config) { _ = try interfaceNumber(for: a, vip: config.vips.contains(a)) }
        } catch {
            Log.error("reload refused, the running config stays: \(error)")
            return (false, "reload refused, the running config stays: \(error)\n")
        }
        for w in config.warnings { Log.warning(w.description) }
        let changes = state.withLock { s -> TableChanges in
            s.config = config
            return s.table.apply(config)
        }
        return finish(changes, what: "reload")
    }

    /// After a table change: checkers, address sets, neighbours, snapshot.
    func finish(_ changes: TableChanges, what: String) -> (ok: Bool, text: String) {
        applyCheckers(changes)
        do {
            try applyAddressSets()
        } catch {
            Log.error("\(what): \(error)")
            return (false, "\(error)\n")
        }
        _ = refreshNeighbours()
        republish()
        requestNeighbours(all: false)
        Log.info("\(what) applied: \(changes.summary)")
        return (true, "")
    }

    /// One `switchyard adm` request.
    func control(_ arguments: [String], _ input: String) -> (ok: Bool, text: String) {
        let command: AdmCommand
        do {
            command = try AdmCommand.parse(arguments)
        } catch {
            return (false, "\(error)\n")
        }
        switch command {
        case .list(let options):
            // Rendered under the lock. A copy of the table taken under it and read after it
            // shares its storage until the next change, which copy-on-write then makes in place
            // once the copy is gone; the runtime orders that, but ThreadSanitizer cannot see it,
            // and a whole-daemon TSan run (scripts/test.sh) must stay clean to be worth running.
            var text = state.withLock { s in AdmRender.list(s.table, options, numbers: { self.numbers($0, rates: s.rates) }) }
            if options.stats && !options.json {
                // Not in ipvsadm: what the engine did with every frame, drops by reason.
                text += "\nEngine counters (all workers):\n" + engineCounters().map { "  \($0.0) \($0.1)\n" }.joined()
                // How the fanout spread the frames: each worker's share.
                text += "Frames per worker: "
                    + workers.map { "\($0.index)=\($0.published[Counter.rxFrames.rawValue].load(ordering: .relaxed))" }.joined(separator: " ") + "\n"
            }
            return (true, text)
        case .save:
            return (true, state.withLock { AdmRender.save($0.table) })
        case .zero(let key):
            let ids = state.withLock { s in
                s.table.services.filter { key == nil || $0.key == key }.flatMap { $0.reals.map(\.id) + [$0.sorryID] }
            }
            if let key, ids.isEmpty { return (false, "no such service: \(key)\n") }
            for id in ids { stats.reset(realID: id) }
            state.withLock { s in for id in ids { s.lastTotals[id] = nil; s.rates[id] = nil } }
            return (true, "")
        case .reload:
            return reload()
        case .restore:
            // All or nothing: the rules are checked on a scratch table first. Then they are
            // applied like a reload, so what stays keeps its IDs, flows, counters and checkers.
            var scratch = ServiceTable()
            scratch.timeouts = state.withLock { $0.table.timeouts }
            for (n, line) in input.split(separator: "\n").enumerated() {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                if words.isEmpty || words[0].hasPrefix("#") { continue }
                do {
                    let c = try AdmCommand.parse(words)
                    switch c {
                    case .addService, .editService, .deleteService, .addReal, .editReal, .deleteReal, .setTimeouts, .clear:
                        _ = try scratch.execute(c)
                    default:
                        return (false, "restore line \(n + 1): only -A -E -D -a -e -d -C --set may be restored\n")
                    }
                } catch {
                    return (false, "restore line \(n + 1): \(error); nothing was changed\n")
                }
            }
            let changes = state.withLock { s -> TableChanges in
                var config = s.config
                config.timeouts = scratch.timeouts
                config.services = scratch.services.map { new in
                    let old = s.table.service(new.key)
                    var settings = old?.config ?? new.config
                    settings.scheduler = new.config.scheduler
                    settings.method = new.config.method
                    settings.persistenceTimeout = new.config.persistenceTimeout
                    settings.persistenceMask = new.config.persistenceMask
                    settings.reals = new.reals.map { r in
                        guard var kept = old?.reals.first(where: {
                            $0.config.address == r.config.address && $0.config.port == r.config.port
                        })?.config else { return r.config }
                        kept.weight = r.config.weight
                        return kept
                    }
                    return settings
                }
                return s.table.apply(config)
            }
            return finish(changes, what: "restore")
        default:
            let result = state.withLock { s -> Result<TableChanges, AdmError> in
                do throws(AdmError) { return .success(try s.table.execute(command)) } catch { return .failure(error) }
            }
            switch result {
            case .success(let changes): return finish(changes, what: "adm " + arguments.joined(separator: " "))
            case .failure(let error): return (false, "\(error)\n")
            }
        }
    }

    // MARK: run

    /// Runs until SIGINT or SIGTERM; returns after removing everything it installed.
    public func run() throws {
        let signals = blockSignals([SIGINT, SIGTERM, SIGHUP])
        let (config, initial) = state.withLock { s -> (Config, TableChanges) in (s.config, s.table.apply(s.config)) }
        for w in config.warnings { Log.warning(w.description) }
        let cpus = allowedCPUCount()
        if options.workers > cpus {
            Log.warning("\(options.workers) workers on \(cpus) CPU(s) this process may use: they take turns on them "
                + "and each packet costs more (give --workers \(cpus), or the process more CPUs)")
        }
        let methods = Set(config.services.map(\.method.name)).sorted().joined(separator: "+")
        Log.info("\(config.services.count) virtual service(s) (\(methods)) on "
            + interfaces.map(\.description).joined(separator: "; ") + "; \(options.workers) worker(s); receiving with "
            + "\(options.rxMode.rawValue), sending with \(options.txMode == .ring ? "a TX ring" : "sendmmsg")")

        responders = try interfaces.map { try ARPResponder(interface: $0, vips: []) }
        let arpThreads = try responders.map { r in try OSThread(name: "sy-arp") { r.run() } }
        defer {
            responders.forEach { $0.stop() }
            arpThreads.forEach { $0.join() }
        }

        // Resolve the real servers' MACs: the kernel's tables first, then ask, for up to 3 s.
        _ = refreshNeighbours()
        for _ in 0..<30 {
            let missing = state.withLock { s in s.table.reachableAddresses.contains { s.macs[$0] == nil } }
            if !missing { break }
            requestNeighbours(all: false)
            _ = waitForSignal(signals, milliseconds: 100)
            _ = refreshNeighbours()
        }
        state.withLock { s in
            for a in s.table.reachableAddresses where s.macs[a] == nil {
                Log.warning("real server \(a) does not answer ARP on \(interfaces[realInterface(a)].name): it gets no flows until it does")
            }
        }

        let publisher = SnapshotPublisher(ForwardingSnapshot(services: [], schedulingKey: config.schedulingKey))
        self.publisher = publisher
        republish()

        let kernelGuard = KernelGuard(interface: interfaces[0].name, fastDrop: options.guardTCX)
        self.kernelGuard = kernelGuard
        defer {
            kernelGuard.remove()
            Log.info("kernel guard table \(kernelGuard.table) removed")
        }
        let groOn = interfaces.map { GenericReceiveOffload.disable(on: $0.name) ?? false }
        defer { for (i, on) in groOn.enumerated() where on { GenericReceiveOffload.restore(on: interfaces[i].name) } }
        for (i, on) in groOn.enumerated() where on { Log.info("GRO turned off on \(interfaces[i].name) (restored on exit)") }

        let vips = config.vips
        let filter = try PacketFilter.forVIPs(vips)
        // A lone worker takes every frame: no fanout group, so the kernel runs no fanout
        // program per frame.
        // One group per interface; 16 ids per process leave room for the interfaces.
        let fanoutGroupBase = options.workers > 1 ? UInt16(truncatingIfNeeded: getpid() &* 16) : nil
        let mtu = interfaces.map(\.mtu).min() ?? 1500
        workers = try (0..<options.workers).map { index in
            var pipelineConfig = PipelineConfig(
                interfaceMACs: interfaces.map(\.mac), mtu: mtu,
                flowCapacity: max(1_024, config.flowCapacity / options.workers), flowHashKey: .random(),
                timeouts: config.timeouts, connections: counts, stats: stats, workerIndex: index)
            // AF_XDP frames carry no CSUMNOTREADY: tell unfinished checksums from the bytes.
            pipelineConfig.detectPartialChecksums = options.rxMode == .afXDP
            pipelineConfig.slotMemory = HugePages.slotMemory
            return try Worker(index: index, interfaces: interfaces, filter: filter, fanoutGroupBase: fanoutGroupBase,
                              fanoutProgram: FanoutProgram.build(vips: vips, workers: options.workers),
                              config: pipelineConfig, publisher: publisher, geometry: RingGeometry(format: options.ringFormat),
                              txMode: options.txMode, rxMode: options.rxMode)
        }
        // Filter, fanout program, guard and ARP for the actual sets (NAT real servers too).
        try applyAddressSets(force: true)
        let (natNow, vipsNow) = state.withLock { ($0.natReals, $0.vips) }
        Log.info("kernel guard: nftables table netdev \(kernelGuard.table) keeps the kernel from forwarding or answering "
            + "packets to \(vipsNow.map(\.description).joined(separator: ", "))"
            + (natNow.isEmpty ? "" : " and NAT replies from \(natNow.map(\.description).joined(separator: ", "))"))
        if !kernelGuard.fastDropInterfaces.isEmpty {
            Log.info("kernel guard: a tcx program on \(kernelGuard.fastDropInterfaces.joined(separator: ", ")) drops the VIPs' "
                + "frames before the nftables chain")
        } else if !options.guardTCX {
            Log.info("kernel guard: no tcx program (--no-guard-tcx); the nftables chain alone drops the VIPs' frames")
        } else if let why = kernelGuard.fastDropUnavailable {
            Log.info("kernel guard: no tcx program (\(why)); the nftables chain alone drops the VIPs' frames")
        }
        let threads = try workers.map { w in try OSThread(name: "sy-worker-\(w.index)") { w.run() } }
        defer {
            workers.forEach { $0.stop() }
            threads.forEach { $0.join() }
            Log.info("stopped; totals: " + summary())
        }

        let monitor = HealthMonitor(report: { [weak self] in self?.healthReport($0, $1, $2, $3) })
        self.monitor = monitor
        applyCheckers(initial)
        defer { monitor.stopAll() }

        let control = try ControlServer(path: options.controlPath) { [weak self] in
            self?.control($0, $1) ?? (false, "shutting down\n")
        }
        let controlThread = try OSThread(name: "sy-control") { control.run() }
        defer {
            control.stop()
            controlThread.join()
        }

        responders.forEach { $0.announce() }
        Log.info("ready: answering ARP for \(vipsNow.map(\.description).joined(separator: ", ")); control socket \(options.controlPath)")
        var seconds = 0
        while true {
            if let s = waitForSignal(signals, milliseconds: 1000) {
                if s == SIGHUP {
                    Log.info("SIGHUP: reloading \(options.configPath)")
                    _ = reload()
                    continue
                }
                Log.info("signal \(s == SIGINT ? "SIGINT" : "SIGTERM"): shutting down")
                break
            }
            seconds += 1
            if refreshNeighbours() { republish() }
            refreshLocalAddresses()
            // Ask again now and then for real servers still unknown, and refresh the others.
            if seconds % 5 == 0 { requestNeighbours(all: false) }
            if seconds % 30 == 0 { requestNeighbours(all: true) }
            if seconds % 2 == 0 { updateRates(interval: 2) }
            if options.statsInterval > 0 && seconds % options.statsInterval == 0 { Log.info("stats: " + summary()) }
        }
    }

    /// With AF_XDP, keeps the XDP program's set of this machine's addresses current, so an
    /// address added after start (or reload) keeps its traffic with the kernel.
    func refreshLocalAddresses() {
        guard options.rxMode == .afXDP else { return }
        do {
            if try workers.reduce(false, { try $1.refreshLocalAddresses() || $0 }) {
                Log.info("af_xdp: this machine's addresses changed; their traffic stays with the kernel")
            }
        } catch {
            Log.warning("af_xdp: \(error)")
        }
    }

    /// The workers' counters summed, the non-zero ones (and `forwarded` always).
    func engineCounters() -> [(String, UInt64)] {
        let counters = Counter.allCases.compactMap { c -> (String, UInt64)? in
            let total = workers.reduce(UInt64(0)) { $0 &+ $1.published[c.rawValue].load(ordering: .relaxed) }
            return total == 0 && c != .forwarded ? nil : (c.name, total)
        }
        // The kernel's copies of VIP frames that the guard's tcx program dropped.
        let guardDrops = kernelGuard?.fastDropped ?? 0
        return counters + (guardDrops > 0 ? [("guard_tcx_dropped", guardDrops)] : [])
    }

    /// The same as `name=value` pairs, for the log.
    func summary() -> String { engineCounters().map { "\($0.0)=\($0.1)" }.joined(separator: " ") }
}

extension TableChanges {
    mutating func merge(_ other: TableChanges) {
        servicesAdded += other.servicesAdded
        servicesRemoved += other.servicesRemoved
        servicesChanged += other.servicesChanged
        checkersToStart += other.checkersToStart
        checkersToStop += other.checkersToStop
        realsAdded += other.realsAdded
        realsRemoved += other.realsRemoved
        realsChanged += other.realsChanged
    }
}

