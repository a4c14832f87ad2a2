// The one shape the worker's loop sees of a receive back-end (AF_PACKET per-frame rings,
// AF_PACKET block rings, AF_XDP sockets), so that the worker has a single loop.

import SwitchyardCore

/// A worker's receive path on all its interfaces. The worker's loop is generic over it and
/// specialised per back-end (`Worker.loop`), so the per-packet path has no existential and no
/// dynamic dispatch: each conformer's `receive` is inlined into its own copy of the loop.
protocol Receiver {
    /// The sockets to wait on (POLLIN) when no interface had anything.
    var descriptors: [Int32] { get }

    /// Takes the next batch from each interface where one is ready, runs every frame of it
    /// through `worker`'s path (refreshing `held` first), sends what it forwards and gives the
    /// batch back to the kernel. Returns whether any interface had a batch.
    mutating func receive(_ worker: Worker, _ pipeline: inout Pipeline, _ segmenter: inout TCPSegmenter,
                          _ held: inout HeldSnapshot) -> Bool

    /// Frames the kernel dropped because a ring was full, since the last call (0 where the
    /// back-end cannot tell).
    func takeDrops() -> UInt64
}
