// Counters that one thread writes and others read (per-worker rows of the real servers' traffic
// and connection counts, the workers' published engine counters), and the one helper that says
// where a real server's counter is in such rows (counterIndex). Their words are Atomic and
// accessed with relaxed loads and stores: plain moves on x86-64 and arm64, so the writer pays no
// locked instruction, and a reader's view of a word being written is defined (a plain read of
// it would be a data race, as ThreadSanitizer reports). Only one thread writes a row, so an
// increment is a load and a store, not a read-modify-write. (One extension per width: Atomic's
// load and store are declared per representation, so one generic over FixedWidthInteger does
// not compile.)

import Synchronization

extension Atomic where Value == UInt64 {
    /// Adds `n`; only for the word's one writer.
    @inline(__always)
    public func soleWriterAdd(_ n: UInt64) { store(load(ordering: .relaxed) &+ n, ordering: .relaxed) }
}

extension Atomic where Value == Int32 {
    /// Adds `n`; only for the word's one writer.
    @inline(__always)
    public func soleWriterAdd(_ n: Int32) { store(load(ordering: .relaxed) &+ n, ordering: .relaxed) }
}

/// `count` zeroed atomic words.
public func allocateZeroedAtomics<V: AtomicRepresentable & ExpressibleByIntegerLiteral>(count: Int)
    -> UnsafeMutablePointer<Atomic<V>> {
    let words = UnsafeMutablePointer<Atomic<V>>.allocate(capacity: count)
    for i in 0..<count { (words + i).initialize(to: Atomic(0)) }
    return words
}

/// Frees words from `allocateZeroedAtomics`.
public func deallocateAtomics<V: AtomicRepresentable>(_ words: UnsafeMutablePointer<Atomic<V>>, count: Int) {
    words.deinitialize(count: count)
    words.deallocate()
}

/// Where real server `realID`'s counter `field` is in a table of per-worker counter rows that
/// hold `fields` words for each of `Limits.maxReals` real servers, worker after worker (worker 0:
/// where it is within one worker's row). The one place this arithmetic is written: the tables
/// below, the flow table's connection counts, the schedulers' loads and the pipeline's traffic
/// counters all index through it.
@inline(__always)
func counterIndex(worker: Int = 0, realID: UInt32, field: Int, of fields: Int) -> Int {
    (worker * Limits.maxReals + Int(realID)) * fields + field
}

/// Traffic counters per real server (ipvsadm -L --stats): connections scheduled, packets and
/// bytes to it (inbound) and from it through us (outbound, NAT only). One row per worker,
/// written by that worker alone; the control plane sums the rows.
public final class RealServerStats: @unchecked Sendable {
    public static let fields = 5
    public static let connections = 0, inPackets = 1, inBytes = 2, outPackets = 3, outBytes = 4
    public static let rowLength = Limits.maxReals * fields
    public let workers: Int
    public let storage: UnsafeMutablePointer<Atomic<UInt64>>

    public init(workers: Int) {
        self.workers = workers
        storage = allocateZeroedAtomics(count: workers * Self.rowLength)
    }

    deinit { deallocateAtomics(storage, count: workers * Self.rowLength) }

    public func row(_ worker: Int) -> UnsafeMutablePointer<Atomic<UInt64>> { storage + worker * Self.rowLength }

    /// One counter of a real server, summed over the workers.
    public func total(realID: UInt32, field: Int) -> UInt64 {
        var sum: UInt64 = 0
        for w in 0..<workers {
            let index = counterIndex(worker: w, realID: realID, field: field, of: Self.fields)
            sum &+= storage[index].load(ordering: .relaxed)
        }
        return sum
    }

    /// Zeroes a real server's counters (ipvsadm -Z, or an ID given to a new real server).
    /// Racy against the workers by design: a packet counted during the reset may survive it.
    public func reset(realID: UInt32) {
        for w in 0..<workers {
            let base = counterIndex(worker: w, realID: realID, field: 0, of: Self.fields)
            for f in 0..<Self.fields { storage[base + f].store(0, ordering: .relaxed) }
        }
    }
}

/// Active and inactive connection counts per real server, for lc/wlc and `ipvsadm -L`.
/// One row per worker, written only by that worker, read by all (a count seen a moment late is
/// fine for scheduling). Two fields per real server: active, inactive.
public final class ConnectionCounts: @unchecked Sendable {
    public static let fields = 2
    public static let active = 0, inactive = 1
    public static let rowLength = Limits.maxReals * fields
    public let workers: Int
    public let storage: UnsafeMutablePointer<Atomic<Int32>>

    public init(workers: Int) {
        self.workers = workers
        storage = allocateZeroedAtomics(count: workers * Self.rowLength)
    }

    deinit { deallocateAtomics(storage, count: workers * Self.rowLength) }

    /// Worker `index`'s row.
    public func row(_ index: Int) -> UnsafeMutablePointer<Atomic<Int32>> { storage + index * Self.rowLength }

    /// (active, inactive) summed over the workers.
    public func totals(realID: UInt32) -> (active: Int, inactive: Int) {
        var a = 0
        var i = 0
        for w in 0..<workers {
            let base = counterIndex(worker: w, realID: realID, field: Self.active, of: Self.fields)
            a += Int(storage[base].load(ordering: .relaxed))
            i += Int(storage[base + Self.inactive].load(ordering: .relaxed))
        }
        return (a, i)
    }
}
