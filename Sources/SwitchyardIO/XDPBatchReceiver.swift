// The AF_XDP receive back-end: how a worker takes a batch of descriptors from each
// interface's XDP socket, prefetches their flows, forwards them and gives them back.

import SwitchyardCore

/// One XDP socket per interface (`--io af_xdp`), in the engine's interface numbering.
struct XDPBatchReceiver: Receiver {
    let receivers: [XDPReceiver]

    var descriptors: [Int32] { receivers.map(\.fd) }

    @inline(__always)
    mutating func receive(_ worker: Worker, _ pipeline: inout Pipeline, _ segmenter: inout TCPSegmenter,
                          _ held: inout HeldSnapshot) -> Bool {
        var busy = false
        let hints = worker.hints
        for (ingress, receiver) in receivers.enumerated() {
            let descriptors = min(receiver.receive(), Worker.frameBatch)
            guard descriptors > 0 else { continue }
            busy = true
            held.refresh(from: worker.publisher, &pipeline)
            let now = monotonicMilliseconds()
            // The batch's flow hints first (one frame per descriptor, unless a frame spans
            // several), so the flow slots' misses overlap.
            for i in 0..<descriptors {
                hints[i] = receiver.peek(i).map {
                    pipeline.prefetchedFlowHint($0.0, length: $0.1, snapshot: held.view)
                } ?? .none
            }
            while true {
                let at = receiver.position
                guard let (data, length) = receiver.next() else { break }
                // The XDP program let through only frames for us; the pipeline tells an
                // unfinished checksum from the bytes (PipelineConfig.detectPartialChecksums).
                worker.forward(data, length: length, ingress: ingress, checksumPending: false, now: now,
                               hint: at < descriptors ? hints[at] : .none, &pipeline, &segmenter, held.view)
            }
            // Queued frames are copies in the TX ring (the CLI allows no other TX mode with
            // AF_XDP), so the frames can go back to the kernel once the ring is kicked.
            for sender in worker.senders { worker.countTXFailures(sender.flush(), &pipeline) }
            receiver.release()
        }
        return busy
    }

    /// The XDP socket's drops are not read (the AF_PACKET rings' `ringDrops` stays 0).
    func takeDrops() -> UInt64 { 0 }
}
