// Tracing one client's packets through the pipeline, for an operator asking where a packet
// went and why: the control plane names one client address in the snapshot; each worker
// records every packet from or to that client in a small ring of its own (what came in, what
// was decided: a new flow and the real server picked, a flow hit, a NAT reply, a drop and its
// reason); the control plane reads the rings and logs the events at debug level. With no
// client named, it costs the hot path one compare; while one is named, every packet is parsed
// once more to see whether it is the client's (a debugging tool's price, paid only then).

import Synchronization

/// One traced packet, as it arrived, and what the pipeline did with it.
public struct TraceEvent: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        /// A new flow: the scheduler picked `realID`.
        case newFlow
        /// A new flow that the client's persistence template sent to `realID`.
        case persistentFlow
        /// A packet of a known flow, bound to `realID`.
        case flowHit
        /// A NAT real server's reply (or an ICMP error about a flow), sent back translated.
        case reply
        /// Dropped; `reason` says why.
        case dropped
        /// Not the engine's: left to the kernel.
        case passed
        /// Answered by the pipeline (an ICMP echo request, turned into its reply; a packet dropped
        /// and answered with time exceeded or fragmentation needed).
        case answered
    }

    /// The worker's clock, milliseconds.
    public var time: UInt32
    public var kind: Kind
    /// The drop counter, for `.dropped`.
    public var reason: Counter?
    public var proto: UInt8
    public var source: UInt32
    public var destination: UInt32
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// The real server the packet's flow is bound to, where it has one.
    public var realID: UInt32?
    /// The flow's state after this packet, where it has one.
    public var state: FlowState?
    /// The local interface the packet (or its answer) left by.
    public var egress: Int?

    public init(time: UInt32, kind: Kind, proto: UInt8, source: UInt32, destination: UInt32, sourcePort: UInt16,
                destinationPort: UInt16) {
        self.time = time
        self.kind = kind
        self.proto = proto
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    /// Four words, so a ring slot is written with plain (relaxed atomic) stores. Absent fields
    /// are all ones, which no real value of theirs uses.
    var words: (UInt64, UInt64, UInt64, UInt64) {
        let reasonByte = UInt64(reason.map { UInt8($0.rawValue) } ?? 0xFF)
        let stateByte = UInt64(state?.rawValue ?? 0xFF)
        let egressByte = UInt64(egress.map { UInt8(truncatingIfNeeded: $0) } ?? 0xFF)
        return (UInt64(time) | UInt64(kind.rawValue) << 32 | reasonByte << 40 | UInt64(proto) << 48 | egressByte << 56,
                UInt64(source) << 32 | UInt64(destination),
                UInt64(sourcePort) << 48 | UInt64(destinationPort) << 32 | stateByte,
                UInt64(realID ?? UInt32.max))
    }

    init?(words w: (UInt64, UInt64, UInt64, UInt64)) {
        guard let kind = Kind(rawValue: UInt8(truncatingIfNeeded: w.0 >> 32)) else { return nil }
        self.init(time: UInt32(truncatingIfNeeded: w.0), kind: kind, proto: UInt8(truncatingIfNeeded: w.0 >> 48),
                  source: UInt32(truncatingIfNeeded: w.1 >> 32), destination: UInt32(truncatingIfNeeded: w.1),
                  sourcePort: UInt16(truncatingIfNeeded: w.2 >> 48), destinationPort: UInt16(truncatingIfNeeded: w.2 >> 32))
        let reasonByte = UInt8(truncatingIfNeeded: w.0 >> 40)
        reason = reasonByte == 0xFF ? nil : Counter(rawValue: Int(reasonByte))
        let egressByte = UInt8(truncatingIfNeeded: w.0 >> 56)
        egress = egressByte == 0xFF ? nil : Int(egressByte)
        state = FlowState(rawValue: UInt8(truncatingIfNeeded: w.2))
        realID = UInt32(truncatingIfNeeded: w.3) == UInt32.max ? nil : UInt32(truncatingIfNeeded: w.3)
    }
}

/// The workers' trace rings: one row per worker, written by that worker alone. A row is a
/// count of events ever written, then `capacity` slots, each a sequence word (the number of the
/// event in it) and the event's four words. The writer marks a slot as being written, fills it,
/// then stamps its number and publishes the count; the reader keeps a slot only if it saw the
/// same number before and after reading it (a seqlock per slot), so an event the writer laps
/// while it is read is dropped and counted, never returned torn.
public final class FlowTrace: @unchecked Sendable {
    /// Events a worker keeps between two reads (the control plane reads every second).
    public static let capacity = 256
    /// The trace client that traces every IPv4 packet (switchyard replay): 255.255.255.255,
    /// which no client sends from.
    public static let everyone = UInt32.max
    static let slotWords = 5
    /// The count, padded to a cache line, then the slots.
    static let slotsOffset = 8
    static let rowLength = slotsOffset + capacity * slotWords
    public let workers: Int
    let storage: UnsafeMutablePointer<Atomic<UInt64>>
    /// Per worker, how many of its events the reader has seen (the reader's own state).
    var seen: [UInt64]

    public init(workers: Int) {
        self.workers = workers
        storage = allocateZeroedAtomics(count: workers * Self.rowLength)
        for w in 0..<workers {
            for i in 0..<Self.capacity { storage[w * Self.rowLength + Self.slotsOffset + i * Self.slotWords].store(.max, ordering: .relaxed) }
        }
        seen = Array(repeating: 0, count: workers)
    }

    deinit { deallocateAtomics(storage, count: workers * Self.rowLength) }

    public func row(_ worker: Int) -> UnsafeMutablePointer<Atomic<UInt64>> { storage + worker * Self.rowLength }

    @inline(__always)
    static func slot(_ row: UnsafeMutablePointer<Atomic<UInt64>>, _ n: UInt64) -> UnsafeMutablePointer<Atomic<UInt64>> {
        row + slotsOffset + Int(n % UInt64(capacity)) * slotWords
    }

    /// Appends an event to a row (by its one writer).
    @inline(never)
    static func record(_ event: TraceEvent, in row: UnsafeMutablePointer<Atomic<UInt64>>) {
        let n = row[0].load(ordering: .relaxed)
        let slot = slot(row, n)
        slot[0].store(.max, ordering: .relaxed)
        // The mark is visible before any word of the new event.
        atomicMemoryFence(ordering: .releasing)
        let w = event.words
        slot[1].store(w.0, ordering: .relaxed)
        slot[2].store(w.1, ordering: .relaxed)
        slot[3].store(w.2, ordering: .relaxed)
        slot[4].store(w.3, ordering: .relaxed)
        slot[0].store(n, ordering: .releasing)
        row[0].store(n &+ 1, ordering: .releasing)
    }

    /// The events written since the last call, worker by worker, and how many were lost (written
    /// over before they were read). Only one thread may read.
    public func read() -> (events: [(worker: Int, event: TraceEvent)], lost: UInt64) {
        var events: [(worker: Int, event: TraceEvent)] = []
        var lost: UInt64 = 0
        for w in 0..<workers {
            let r = row(w)
            let written = r[0].load(ordering: .acquiring)
            var next = seen[w]
            if written &- next > UInt64(Self.capacity) {
                lost &+= written &- next &- UInt64(Self.capacity)
                next = written &- UInt64(Self.capacity)
            }
            while next < written {
                let slot = Self.slot(r, next)
                let before = slot[0].load(ordering: .acquiring)
                let words = (slot[1].load(ordering: .relaxed), slot[2].load(ordering: .relaxed),
                             slot[3].load(ordering: .relaxed), slot[4].load(ordering: .relaxed))
                // The words are read before the number is read again.
                atomicMemoryFence(ordering: .acquiring)
                let after = slot[0].load(ordering: .relaxed)
                if before == next && after == next, let e = TraceEvent(words: words) {
                    events.append((w, e))
                } else {
                    lost &+= 1
                }
                next += 1
            }
            seen[w] = written
        }
        return (events, lost)
    }
}
