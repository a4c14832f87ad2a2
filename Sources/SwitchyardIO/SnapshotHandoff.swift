// The snapshot hand-off between the control plane and the workers: the publisher the control
// plane replaces snapshots in, and the copy each worker holds and refreshes. Pure logic: no
// system calls, no sockets.

import Synchronization
import SwitchyardCore

/// Hands forwarding snapshots from the control plane to the workers. A worker compares one
/// atomic generation number per RX block and takes the lock only when it changed, so the
/// per-packet path never locks. A snapshot is freed when the last worker lets go of it.
public final class SnapshotPublisher: Sendable {
    private let current: Locked<ForwardingSnapshot>
    private let generationCounter = Atomic<UInt64>(1)

    public init(_ first: ForwardingSnapshot) { current = Locked(first) }

    public func publish(_ snapshot: ForwardingSnapshot) {
        current.withLock { $0 = snapshot }
        generationCounter.add(1, ordering: .releasing)
    }

    @inline(__always)
    public var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    public func take() -> (ForwardingSnapshot, UInt64) {
        let g = generation
        return (current.withLock { $0 }, g)
    }
}

/// The snapshot a worker forwards with and the view into it, kept alive together.
struct HeldSnapshot {
    private(set) var snapshot: ForwardingSnapshot
    private(set) var generation: UInt64
    private(set) var view: SnapshotView

    init(_ publisher: SnapshotPublisher) {
        (snapshot, generation) = publisher.take()
        view = snapshot.view
    }

    /// Takes the newest snapshot if a newer one was published (and its flow timeouts).
    @inline(__always)
    mutating func refresh(from publisher: SnapshotPublisher, _ pipeline: inout Pipeline) {
        guard publisher.generation != generation else { return }
        (snapshot, generation) = publisher.take()
        view = snapshot.view
        pipeline.flows.timeouts = snapshot.timeouts
    }
}
