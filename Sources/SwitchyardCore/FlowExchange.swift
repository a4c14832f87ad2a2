// The door between one worker and the control plane for flows (connection sync and listings):
// two rings of FlowRecords and two atomic words. The control plane never touches a worker's
// flow table; it asks through here, and the worker answers from its own loop, as it picks up a
// snapshot.

import Synchronization

/// One worker's door. The worker is the only producer of `outbound` and the only consumer of
/// `inbound`; on the control side one thread at a time may consume or produce (the owner of the
/// exchanges serialises its users).
public final class FlowExchange: @unchecked Sendable {
    /// Worker → control plane: flows that changed (while sending is on) and walk results.
    public let outbound: FlowRecordRing
    /// Control plane → worker: flows to install (connection sync on the backup).
    public let inbound: FlowRecordRing
    /// The newest walk asked for: number << 8 | purposes (FlowRecord.walkSync, .walkList).
    private let walkRequest = Atomic<UInt64>(0)
    private let sending = Atomic<Bool>(false)

    public init(capacity: Int = Limits.flowRecordRing) {
        outbound = FlowRecordRing(capacity: capacity)
        inbound = FlowRecordRing(capacity: capacity)
    }

    /// Control plane: asks for a walk of the whole table. A newer request replaces an unfinished
    /// one (the worker starts again from the first slot), so ask with every purpose still open.
    public func requestWalk(number: UInt32, purposes: UInt8) {
        walkRequest.store(UInt64(number) << 8 | UInt64(purposes), ordering: .releasing)
    }

    /// Control plane: whether the worker queues its flows' changes (this box is the sync master).
    public func setSending(_ on: Bool) { sending.store(on, ordering: .relaxed) }

    /// Worker: the newest walk asked for.
    @inline(__always)
    public var requestedWalk: (number: UInt32, purposes: UInt8) {
        let word = walkRequest.load(ordering: .acquiring)
        return (UInt32(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word))
    }

    /// Worker: whether to queue changes.
    @inline(__always)
    public var isSending: Bool { sending.load(ordering: .relaxed) }
}

/// Where a worker is in a walk of its tables: the flows' slots, then the templates'.
struct FlowWalk {
    var number: UInt32 = 0
    var purposes: UInt8 = 0
    /// The next slot; past the flow table's last slot it counts on into the templates.
    var cursor = 0
    var active = false
}
