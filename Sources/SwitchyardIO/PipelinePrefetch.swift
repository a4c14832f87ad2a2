// What the I/O layer adds to the data plane's Pipeline: starting a batch's flow-slot loads
// before the batch is processed (the prefetch is a C intrinsic, which the stdlib-only core
// cannot call).

import CSwitchyard
import SwitchyardCore

extension Pipeline {
    /// The frame's flow hint (`flowHint`), its home slot already on the way into the cache.
    /// The worker works these out for a batch of frames before processing any of them.
    /// Mutating, like `flowHint`, so that the pipeline is not put into a temporary for the call.
    @inline(__always)
    public mutating func prefetchedFlowHint(_ data: UnsafeMutableRawPointer, length: Int, snapshot: SnapshotView) -> FlowHint {
        let hint = flowHint(data, length: length, snapshot: snapshot)
        if hint.hash != 0 { sy_prefetch_slot(flows.homeSlot(hash: hint.hash)) }
        return hint
    }
}
