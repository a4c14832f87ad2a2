// The control plane's state (the running table, the config, the real servers' MACs) and the
// one path every table change takes to the data plane: checkers, address sets, neighbours,
// snapshot. The rooms beside it (adm, health, neighbours, statistics) are extensions of this
// class in files of their own; the I/O behind them is reached through the ports only.
import SwitchyardCore
import SwitchyardIO
import Synchronization

/// The control plane of one engine. Called from the control socket's thread (adm), the
/// checkers' loop (health reports) and the main thread (timer, SIGHUP); its state is behind one
/// lock, table changes (reload, adm) are applied one at a time, and snapshots are built and
/// handed to the workers under the state lock, so they reach them in the order they were made.
public final class ControlPlane: @unchecked Sendable {
    let plan: InterfacePlan
    let configPath: String
    /// The config id a reload reads the config with, as the start did (--config-id).
    let configID: String?
    let forwarding: any ForwardingPort
    let neighbours: any NeighbourPort
    let checkers: any CheckerPort
    let scripts: any ScriptPort
    /// Shared with the workers: active/inactive connections and traffic per real server ID.
    let counts: ConnectionCounts
    let stats: RealServerStats
    /// The workers' trace rings (adm --trace), read by this side alone.
    let trace: FlowTrace

    struct State {
        var table = ServiceTable()
        var config: Config
        var macs: [IPAddressBits: MACAddress] = [:]
        var generation: UInt64 = 0
        /// The address sets the I/O parts were last brought in line with.
        var applied: AddressSets?
        var targets: [UInt32: HealthMonitor.Target] = [:]
        var rates: [UInt32: Rates] = [:]
        var lastTotals: [UInt32: RealNumbers] = [:]
        /// The client whose packets the workers trace (adm --trace).
        var traceClient: IPv4Address?
        /// VIPs another box serves now (their VRRP instance is not master here): no ARP answers,
        /// no forwarding, and the guard still keeps the kernel off them.
        var standby: Set<IPAddressBits> = []
        /// Whether the last reload (SIGHUP or adm --reload) took; true until one is refused.
        var lastReloadTook = true
        /// Each real server's last finished check and last change of state (the status page).
        var lastChecks: [UInt32: StatusModel.Check] = [:]
        var lastChanges: [UInt32: Double] = [:]
        /// The snapshot last handed to the workers (adm --fingerprint reads its tables).
        var snapshot: ForwardingSnapshot?
    }
    let state: Locked<State>
    /// Serialises table changes (an adm command and a SIGHUP reload at once): each one's
    /// checkers, address sets and snapshot go out whole before the next starts.
    let changing = Locked(())
    /// Health checks done since the start, by result (the metrics).
    let checksSucceeded = Atomic<UInt64>(0)
    let checksFailed = Atomic<UInt64>(0)
    /// The VIP routes kept for a routing daemon (global_defs `switchyard_announce_table`).
    let announcer: Announcer
    /// Unix seconds now (the status page's times); tests set their own.
    public var wallClock: @Sendable () -> Double = ControlPlane.unixSeconds

    public init(config: Config, configPath: String, plan: InterfacePlan, forwarding: any ForwardingPort,
                neighbours: any NeighbourPort, checkers: any CheckerPort, scripts: any ScriptPort = ShellScripts(),
                counts: ConnectionCounts, stats: RealServerStats, trace: FlowTrace, configID: String? = nil,
                routes: @escaping () throws -> any RoutePort = { try AnnounceLink() }) {
        self.plan = plan
        self.configPath = configPath
        self.configID = configID
        self.forwarding = forwarding
        self.neighbours = neighbours
        self.checkers = checkers
        self.scripts = scripts
        self.counts = counts
        self.stats = stats
        self.trace = trace
        announcer = Announcer(makePort: routes)
        state = Locked(State(config: config))
    }

    /// The running config (its settings; the services are the table's).
    public var config: Config { state.withLock { $0.config } }

    /// Loads the config the engine started with into the table. Returns what changed (all of
    /// it), for `start`.
    func loadInitialTable() -> TableChanges {
        state.withLock { s in s.table.apply(s.config) }
    }

    // MARK: the one path after a table change

    /// After a table change (reload, adm, restore): checkers, address sets, neighbours,
    /// snapshot. Returns adm's answer.
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

    /// Builds and publishes a snapshot of the current table.
    func republish() {
        // Built and handed over under the lock: republish is called from the checkers' loop, the
        // control socket and the main loop at once, and a snapshot handed over after a newer one
        // would stay in force. (Workers take only the publisher's own lock: no inversion.)
        state.withLock { s in
            s.generation += 1
            let macs = s.macs
            let standby = s.standby
            // Standby VIPs' services stay in for their real servers (synced flows are bound to
            // them) but are not served.
            let specs = s.table.specs(mac: { macs[$0] }, interface: { UInt8(self.plan.realInterface($0)) })
            let snapshot = ForwardingSnapshot(services: specs, schedulingKey: s.config.schedulingKey,
                                              maglevTableSize: s.config.maglevTableSize, generation: s.generation,
                                              timeouts: s.table.timeouts, traceClient: s.traceClient,
                                              unserved: standby)
            Log.debug("snapshot \(snapshot.generation): \(snapshot.services.count) service(s) (\(standby.count) VIP(s) on standby), "
                + "\(snapshot.services.reduce(0) { $0 + $1.reals.count }) real server(s), "
                + "\(snapshot.services.reduce(0) { $0 + $1.reals.filter { $0.available && $0.mac != nil && $0.weight > 0 }.count }) taking new flows")
            forwarding.publish(snapshot)
            s.snapshot = snapshot
        }
        refreshAnnouncements()
    }

    /// The address sets the table asks for now. Worked out under the lock: a copy of the table
    /// read outside it would share storage that the lock's next holder may change in place
    /// (the runtime orders that, ThreadSanitizer cannot see it; see `control`).
    func addressSets() throws -> AddressSets {
        try state.withLock { s in
            let services = s.table.services
            var sets = AddressSets()
            sets.vips = Array(Set(services.map(\.config.vip))).sorted()
            let v6 = sets.vips.filter { !$0.isV4 }.count
            if let tooMany = FanoutProgram.limitError(v4: sets.vips.count - v6, v6: v6) { throw SetupError(tooMany) }
            sets.natEndpoints = Array(Set(services.filter { $0.config.method == .nat }.flatMap { svc in
                svc.reals.map { KernelGuard.Endpoint(address: $0.config.address, proto: svc.config.proto, port: $0.config.port) }
            })).sorted()
            sets.answered = sets.vips.filter { !s.standby.contains($0) }
            for vip in sets.vips { sets.vipInterface[vip] = try plan.number(for: vip, vip: true) }
            for a in sets.natReals { sets.natInterface[a] = plan.realInterface(a) }
            (sets.clientMask, sets.clientPrefix6) = s.table.clientSplit
            return sets
        }
    }

    /// Brings the I/O parts in line with the table's address sets, when they changed (or
    /// always, with `force`). Recorded as applied only once the parts took them, so a failed
    /// change is tried again by the next one.
    func applyAddressSets(force: Bool = false) throws {
        let sets = try addressSets()
        guard force || state.withLock({ $0.applied != sets }) else { return }
        Log.debug("address sets: VIPs \(sets.vips.map { "\($0) on \(plan.interfaces[sets.vipInterface[$0] ?? 0].name)" }), "
            + "NAT endpoints \(sets.natEndpoints.map { "\($0.address.withPort($0.port))" }), fanout client mask \(IPv4Address(sets.clientMask))")
        try forwarding.apply(sets)
        state.withLock { $0.applied = sets }
    }

    /// The VRRP service's instances for `adm --vrrp` (set once at start, before the control
    /// socket serves).
    var failoverStatus: (@Sendable () -> String)?
    /// The same instances as data, for the metrics.
    var failoverInstances: (@Sendable () -> [VRRPInstanceStatus])?
    /// Every worker's connections (adm -Lnc), set by the engine once the workers exist; nil
    /// result: the workers did not answer in time.
    var listConnections: (@Sendable () -> [FlowRecord]?)?
    /// Connection sync's counters for `adm --sync` (set at start when lvs_sync_daemon is configured).
    var syncStatus: (@Sendable () -> String)?
    /// Tells the service manager (systemd's sd_notify) about reloads; nil when none listens.
    /// Set once the engine forwards, while the control socket may already be reloading: locked.
    let notifier = Locked<(@Sendable (String) -> Void)?>(nil)
    func notify(_ message: String) { notifier.withLock { $0 }?(message) }

    /// Serves `vips` (this box became VRRP master for them) or stops serving them (backup,
    /// fault, stop): ARP answers and forwarding follow at once; the guard keeps the kernel off
    /// them either way. VIPs not named keep their state.
    public func setServed(_ vips: [IPAddressBits], _ served: Bool) throws {
        try changing.withLock { _ in
            let changed = state.withLock { s -> Bool in
                let before = s.standby
                if served { s.standby.subtract(vips) } else { s.standby.formUnion(vips) }
                return before != s.standby
            }
            guard changed else { return }
            Log.info("\(served ? "serving" : "not serving") \(vips.map(\.description).joined(separator: ", "))")
            // Taking over: forward first, then answer ARP (the announcement draws the clients'
            // packets at once). Giving up: the other way round.
            if served {
                republish()
                try applyAddressSets()
            } else {
                try applyAddressSets()
                republish()
            }
        }
    }

    /// The sets last applied (empty before start).
    var appliedSets: AddressSets { state.withLock { $0.applied ?? AddressSets() } }
}
