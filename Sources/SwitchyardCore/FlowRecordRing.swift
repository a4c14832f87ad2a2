// A single-producer, single-consumer ring of FlowRecords: how records cross between a worker and
// the control plane without a lock. Its slots are allocated once; push and pop never allocate.

import Synchronization

/// A bounded SPSC queue. One thread pushes, one thread pops (which thread is the owner's
/// business: FlowExchange gives each direction its own ring). `head` is written only by the
/// producer, `tail` only by the consumer; the release store of one and the acquire load of it
/// on the other side order the slot's contents.
public final class FlowRecordRing: @unchecked Sendable {
    let slots: UnsafeMutablePointer<FlowRecord>
    let mask: Int
    private let head = Atomic<Int>(0)
    private let tail = Atomic<Int>(0)

    /// Room for `capacity` records, rounded up to a power of two.
    public init(capacity: Int) {
        precondition(capacity > 0 && capacity <= 1 << 24, "flow record ring capacity")
        var size = 1
        while size < capacity { size <<= 1 }
        slots = .allocate(capacity: size)
        slots.initialize(repeating: FlowRecord.done(walk: 0), count: size)
        mask = size - 1
    }

    deinit {
        slots.deinitialize(count: mask + 1)
        slots.deallocate()
    }

    public var capacity: Int { mask + 1 }

    /// Producer: queues `record`; false if the ring is full (nothing is overwritten).
    @inline(__always)
    public func push(_ record: FlowRecord) -> Bool {
        let h = head.load(ordering: .relaxed)
        guard h &- tail.load(ordering: .acquiring) <= mask else { return false }
        slots[h & mask] = record
        head.store(h &+ 1, ordering: .releasing)
        return true
    }

    /// Consumer: the oldest record, or nil if the ring is empty.
    @inline(__always)
    public func pop() -> FlowRecord? {
        let t = tail.load(ordering: .relaxed)
        guard t != head.load(ordering: .acquiring) else { return nil }
        let record = slots[t & mask]
        tail.store(t &+ 1, ordering: .releasing)
        return record
    }

    /// Either side: whether anything is queued (a hint; the other side may be moving).
    public var isEmpty: Bool { head.load(ordering: .acquiring) == tail.load(ordering: .acquiring) }
}
