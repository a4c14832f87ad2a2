// What the workers forward by: an immutable snapshot of services, real servers and lookup
// tables, built by the control plane and published whole (the RCU idea). A worker reads it
// through a SnapshotView of plain pointers, so the hot path does no reference counting.

/// Schedulers, named as ipvsadm names them.
public enum SchedulerKind: UInt8, Sendable, CaseIterable {
    case maglev = 0, roundRobin, weightedRoundRobin, sourceHash
    case leastConnection, weightedLeastConnection, shortestExpectedDelay, neverQueue

    /// The ipvsadm / keepalived name.
    public var name: String {
        switch self {
        case .maglev: "mh"
        case .roundRobin: "rr"
        case .weightedRoundRobin: "wrr"
        case .sourceHash: "sh"
        case .leastConnection: "lc"
        case .weightedLeastConnection: "wlc"
        case .shortestExpectedDelay: "sed"
        case .neverQueue: "nq"
        }
    }

    public init?(name: String) {
        guard let k = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }

    /// Whether the scheduler reads a consistent-hash table.
    var usesTable: Bool { self == .maglev || self == .sourceHash }
}

/// How packets reach a real server (ipvsadm -g, -m).
public enum ForwardingMethod: UInt8, Sendable {
    /// Direct server return: only the MACs change.
    case dr = 0
    /// NAT: destination address and port rewritten in, source rewritten back out.
    case nat = 1

    /// The keepalived / ipvsadm -L name.
    public var name: String { self == .dr ? "DR" : "NAT" }
}

/// A real server as the control plane describes it.
public struct RealServerSpec: Sendable, Equatable {
    /// Stable across snapshots while the real server stays in its service; dense (< some bound).
    public var id: UInt32
    /// Either family (an IPv4 address mapped); the same family as its service's VIP.
    public var address: IPAddressBits
    public var port: UInt16
    public var weight: Int
    /// The next-hop MAC; nil while unresolved (the real server then takes no new flows).
    public var mac: MACAddress?
    /// The local interface (engine numbering) the real server is reached through.
    public var interface: UInt8
    /// False while health checks say it is down: it gets no new flows, and its flows are
    /// scheduled again on their next packet (unlike weight 0, which keeps them).
    public var available: Bool

    public init(id: UInt32, address: IPAddressBits, port: UInt16, weight: Int, mac: MACAddress?, interface: UInt8 = 0,
                available: Bool = true) {
        precondition(Int(id) < Limits.maxReals, "real server ids must be below \(Limits.maxReals)")
        self.id = id
        self.address = address
        self.port = port
        self.weight = weight
        self.mac = mac
        self.interface = interface
        self.available = available
    }

    /// An IPv4 real server.
    public init(id: UInt32, address: IPv4Address, port: UInt16, weight: Int, mac: MACAddress?, interface: UInt8 = 0,
                available: Bool = true) {
        self.init(id: id, address: IPAddressBits(v4: address.value), port: port, weight: weight, mac: mac,
                  interface: interface, available: available)
    }
}

/// A virtual service as the control plane describes it.
public struct ServiceSpec: Sendable, Equatable {
    /// Stable across snapshots; indexes per-worker scheduler state (< Limits.maxServices).
    public var id: UInt32
    public var proto: UInt8
    /// Either family (an IPv4 address mapped).
    public var vip: IPAddressBits
    public var port: UInt16
    public var scheduler: SchedulerKind
    public var method: ForwardingMethod
    /// ipvsadm -p: seconds a client stays with its real server across connections (0 = off).
    public var persistenceTimeout: Int
    /// ipvsadm -M: clients within this mask count as one for persistence (an IPv4 netmask
    /// mapped, or an IPv6 prefix's mask).
    public var persistenceMask: IPAddressBits
    public var reals: [RealServerSpec]

    public init(id: UInt32, proto: UInt8, vip: IPAddressBits, port: UInt16, scheduler: SchedulerKind,
                method: ForwardingMethod = .dr, persistenceTimeout: Int = 0, persistenceMask: IPAddressBits,
                reals: [RealServerSpec]) {
        self.id = id
        self.proto = proto
        self.vip = vip
        self.port = port
        self.scheduler = scheduler
        self.method = method
        self.persistenceTimeout = persistenceTimeout
        self.persistenceMask = persistenceMask
        self.reals = reals
    }

    /// An IPv4 service (`persistenceMask`: an IPv4 netmask).
    public init(id: UInt32, proto: UInt8, vip: IPv4Address, port: UInt16, scheduler: SchedulerKind,
                method: ForwardingMethod = .dr, persistenceTimeout: Int = 0, persistenceMask: UInt32 = 0xFFFF_FFFF,
                reals: [RealServerSpec]) {
        self.init(id: id, proto: proto, vip: IPAddressBits(v4: vip.value), port: port, scheduler: scheduler,
                  method: method, persistenceTimeout: persistenceTimeout, persistenceMask: .v4Mask(persistenceMask),
                  reals: reals)
    }
}

/// A service in the snapshot: trivial, fixed layout.
public struct ServiceEntry: Sendable {
    public var vip: IPAddressBits
    public var port: UInt16
    public var proto: UInt8
    public var scheduler: SchedulerKind
    public var method: ForwardingMethod
    public var id: UInt32
    /// Persistence: milliseconds (0 = off) and the client netmask (an IPv4 one mapped, or an
    /// IPv6 prefix).
    public var persistenceTimeout: UInt32
    public var persistenceMask: IPAddressBits
    /// This service's real server IDs: memberIDs[membersStart ..< membersStart + membersCount].
    public var membersStart: Int32
    public var membersCount: Int32
    /// Its Maglev table: tables[tableStart ..< tableStart + tableSize] (mh and sh only).
    public var tableStart: Int32
    public var tableSize: Int32
    /// For wrr: the largest usable weight and the gcd of the usable weights.
    public var maxWeight: Int32
    public var weightGCD: Int32
}

/// A real server in the snapshot, indexed by its ID.
public struct RealServerEntry: Sendable {
    public var address: IPAddressBits
    public var port: UInt16
    /// Bit 0: present in this snapshot; bit 1: MAC known; bit 2: up (health checks).
    public var flags: UInt8
    /// The local interface it is reached through.
    public var interface: UInt8
    /// The weight that schedulers use: the configured weight, or 0 while the MAC is unknown.
    public var weight: Int32
    public var serviceID: UInt32
    public var mac: UInt64

    public var isPresent: Bool { flags & 1 != 0 }
    public var hasMAC: Bool { flags & 2 != 0 }
    /// Present, reachable and up: its flows may stay on it.
    public var canKeepFlows: Bool { flags & 7 == 7 }
}

/// The worker's view of a snapshot: plain pointers, no reference counting.
public struct SnapshotView: @unchecked Sendable {
    public let services: UnsafePointer<ServiceEntry>
    public let serviceCount: Int
    /// Open-addressed index from (proto, VIP, port) to services; -1 = empty.
    let serviceSlots: UnsafePointer<Int32>
    let serviceMask: Int
    /// Whether any service uses NAT (replies then need a reverse lookup).
    public let hasNAT: Bool
    /// Open-addressed VIP set; the zero address = empty (never a VIP).
    let vipSlots: UnsafePointer<IPAddressBits>
    let vipMask: Int
    public let reals: UnsafePointer<RealServerEntry>
    public let realCount: Int
    /// Index into `services` by service ID (-1: none), for NAT replies that know only their real server.
    let serviceByID: UnsafePointer<Int32>
    let memberIDs: UnsafePointer<UInt32>
    let tables: UnsafePointer<Int32>
    /// The stable key of the scheduling hash.
    public let schedulingKey: HashKey
    /// The client whose packets the workers trace (FlowTrace.swift), as `PacketInfo` holds an
    /// address; 0 = none.
    public let traceClient: UInt32

    @inline(__always)
    static func serviceHash(_ proto: UInt8, _ vip: IPAddressBits, _ port: UInt16) -> Int {
        let mixed = (UInt64(proto) << 48 | UInt64(port) << 32) ^ vip.low ^ (vip.high &* 0xC2B2_AE3D_27D4_EB4F)
        let x = mixed &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: x >> 32)
    }

    /// The service for (proto, VIP, port), or nil.
    @inline(__always)
    public func service(proto: UInt8, vip: IPAddressBits, port: UInt16) -> UnsafePointer<ServiceEntry>? {
        var i = Self.serviceHash(proto, vip, port) & serviceMask
        while true {
            let s = serviceSlots[i]
            if s < 0 { return nil }
            let e = services + Int(s)
            if e.pointee.vip == vip && e.pointee.port == port && e.pointee.proto == proto { return e }
            i = (i + 1) & serviceMask
        }
    }

    /// Whether `address` is a VIP of any service.
    @inline(__always)
    public func isVIP(_ address: IPAddressBits) -> Bool {
        var i = Self.serviceHash(0, address, 0) & vipMask
        while true {
            let v = vipSlots[i]
            if v == .zero { return false }
            if v == address { return true }
            i = (i + 1) & vipMask
        }
    }

    /// `service(proto:vip:port:)` for an IPv4 VIP (host byte order): for the control plane and
    /// tests, not the packet path.
    public func service(proto: UInt8, vip: UInt32, port: UInt16) -> UnsafePointer<ServiceEntry>? {
        service(proto: proto, vip: IPAddressBits(v4: vip), port: port)
    }

    /// `isVIP` for an IPv4 address (host byte order), for the control plane and tests.
    public func isVIP(_ address: UInt32) -> Bool { isVIP(IPAddressBits(v4: address)) }

    /// The real server with `id`, if it is in this snapshot.
    @inline(__always)
    public func real(_ id: UInt32) -> UnsafePointer<RealServerEntry>? {
        guard Int(id) < realCount else { return nil }
        let r = reals + Int(id)
        return r.pointee.isPresent ? r : nil
    }

    /// The service a real server belongs to.
    @inline(__always)
    public func service(of real: UnsafePointer<RealServerEntry>) -> UnsafePointer<ServiceEntry>? {
        let id = Int(real.pointee.serviceID)
        guard id < Limits.maxServices else { return nil }
        let index = serviceByID[id]
        return index < 0 ? nil : services + Int(index)
    }

    @inline(__always)
    func member(_ service: UnsafePointer<ServiceEntry>, _ index: Int) -> UInt32 {
        memberIDs[Int(service.pointee.membersStart) + index]
    }

    @inline(__always)
    func tableEntry(_ service: UnsafePointer<ServiceEntry>, _ hash: UInt64) -> Int32 {
        let size = Int(service.pointee.tableSize)
        return tables[Int(service.pointee.tableStart) + Maglev.slot(hash, size: size)]
    }
}

/// An immutable forwarding snapshot. It owns the memory a SnapshotView points into; keep it
/// alive for as long as any worker may still read its view.
public final class ForwardingSnapshot: @unchecked Sendable {
    public let services: [ServiceSpec]
    public let view: SnapshotView
    public let generation: UInt64
    /// Idle timeouts the workers apply when they take this snapshot (ipvsadm --set).
    public let timeouts: FlowTimeouts
    private let regions: [UnsafeMutableRawPointer]

    /// Builds the snapshot. Service IDs and real server IDs must be unique.
    /// `unserved`: VIPs whose services are in the snapshot only for their real servers' sake
    /// (a VRRP backup's: connection sync installs flows bound to them, and listings name them)
    /// and are not looked up: their packets find no service and no VIP, as if absent.
    public init(services: [ServiceSpec], schedulingKey: HashKey, maglevTableSize: Int = Maglev.defaultTableSize,
                generation: UInt64 = 0, timeouts: FlowTimeouts = FlowTimeouts(), traceClient: IPv4Address? = nil,
                unserved: Set<IPAddressBits> = []) {
        self.services = services
        self.generation = generation
        self.timeouts = timeouts
        var regions: [UnsafeMutableRawPointer] = []
        func allocate<T>(_ type: T.Type, _ count: Int, _ fill: T) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
            p.initialize(repeating: fill, count: max(count, 1))
            regions.append(UnsafeMutableRawPointer(p))
            return p
        }

        var slotCount = 8
        while slotCount < services.count * 2 { slotCount <<= 1 }
        let serviceSlots = allocate(Int32.self, slotCount, -1)
        let vipSlots = allocate(IPAddressBits.self, slotCount, .zero)
        let entries = allocate(ServiceEntry.self, services.count,
                               ServiceEntry(vip: .zero, port: 0, proto: 0, scheduler: .roundRobin, method: .dr, id: 0,
                                            persistenceTimeout: 0, persistenceMask: .zero, membersStart: 0, membersCount: 0,
                                            tableStart: 0, tableSize: 0, maxWeight: 0, weightGCD: 0))
        let realCount = (services.flatMap { $0.reals.map { Int($0.id) } }.max() ?? -1) + 1
        let reals = allocate(RealServerEntry.self, realCount,
                             RealServerEntry(address: .zero, port: 0, flags: 0, interface: 0, weight: 0, serviceID: 0, mac: 0))
        let serviceByID = allocate(Int32.self, Limits.maxServices, -1)
        let memberCount = services.reduce(0) { $0 + $1.reals.count }
        let members = allocate(UInt32.self, memberCount, 0)
        let tableCount = services.filter { $0.scheduler.usesTable }.count * maglevTableSize
        let tables = allocate(Int32.self, tableCount, -1)

        var memberCursor = 0
        var tableCursor = 0
        for (index, s) in services.enumerated() {
            var usableWeights: [Int] = []
            var backends: [Maglev.Backend] = []
            for (k, r) in s.reals.enumerated() {
                precondition(!reals[Int(r.id)].isPresent, "real server id \(r.id) used twice")
                let usable = r.mac == nil || !r.available ? 0 : r.weight
                reals[Int(r.id)] = RealServerEntry(
                    address: r.address, port: r.port,
                    flags: 1 | (r.mac == nil ? 0 : 2) | (r.available ? 4 : 0), interface: r.interface,
                    weight: Int32(usable), serviceID: s.id, mac: r.mac?.bits ?? 0)
                members[memberCursor + k] = r.id
                if usable > 0 { usableWeights.append(usable) }
                backends.append(Maglev.Backend(id: Int32(r.id), address: r.address, port: r.port, weight: usable,
                                               tableSize: maglevTableSize, key: schedulingKey))
            }
            var entry = ServiceEntry(
                vip: s.vip, port: s.port, proto: s.proto, scheduler: s.scheduler,
                method: s.method, id: s.id, persistenceTimeout: UInt32(clamping: s.persistenceTimeout * 1000),
                persistenceMask: s.persistenceMask,
                membersStart: Int32(memberCursor), membersCount: Int32(s.reals.count), tableStart: 0, tableSize: 0,
                maxWeight: Int32(usableWeights.max() ?? 0), weightGCD: Int32(usableWeights.reduce(0, Maglev.gcd)))
            memberCursor += s.reals.count
            if s.scheduler.usesTable {
                let table = Maglev.buildTable(backends, size: maglevTableSize)
                (tables + tableCursor).update(from: table, count: maglevTableSize)
                entry.tableStart = Int32(tableCursor)
                entry.tableSize = Int32(maglevTableSize)
                tableCursor += maglevTableSize
            }
            entries[index] = entry
            precondition(Int(s.id) < Limits.maxServices, "service ids must be below \(Limits.maxServices)")
            serviceByID[Int(s.id)] = Int32(index)
            if unserved.contains(s.vip) { continue }

            let vip = s.vip
            var i = SnapshotView.serviceHash(s.proto, vip, s.port) & (slotCount - 1)
            while serviceSlots[i] >= 0 { i = (i + 1) & (slotCount - 1) }
            serviceSlots[i] = Int32(index)
            var v = SnapshotView.serviceHash(0, vip, 0) & (slotCount - 1)
            while vipSlots[v] != .zero && vipSlots[v] != vip { v = (v + 1) & (slotCount - 1) }
            vipSlots[v] = vip
        }

        self.regions = regions
        self.view = SnapshotView(
            services: entries, serviceCount: services.count, serviceSlots: serviceSlots, serviceMask: slotCount - 1,
            hasNAT: services.contains { $0.method == .nat && !unserved.contains($0.vip) }, vipSlots: vipSlots, vipMask: slotCount - 1, reals: reals, realCount: realCount, serviceByID: serviceByID, memberIDs: members,
            tables: tables, schedulingKey: schedulingKey, traceClient: traceClient?.value ?? 0)
    }

    deinit {
        for r in regions { r.deallocate() }
    }
}
