// Schedulers pick a real server for a new flow, like IPVS's ip_vs_scheduler ops: one small
// protocol, one type per algorithm. Each works on the snapshot plus a per-worker cursor, so no
// scheduler takes a lock or allocates. A real server whose usable weight is 0 (quiescent, or
// MAC unknown) never gets a new flow from any of them.

import Synchronization

/// Per-worker, per-service scheduler state (round-robin position, wrr current weight).
public struct SchedulerCursor: Sendable {
    public var index: Int32 = -1
    public var currentWeight: Int32 = 0
    public init() {}
}

/// What a scheduler may use to pick: hashes under the stable scheduling key, and the workers'
/// connection counts (lc, wlc, sed, nq).
public struct ScheduleRequest: @unchecked Sendable {
    /// Hash of the whole 5-tuple (mh).
    public var flowHash: UInt64
    /// Hash of the client address alone (sh).
    public var sourceHash: UInt64
    /// ConnectionCounts storage (nil: no counts, every server counts as idle) and its rows.
    public var connections: UnsafePointer<Atomic<Int32>>?
    public var workers: Int

    public init(flowHash: UInt64, sourceHash: UInt64, connections: UnsafePointer<Atomic<Int32>>? = nil, workers: Int = 0) {
        self.flowHash = flowHash
        self.sourceHash = sourceHash
        self.connections = connections
        self.workers = workers
    }

    /// Active and inactive connections of a real server over all workers.
    @inline(__always)
    func load(_ id: UInt32) -> (active: Int, inactive: Int) {
        guard let connections else { return (0, 0) }
        var a = 0
        var i = 0
        for w in 0..<workers {
            let base = counterIndex(worker: w, realID: id, field: ConnectionCounts.active, of: ConnectionCounts.fields)
            a += Int(connections[base].load(ordering: .relaxed))
            i += Int(connections[base + ConnectionCounts.inactive].load(ordering: .relaxed))
        }
        return (a, i)
    }
}

public protocol Scheduler {
    /// The ID of the real server for a new flow, or nil when none can take one.
    static func pick(_ service: UnsafePointer<ServiceEntry>, in snapshot: SnapshotView, request: ScheduleRequest,
                     cursor: inout SchedulerCursor) -> UInt32?
}

/// `mh`: Maglev lookup on the 5-tuple hash.
public enum MaglevScheduler: Scheduler {
    @inline(__always)
    public static func pick(_ service: UnsafePointer<ServiceEntry>, in snapshot: SnapshotView, request: ScheduleRequest,
                            cursor: inout SchedulerCursor) -> UInt32? {
        lookup(service, in: snapshot, hash: request.flowHash)
    }

    /// The real server in the service's consistent-hash table for `hash`.
    @inline(__always)
    static func lookup(_ service: UnsafePointer<ServiceEntry>, in snapshot: SnapshotView, hash: UInt64) -> UInt32? {
        let id = snapshot.tableEntry(service, hash)
        return id < 0 ? nil : UInt32(id)
    }
}

/// `sh`: the same consistent table, keyed by the client address only, so one client always
/// reaches one real server (and keeps it when others come and go).
public enum SourceHashScheduler: Scheduler {
    @inline(__always)
    public static func pick(_ service: UnsafePointer<ServiceEntry>, in snapshot: SnapshotView, request: ScheduleRequest,
                            cursor: inout SchedulerCursor) -> UInt32? {
        MaglevScheduler.lookup(service, in: snapshot, hash: request.sourceHash)
    }
}

/// `rr`: the next real server with a usable weight.
public enum RoundRobinScheduler: Scheduler {
    @inline(__always)
    public static func pick(_ service: UnsafePointer<ServiceEntry>, in snapshot: SnapshotView, request: ScheduleRequest,
                            cursor: inout SchedulerCursor) -> UInt32? {
        let n = Int(service.pointee.membersCount)
        guard n > 0 else { return nil }
        var i = Int(cursor.index)
        for _ in 0..<n {
            i = (i + 1) % n
            let id = snapshot.member(service, i)
            if snapshot.reals[Int(id)].weight > 0 {
                cursor.index = Int32(i)
                return id
            }
        }
        return nil
    }
}

/// `wrr`: interleaved weighted round robin as in ip_vs_wrr.c: the current weight steps down
/// by the gcd each pass; a server is picked while its weight is at least the current weight.
public enum WeightedRoundRobinScheduler: Scheduler {
    @inline(__always)
    public static func pick(_ service: UnsafePointer<ServiceEntry>, in snapshot: SnapshotView, request: ScheduleRequest,
                            cursor: inout SchedulerCursor) -> UInt32? {
        let n = Int(service.pointee.membersCount)
        let maxWeight = service.pointee.maxWeight
        let step = service.pointee.weightGCD
        guard n > 0, maxWeight > 0, step > 0 else { return nil }
        if cursor.currentWeight > maxWeight { cursor.currentWeight = maxWeight }
        var i = Int(cursor.index)
        // At most n × (maxWeight / gcd) steps visit every (server, weight level) pair once.
        for _ in 0..<(n * Int(maxWeight / step) + n) {
            i = (i + 1) % n
            if i == 0 {
                cursor.currentWeight -= step
                if cursor.currentWeight <= 0 { cursor.currentWeight = maxWeight }
            }
            let id = snapshot.member(service, i)
            if snapshot.reals[Int(id)].weight >= cursor.currentWeight {
                cursor.index = Int32(i)
                return id
            }
        }
        return nil
    }
}

/// The connection-count schedulers of ip_vs_lc.c, ip_vs_wlc.c, ip_vs_sed.c and ip_vs_nq.c: pick the
/// usable real server with the least cost, the first one on ties. Costs are compared by cross-
/// multiplication (a/wa < b/wb ⇔ a·wb < b·wa), as IPVS does, so no division.
public enum LeastConnectionScheduler: Scheduler {
    @inline(__always)
    public static func pick(_ service: UnsafePointer<ServiceEntry>, in snapshot: SnapshotView, request: ScheduleRequest,
                            cursor: inout SchedulerCursor) -> UInt32? {
        let kind = service.pointee.scheduler
        var best: UInt32?
        var bestCost = 0
        var bestWeight = 1
        for i in 0..<Int(service.pointee.membersCount) {
            let id = snapshot.member(service, i)
            let weight = Int(snapshot.reals[Int(id)].weight)
            guard weight > 0 else { continue }
            let (active, inactive) = request.load(id)
            let cost: Int
            let w: Int
            switch kind {
            case .leastConnection:
                // ip_vs_lc: overhead = active × 256 + inactive, weights ignored.
                cost = active * 256 + inactive
                w = 1
            case .neverQueue where active == 0:
                // ip_vs_nq: an idle server takes the connection at once.
                return id
            case .shortestExpectedDelay, .neverQueue:
                // ip_vs_sed: expected delay = (active + 1) / weight.
                cost = active + 1
                w = weight
            default:
                // ip_vs_wlc: (active × 256 + inactive) / weight.
                cost = active * 256 + inactive
                w = weight
            }
            if best == nil || cost * bestWeight < bestCost * w {
                best = id
                bestCost = cost
                bestWeight = w
            }
        }
        return best
    }
}

extension SchedulerKind {
    /// Static dispatch to the scheduler type: no existential on the hot path.
    @inline(__always)
    func pick(_ service: UnsafePointer<ServiceEntry>, in snapshot: SnapshotView, request: ScheduleRequest,
              cursor: inout SchedulerCursor) -> UInt32? {
        switch self {
        case .maglev: MaglevScheduler.pick(service, in: snapshot, request: request, cursor: &cursor)
        case .sourceHash: SourceHashScheduler.pick(service, in: snapshot, request: request, cursor: &cursor)
        case .roundRobin: RoundRobinScheduler.pick(service, in: snapshot, request: request, cursor: &cursor)
        case .weightedRoundRobin: WeightedRoundRobinScheduler.pick(service, in: snapshot, request: request, cursor: &cursor)
        case .leastConnection, .weightedLeastConnection, .shortestExpectedDelay, .neverQueue:
            LeastConnectionScheduler.pick(service, in: snapshot, request: request, cursor: &cursor)
        }
    }
}
