// The engine's lifecycle: what starts in which order, the 1 Hz main loop, and taking down
// everything that was set up, in reverse, also when a step fails.
import Glibc
import SwitchyardCore
import SwitchyardIO

/// A part the daemon runs beside the engine, not the engine's own (the HTTP listener).
public protocol EngineAttachment: AnyObject, Sendable {
    /// Starts it (binding its sockets); throws if it cannot.
    func start() throws
    /// Stops it gracefully, within a bound.
    func stop()
}

/// Assembles and runs the engine: interfaces, neighbours, kernel guard, ARP, workers, health
/// checks and the control socket; then waits for signals and takes down everything it set up.
/// What the engine decides lives in `ControlPlane`; this class only starts and stops parts.
public final class Engine: @unchecked Sendable {
    let options: EngineOptions
    let plan: InterfacePlan
    let parts: LiveParts
    public let plane: ControlPlane
    /// Makes a part that runs beside the engine (the HTTP listener), if the config asks for one;
    /// set before `run`.
    public var attach: ((ControlPlane) throws -> (any EngineAttachment)?)?

    public init(options: EngineOptions, config: Config) throws {
        self.options = options
        guard !config.services.isEmpty else { throw SetupError("the config has no virtual_server: nothing to forward") }
        ScriptLauncher.configure(config.scripts)
        ScriptLauncher.audit(config)
        TrackFiles.initialise(config)
        plan = try InterfacePlan(config: config, given: options.interface, routes: Route.all(), routes6: Route6.all(),
                                 ipv6Refused: options.rxMode == .afXDP
                                     ? "IPv6 virtual servers are forwarded with AF_PACKET rings only; this engine receives with AF_XDP (--io af_xdp), whose program takes IPv4" : nil)
        parts = LiveParts(interfaces: plan.interfaces, workerCount: options.workers)
        plane = ControlPlane(config: config, configPath: options.configPath, plan: plan, forwarding: parts,
                             neighbours: parts, checkers: parts, counts: ConnectionCounts(workers: options.workers),
                             stats: RealServerStats(workers: options.workers), trace: FlowTrace(workers: options.workers),
                             configID: options.configID)
    }

    var interfaces: [InterfaceInfo] { plan.interfaces }

    /// Runs until SIGINT or SIGTERM; returns after removing everything it installed.
    ///
    /// Order: everything that can fail without touching the machine first (sockets, rings,
    /// flow tables), then the machine's state (GRO, the guard), each change with its undo
    /// registered at once, so a failure at any step leaves the machine as it was.
    public func run() throws {
        let signals = blockSignals([SIGINT, SIGTERM, SIGHUP])
        let config = plane.config
        let initial = plane.loadInitialTable()
        for w in config.warnings { Log.warning(w.description) }
        let cpus = allowedCPUCount()
        if options.workers > cpus {
            Log.warning("\(options.workers) workers on \(cpus) CPU(s) this process may use: they take turns on them "
                + "and each packet costs more (give --workers \(cpus), or the process more CPUs)")
        }
        let methods = Set(config.services.map(\.method.name)).sorted().joined(separator: "+")
        Log.info("\(config.services.count) virtual service(s) (\(methods)) on "
            + interfaces.map(\.description).joined(separator: "; ") + "; \(options.workers) worker(s); receiving with "
            + "\(options.rxMode.rawValue), sending with \(options.txMode == .ring ? "a TX ring" : "sendmmsg"); "
            + (options.busyPoll > 0 ? "busy-polling \(options.busyPoll) µs after the last frame" : "no busy-polling"))

        // What a killed run of this config left behind goes first.
        let kernelGuard = KernelGuard(interface: interfaces[0].name, fastDrop: options.guardTCX)
        let recordPath = RunRecord.path(configPath: options.configPath)
        switch Leftovers.clean(record: readSmallFile(recordPath).flatMap(RunRecord.init(text:)),
                               guardTable: kernelGuard.table, machine: Leftovers.system) {
        case .clean: break
        case .cleaned(let lines):
            lines.forEach { Log.warning($0) }
            // Undone: should this start fail before it writes its own, nothing is undone twice.
            unlink(recordPath)
        case .stillRunning(let pid):
            throw SetupError("switchyard pid \(pid) is running this config already (\(recordPath)); stop it first")
        }

        parts.responders = try interfaces.map { try ARPResponder(interface: $0, vips: []) }
        let arpThreads = try parts.responders.map { r in try OSThread(name: "sy-arp") { r.run() } }
        defer {
            parts.responders.forEach { $0.stop() }
            arpThreads.forEach { $0.join() }
        }
        parts.ndResponders = try interfaces.map { try NDResponder(interface: $0) }
        let ndThreads = try parts.ndResponders.map { r in try OSThread(name: "sy-nd") { r.run() } }
        defer {
            parts.ndResponders.forEach { $0.stop() }
            ndThreads.forEach { $0.join() }
        }
        for r in parts.ndResponders where r.linkLocal == nil && config.services.contains(where: { !$0.vip.isV4 }) {
            Log.warning("\(r.interface.name) has no IPv6 link-local address yet: IPv6 real servers on it cannot be asked "
                + "for their MACs until it has one")
        }
        resolveNeighbours(signals)

        let publisher = SnapshotPublisher(ForwardingSnapshot(services: [], schedulingKey: config.schedulingKey))
        parts.publisher = publisher
        plane.republish()
        // Each worker's door for flows (connection sync, adm -Lnc): large rings only with sync.
        let exchanges = (0..<options.workers).map { _ in
            FlowExchange(capacity: config.failover.syncDaemon == nil ? 4_096 : Limits.flowRecordRing)
        }
        let hub = FlowExchangeHub(exchanges: exchanges)
        plane.listConnections = { hub.listConnections() }
        parts.workers = try makeWorkers(config, publisher: publisher, exchanges: exchanges)
        // VRRP: the VIPs an instance holds are not served until it is master here; its sockets
        // open now, so a failure stops the start before the machine is touched.
        let vrrp = try startingFailover(config)
        // Connection sync: its sockets open now too; its thread starts after VRRP's.
        let sync = try startingSync(config, hub: hub, vrrp: vrrp)
        // Bound now (served once everything runs): a daemon already answering on this socket
        // stops the start before the machine is touched.
        let control = try ControlServer(path: options.controlPath) { [weak plane = self.plane] in
            plane?.control($0, $1) ?? (false, "shutting down\n", 1)
        }

        // Bound now too (the HTTP listener): a taken port stops the start here. Stopped last,
        // so the page answers while the rest goes down.
        let attachment = try attach?(plane)
        try attachment?.start()
        defer { attachment?.stop() }

        // From here on the machine changes: write down what, so a killed run can be undone.
        // The record is written before GRO changes (naming every interface whose GRO is on now,
        // which is what may be turned off), then again with what was turned off.
        if let slash = recordPath.lastIndex(of: "/") { mkdir(String(recordPath[..<slash]), 0o700) }
        let groOn = options.gro && options.rxMode == .afPacket
            ? [] : interfaces.filter { GenericReceiveOffload.isOn($0.name) ?? false }.map(\.name)
        if !RunRecord(pid: getpid(), guardTable: kernelGuard.table, groTurnedOff: groOn).save(to: recordPath) {
            Log.warning("cannot write \(recordPath): should this run be killed, the next start cannot undo its GRO settings")
        }
        let groOff = groOn.filter { GenericReceiveOffload.disable(on: $0) ?? false }
        if groOff != groOn { RunRecord(pid: getpid(), guardTable: kernelGuard.table, groTurnedOff: groOff).save(to: recordPath) }
        defer {
            for name in groOff { GenericReceiveOffload.restore(on: name) }
            unlink(recordPath)
        }
        for name in groOff { Log.info("GRO turned off on \(name) (restored on exit)") }
        parts.kernelGuard = kernelGuard
        defer {
            kernelGuard.remove()
            Log.info("kernel guard table \(kernelGuard.table) removed")
        }
        // Filter, fanout program, guard and ARP for the actual sets (NAT real servers too).
        try plane.applyAddressSets(force: true)
        logGuard(kernelGuard, plane.appliedSets)

        let threads = try parts.workers.map { w in try OSThread(name: "sy-worker-\(w.index)") { w.run() } }
        defer {
            parts.workers.forEach { $0.stop() }
            threads.forEach { $0.join() }
            Log.info("stopped; totals: " + plane.summary())
        }

        let monitor = HealthMonitor(report: { [weak plane = self.plane] in plane?.healthReport($0, $1, $2, $3) },
                                    outcome: { [weak plane = self.plane] in plane?.recordCheck($0, $1, $2, $3) })
        parts.monitor = monitor
        plane.applyCheckers(initial)
        defer { monitor.stopAll() }

        if let vrrp {
            plane.failoverStatus = { [status = vrrp.status] in
                VRRPInstanceStatus.render(status.withLock { $0 }, now: HealthProbes.monotonicSeconds())
            }
            plane.failoverInstances = { [status = vrrp.status] in status.withLock { $0 } }
        }
        let controlThread = try OSThread(name: "sy-control") { control.run() }
        defer {
            control.stop()
            controlThread.join()
        }

        var vrrpThread: OSThread?
        if let vrrp {
            vrrpThread = try OSThread(name: "sy-vrrp") { vrrp.run() }
        }
        // Stopped first: a master hands over (priority 0) while it still forwards.
        defer {
            vrrp?.stop()
            vrrpThread?.join()
        }
        let syncThread = try sync.map { s in try OSThread(name: "sy-sync") { s.run() } }
        defer {
            sync?.stop()
            syncThread?.join()
        }

        parts.announce()
        // The VIPs that can be served get their routes now that the workers forward; withdrawn
        // first when the run ends (by `drain` on a signal, or here on any other way out).
        plane.startAnnouncing()
        defer { _ = plane.stopAnnouncing() }
        Log.info("ready: \(plane.appliedSets.arpAnswerSummary); "
            + "control socket \(options.controlPath)")
        // The workers forward from here: systemd may now call the start done.
        let notifier = SystemdNotify.shared
        notifier?.send("READY=1\nSTATUS=\(plane.statusLine())")
        if let notifier { plane.notifier.withLock { $0 = { message in _ = notifier.send(message) } } }
        mainLoop(signals, notifier: notifier)
        drain(signals, notifier: notifier)
    }

    /// Stopping: the VIP routes go first, then the engine keeps forwarding for the drain period
    /// (`switchyard_announce_drain`) while the routers move the flows to the other balancers;
    /// a second SIGTERM or SIGINT ends it early.
    func drain(_ signals: sigset_t, notifier: SystemdNotify?) {
        guard let (table, withdrawn, seconds) = plane.stopAnnouncing(), !withdrawn.isEmpty, seconds > 0 else { return }
        Log.info("draining: \(withdrawn.count) route(s) withdrawn from table \(table); forwarding \(seconds) s more while "
            + "the routers move their flows (another SIGTERM or SIGINT stops at once)")
        // systemd's stop timeout (TimeoutStopSec) is given the drain, and 10 s for the rest.
        notifier?.send("STATUS=draining for \(seconds) s\nEXTEND_TIMEOUT_USEC=\(UInt64((seconds + 10) * 1e6))")
        let end = monotonicMicroseconds() + UInt64(seconds * 1e6)
        while true {
            let now = monotonicMicroseconds()
            guard now < end else { break }
            if notifier?.watchdogSeconds != nil { notifier?.send("WATCHDOG=1") }
            let wait = Int(min(1000, (end - now + 999) / 1000))
            if let s = waitForSignal(signals, milliseconds: wait), s != SIGHUP {
                Log.info("signal \(s == SIGINT ? "SIGINT" : "SIGTERM") during the drain: stopping now")
                break
            }
        }
    }

    /// The VRRP service for the config's instances (nil without any), with the VIPs they hold
    /// left unserved until an instance is master.
    func startingFailover(_ config: Config) throws -> VRRPService? {
        let failover = config.failover
        guard !failover.instances.isEmpty else { return nil }
        let held = VRRPService.heldVIPs(failover, engineVIPs: config.allVIPs)
        try plane.setServed(held, false)
        let service = try VRRPService(config: failover, plane: plane, engineVIPs: config.allVIPs)
        Log.info("vrrp: \(failover.instances.map { "\($0.name) (VRID \($0.virtualRouterID) on \($0.interface), priority \($0.priority))" }.joined(separator: ", "))"
            + (held.isEmpty ? "" : "; \(held.map(\.description).joined(separator: ", ")) served only while master"))
        return service
    }

    /// Connection sync for the config's lvs_sync_daemon (nil without one): its sockets open now,
    /// its role follows the named vrrp_instance.
    func startingSync(_ config: Config, hub: FlowExchangeHub, vrrp: VRRPService?) throws -> SyncService? {
        guard let daemon = config.failover.syncDaemon, let vrrp else { return nil }
        let interface = try InterfaceInfo.lookup(daemon.interface)
        let transport = try SyncSocketTransport(config: daemon, interface: interface)
        var auth: SyncAuth?
        if let key = daemon.authKey {
            guard let a = SyncAuth(key: key) else { throw SetupError("switchyard_sync_auth_key is too short") }
            auth = a
        }
        let instance = daemon.instance
        let workers = options.workers
        let service = SyncService(
            config: daemon, syncID: daemon.syncID ?? 0, hub: hub, transport: transport,
            isMaster: { [status = vrrp.status] in status.withLock { $0.first { $0.name == instance }?.state == .master } },
            generation: { [weak plane = self.plane] in plane?.tableGeneration ?? 0 },
            directory: { [weak plane = self.plane] in plane?.syncDirectory(workers: workers) ?? (SyncDirectory(), 0) },
            auth: auth, refreshSeconds: options.syncRefresh)
        plane.syncStatus = { [statistics = service.statistics] in SyncStatus.render(statistics.withLock { $0 }) }
        vrrp.preemptionHold = { [service] in service.holdsPreemption }
        return service
    }

    /// The real servers' MACs before the first snapshot: the kernel's tables first, then ask,
    /// for up to 3 s.
    func resolveNeighbours(_ signals: sigset_t) {
        _ = plane.refreshNeighbours()
        for _ in 0..<30 {
            if plane.unresolvedNeighbours.isEmpty { break }
            plane.requestNeighbours(all: false)
            _ = waitForSignal(signals, milliseconds: 100)
            _ = plane.refreshNeighbours()
        }
        for a in plane.unresolvedNeighbours {
            Log.warning("real server \(a) does not answer \(a.isV4 ? "ARP" : "neighbour solicitations") on \(interfaces[plan.realInterface(a)].name): it gets no flows until it does")
        }
    }

    /// The workers with their rings and flow tables, before any of them runs.
    func makeWorkers(_ config: Config, publisher: SnapshotPublisher, exchanges: [FlowExchange]) throws -> [Worker] {
        let vips = config.vips.map(IPAddressBits.init) + config.vips6
        let filter = try PacketFilter.forVIPs(vips)
        // A lone worker takes every frame: no fanout group, so the kernel runs no fanout
        // program per frame. One group per interface; 16 ids per process leave room for the
        // interfaces.
        let fanoutGroupBase = options.workers > 1 ? UInt16(truncatingIfNeeded: getpid() &* 16) : nil
        let mtu = interfaces.map(\.mtu).min() ?? 1500
        return try (0..<options.workers).map { index in
            var pipelineConfig = PipelineConfig(
                interfaceMACs: interfaces.map(\.mac), mtu: mtu,
                flowCapacity: max(1_024, config.flowCapacity / options.workers), flowHashKey: .random(),
                timeouts: config.timeouts, connections: plane.counts, stats: plane.stats, workerIndex: index)
            // AF_XDP frames carry no CSUMNOTREADY: tell unfinished checksums from the bytes.
            pipelineConfig.detectPartialChecksums = options.rxMode == .afXDP
            pipelineConfig.trace = plane.trace
            pipelineConfig.exchange = exchanges[index]
            // The flow tables' memory is mapped now, so a refusal is an error before the machine changes.
            pipelineConfig.slotMemory = try HugePages.slotMemory(for: pipelineConfig)
            return try Worker(index: index, interfaces: interfaces, filter: filter, fanoutGroupBase: fanoutGroupBase,
                              fanoutProgram: FanoutProgram.build(vips: vips, workers: options.workers),
                              config: pipelineConfig, publisher: publisher, geometry: RingGeometry(format: options.ringFormat),
                              txMode: options.txMode, rxMode: options.rxMode, busyPollMicroseconds: options.busyPoll)
        }
    }

    func logGuard(_ kernelGuard: KernelGuard, _ sets: AddressSets) {
        let nat = sets.natReals
        Log.info("kernel guard: nftables table netdev \(kernelGuard.table) keeps the kernel from forwarding or answering "
            + "packets to \(sets.vips.map(\.description).joined(separator: ", "))"
            + (nat.isEmpty ? "" : " and NAT replies from \(nat.map(\.description).joined(separator: ", "))"))
        if !kernelGuard.fastDropInterfaces.isEmpty {
            Log.info("kernel guard: a tcx program on \(kernelGuard.fastDropInterfaces.joined(separator: ", ")) drops the IPv4 VIPs' "
                + "frames before the nftables chain")
        } else if !options.guardTCX {
            Log.info("kernel guard: no tcx program (--no-guard-tcx); the nftables chain alone drops the VIPs' frames")
        } else if let why = kernelGuard.fastDropUnavailable {
            Log.info("kernel guard: no tcx program (\(why)); the nftables chain alone drops the VIPs' frames")
        }
    }

    /// Once a second the chores that are due; SIGHUP reloads; SIGINT and SIGTERM return. Under
    /// systemd it also pings the watchdog (twice per WatchdogSec; the loop's 1 s tick wants a
    /// WatchdogSec of 2 s or more) and keeps STATUS= current.
    func mainLoop(_ signals: sigset_t, notifier: SystemdNotify?) {
        var second = 0
        var lastPing = monotonicMicroseconds()
        var lastStatus = ""
        while true {
            if let watchdog = notifier?.watchdogSeconds,
               Double(monotonicMicroseconds() - lastPing) >= watchdog * 1e6 / 2 {
                notifier?.send("WATCHDOG=1")
                lastPing = monotonicMicroseconds()
            }
            if let s = waitForSignal(signals, milliseconds: 1000) {
                if s == SIGHUP {
                    Log.info("SIGHUP: reloading \(options.configPath)")
                    _ = plane.reload()
                    continue
                }
                Log.info("signal \(s == SIGINT ? "SIGINT" : "SIGTERM"): shutting down")
                notifier?.send("STOPPING=1\nSTATUS=stopping")
                return
            }
            if let notifier {
                let status = plane.statusLine()
                if status != lastStatus, notifier.send("STATUS=" + status) { lastStatus = status }
            }
            second += 1
            let due = Housekeeping.chores(at: second, statsInterval: options.statsInterval)
            if due.contains(.refreshNeighbours), plane.refreshNeighbours() { plane.republish() }
            if due.contains(.refreshLocalAddresses) { refreshLocalAddresses() }
            // Ask again now and then for real servers still unknown, and refresh the others.
            if due.contains(.requestMissingNeighbours) { plane.requestNeighbours(all: false) }
            if due.contains(.requestAllNeighbours) { plane.requestNeighbours(all: true) }
            if due.contains(.updateRates) { plane.updateRates(interval: Double(Housekeeping.rateInterval)) }
            if due.contains(.logStats) { Log.info("stats: " + plane.summary()) }
            if due.contains(.readTrace) { plane.logTrace() }
            if due.contains(.verifyAnnouncements) { plane.announcer.verify() }
            // Every second: a route change that failed is tried again (and a verified loss put back).
            plane.refreshAnnouncements()
        }
    }

    /// With AF_XDP, keeps the XDP program's set of this machine's addresses current, so an
    /// address added after start (or reload) keeps its traffic with the kernel.
    func refreshLocalAddresses() {
        guard options.rxMode == .afXDP else { return }
        do {
            if try parts.refreshLocalAddresses() {
                Log.info("af_xdp: this machine's addresses changed; their traffic stays with the kernel")
            }
        } catch {
            Log.warning("af_xdp: \(error)")
        }
    }
}
