// The running configuration: services and real servers with stable IDs, their health and
// quorum, what a reload changes, and the specs every forwarding snapshot is built from.
import SwitchyardCore

/// A virtual service's identity, as ipvsadm names it: protocol, VIP, port.
public struct ServiceKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var proto: UInt8
    public var vip: IPAddressBits
    public var port: UInt16

    public init(proto: UInt8, vip: IPAddressBits, port: UInt16) {
        self.proto = proto
        self.vip = vip
        self.port = port
    }

    public var protocolName: String { proto == IPProtocol.udp ? "UDP" : "TCP" }
    public var description: String { "\(protocolName) \(vip.withPort(port))" }
    public static func < (a: ServiceKey, b: ServiceKey) -> Bool {
        (a.vip, a.port, a.proto) < (b.vip, b.port, b.proto)
    }
}

extension VirtualServiceConfig {
    public var key: ServiceKey { ServiceKey(proto: proto, vip: vip, port: port) }
}

/// A real server in the running state: its config, stable ID, and what each checker says.
public struct RealState: Sendable, Equatable {
    public var config: RealServerConfig
    public var id: UInt32
    public var checkersUp: [Bool]
    /// The weight a MISC_CHECK with misc_dynamic set (nil: the configured weight).
    public var dynamicWeight: Int? = nil
    /// Up when every checker says so (no checkers: always).
    public var up: Bool { checkersUp.allSatisfy { $0 } }
    /// The weight in force: misc_dynamic's, else the configured one (ipvsadm -L shows this one).
    public var weight: Int { dynamicWeight ?? config.weight }
}

/// A virtual service in the running state.
public struct ServiceState: Sendable, Equatable {
    /// The service's settings (its `reals` field is not used: `reals` below is).
    public var config: VirtualServiceConfig
    public var id: UInt32
    public var reals: [RealState]
    /// The ID the sorry server uses while it stands in.
    public var sorryID: UInt32
    /// Whether the alive weight is at the quorum (with hysteresis); false = sorry server time.
    public var quorumUp: Bool
    public var key: ServiceKey { config.key }
    /// The weight of the real servers that are up.
    public var aliveWeight: Int { reals.filter(\.up).reduce(0) { $0 + $1.weight } }
}

/// What a reload or an adm command changed, for the log and for the checkers.
public struct TableChanges: Sendable, Equatable {
    public var servicesAdded: [ServiceKey] = []
    public var servicesRemoved: [ServiceKey] = []
    public var servicesChanged: [ServiceKey] = []
    /// Real servers whose checkers must start (new, or checkers changed) or stop.
    public var checkersToStart: [UInt32] = []
    public var checkersToStop: [UInt32] = []
    public var realsAdded = 0
    public var realsRemoved = 0
    public var realsChanged = 0

    public var isEmpty: Bool { self == TableChanges() }
    public var summary: String {
        "services +\(servicesAdded.count) -\(servicesRemoved.count) ~\(servicesChanged.count), "
            + "real servers +\(realsAdded) -\(realsRemoved) ~\(realsChanged)"
    }
}

/// An error from an adm command, in ipvsadm's manner.
public struct AdmError: Error, Equatable, CustomStringConvertible, Sendable {
    public var description: String
    /// The status `switchyard adm` exits with, as ipvsadm's for the same error: 2 for what its
    /// parser refuses, 255 for what the kernel refuses, 1 for a listing of a missing service.
    public var exitStatus: Int32
    public init(_ description: String, exitStatus: Int32 = 1) {
        self.description = description
        self.exitStatus = exitStatus
    }
}

/// The running configuration: what `switchyard adm` edits, what a reload replaces, what the
/// health checks mark up and down, and what every forwarding snapshot is built from. IDs are
/// stable: a service or real server that stays keeps its ID (so its flows, counters and
/// health stay with it); a new one gets an ID not used recently.
public struct ServiceTable: Sendable, Equatable {
    public internal(set) var services: [ServiceState] = []
    public var timeouts = FlowTimeouts()
    var nextServiceID: UInt32 = 0
    var nextRealID: UInt32 = 0
    var freedServiceIDs: [UInt32] = []
    var freedRealIDs: [UInt32] = []

    public init() {}

    // MARK: IDs

    mutating func newServiceID() -> UInt32 {
        if nextServiceID < UInt32(Limits.maxServices) {
            defer { nextServiceID += 1 }
            return nextServiceID
        }
        precondition(!freedServiceIDs.isEmpty, "more than \(Limits.maxServices) services")
        return freedServiceIDs.removeFirst()
    }

    /// New real server IDs count up and are reused, oldest freed first, only when the range is
    /// used up: a flow left on a removed real server cannot land on a newcomer by its ID.
    mutating func newRealID() -> UInt32 {
        if nextRealID < UInt32(Limits.maxReals) {
            defer { nextRealID += 1 }
            return nextRealID
        }
        precondition(!freedRealIDs.isEmpty, "more than \(Limits.maxReals) real servers")
        return freedRealIDs.removeFirst()
    }

    func index(of key: ServiceKey) -> Int? { services.firstIndex { $0.key == key } }

    public func service(_ key: ServiceKey) -> ServiceState? { index(of: key).map { services[$0] } }

    /// How the fanout program splits clients between workers, and so where connection sync
    /// installs a client's flows: persistent services keep a client network on one worker,
    /// where its template lives (the IPv4 ones' masks together, the IPv6 ones' shortest prefix).
    var clientSplit: (mask: UInt32, prefix6: Int) {
        let persistent = services.filter { $0.config.persistenceTimeout > 0 }
        return (persistent.filter(\.config.vip.isV4).reduce(UInt32.max) { $0 & $1.config.persistenceMask },
                persistent.filter { !$0.config.vip.isV4 }.map(\.config.persistencePrefixLength).min() ?? 128)
    }

    // MARK: config

    /// Replaces the table with a config's services, keeping the IDs and health of everything
    /// that stays. Returns what changed.
    @discardableResult
    public mutating func apply(_ config: Config) -> TableChanges {
        var changes = TableChanges()
        var next: [ServiceState] = []
        for s in config.services {
            if let old = service(s.key) {
                var state = old
                var settings = s
                settings.reals = []
                var oldSettings = old.config
                oldSettings.reals = []
                oldSettings.location = settings.location
                if oldSettings != settings { changes.servicesChanged.append(s.key) }
                state.config = settings
                state.reals = s.reals.map { r in
                    if let before = old.reals.first(where: { $0.config.address == r.address && $0.config.port == r.port }) {
                        var kept = before
                        var a = before.config
                        a.location = r.location
                        a.checkers = zip(a.checkers, r.checkers).map { old, new in
                            var moved = old
                            moved.location = new.location
                            return moved
                        } + a.checkers.dropFirst(r.checkers.count)
                        if a != r { changes.realsChanged += 1 }
                        // Where the lines stand is no change: only what the checkers do is.
                        if a.checkers != r.checkers || before.config.inhibitOnFailure != r.inhibitOnFailure {
                            kept.checkersUp = r.checkers.map { _ in !s.alpha }
                            changes.checkersToStart.append(kept.id)
                        }
                        kept.config = r
                        return kept
                    }
                    changes.realsAdded += 1
                    let id = newRealID()
                    if !r.checkers.isEmpty { changes.checkersToStart.append(id) }
                    return RealState(config: r, id: id, checkersUp: r.checkers.map { _ in !s.alpha })
                }
                for gone in old.reals where !state.reals.contains(where: { $0.id == gone.id }) {
                    changes.realsRemoved += 1
                    changes.checkersToStop.append(gone.id)
                    freedRealIDs.append(gone.id)
                }
                next.append(state)
            } else {
                changes.servicesAdded.append(s.key)
                next.append(newService(s, &changes))
            }
        }
        for old in services where !next.contains(where: { $0.key == old.key }) {
            changes.servicesRemoved.append(old.key)
            release(old, &changes)
        }
        services = next
        timeouts = config.timeouts
        _ = updateQuorum()
        return changes
    }

    mutating func newService(_ s: VirtualServiceConfig, _ changes: inout TableChanges) -> ServiceState {
        var settings = s
        settings.reals = []
        let reals = s.reals.map { r -> RealState in
            let id = newRealID()
            changes.realsAdded += 1
            if !r.checkers.isEmpty { changes.checkersToStart.append(id) }
            return RealState(config: r, id: id, checkersUp: r.checkers.map { _ in !s.alpha })
        }
        var state = ServiceState(config: settings, id: newServiceID(), reals: reals, sorryID: newRealID(), quorumUp: true)
        state.quorumUp = state.aliveWeight >= state.config.quorum
        return state
    }

    mutating func release(_ s: ServiceState, _ changes: inout TableChanges) {
        for r in s.reals {
            changes.realsRemoved += 1
            changes.checkersToStop.append(r.id)
            freedRealIDs.append(r.id)
        }
        freedRealIDs.append(s.sorryID)
        freedServiceIDs.append(s.id)
    }

    // MARK: health

    /// Records a checker's verdict (and the weight an up verdict of misc_dynamic sets: nil for
    /// the configured one); returns the service and real server it concerns, and whether the real
    /// server as a whole changed state.
    public mutating func setChecker(realID: UInt32, index: Int, up: Bool, weight: Int? = nil) -> (ServiceKey, RealState, changed: Bool)? {
        for si in services.indices {
            guard let ri = services[si].reals.firstIndex(where: { $0.id == realID }),
                  index < services[si].reals[ri].checkersUp.count else { continue }
            let before = services[si].reals[ri].up
            services[si].reals[ri].checkersUp[index] = up
            if up { services[si].reals[ri].dynamicWeight = weight }
            let real = services[si].reals[ri]
            return (services[si].key, real, before != real.up)
        }
        return nil
    }

    /// Re-evaluates every service's quorum (keepalived: lost below quorum − hysteresis, regained
    /// at quorum + hysteresis); returns the services whose quorum changed, with the new state.
    public mutating func updateQuorum() -> [(ServiceKey, Bool)] {
        var changed: [(ServiceKey, Bool)] = []
        for i in services.indices {
            let s = services[i]
            let alive = s.aliveWeight
            let q = s.config.quorum
            let h = s.config.hysteresis
            if s.quorumUp && alive < q - h {
                services[i].quorumUp = false
                changed.append((s.key, false))
            } else if !s.quorumUp && alive >= q + h {
                services[i].quorumUp = true
                changed.append((s.key, true))
            }
        }
        return changed
    }

    // MARK: snapshot

    /// Every address the engine must reach on-link (by ARP or neighbour discovery): real
    /// servers and sorry servers, IPv4 first.
    public var reachableAddresses: [IPAddressBits] {
        Array(Set(services.flatMap { s in
            s.reals.map(\.config.address) + (s.config.sorryServer.map { [$0.address] } ?? [])
        })).sorted()
    }

    /// The services as the data plane sees them. A real server that is down is marked
    /// unavailable (its flows move on their next packet); while a service has lost its quorum,
    /// its sorry server (if any) is the one server that takes new flows.
    public func specs(mac: (IPAddressBits) -> MACAddress?, interface: (IPAddressBits) -> UInt8) -> [ServiceSpec] {
        services.map { s in
            var reals = s.reals.map { r in
                RealServerSpec(id: r.id, address: r.config.address, port: r.config.port, weight: r.weight,
                               mac: mac(r.config.address), interface: interface(r.config.address),
                               available: r.up && (s.quorumUp || s.config.sorryServer == nil))
            }
            if !s.quorumUp, let sorry = s.config.sorryServer {
                reals.append(RealServerSpec(id: s.sorryID, address: sorry.address, port: sorry.port, weight: 1,
                                            mac: mac(sorry.address), interface: interface(sorry.address)))
            }
            return ServiceSpec(id: s.id, proto: s.config.proto, vip: s.config.vip, port: s.config.port,
                               scheduler: s.config.scheduler, method: s.config.method,
                               persistenceTimeout: s.config.persistenceTimeout,
                               persistenceMask: s.config.vip.isV4 ? .v4Mask(s.config.persistenceMask)
                                   : .prefixMask(s.config.persistencePrefixLength),
                               reals: reals)
        }
    }
}
