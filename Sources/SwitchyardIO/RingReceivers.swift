// The AF_PACKET receive back-ends: how a worker walks a TPACKET_V2 ring's ready frames or a
// TPACKET_V3 ring's blocks, and the checks every AF_PACKET frame passes before the pipeline.

import CSwitchyard
import SwitchyardCore

/// TPACKET_V2 rings (`RingFormat.frames`), one per interface: up to `Worker.frameBatch` ready
/// frames at a time.
struct FrameRingReceiver: Receiver {
    let rings: [PacketRing]

    var descriptors: [Int32] { rings.map(\.fd) }

    @inline(__always)
    mutating func receive(_ worker: Worker, _ pipeline: inout Pipeline, _ segmenter: inout TCPSegmenter,
                          _ held: inout HeldSnapshot) -> Bool {
        var busy = false
        for ring in rings {
            let count = ring.readyFrames(limit: Worker.frameBatch)
            guard count > 0 else { continue }
            busy = true
            held.refresh(from: worker.publisher, &pipeline)
            worker.process(frames: count, of: ring, ingress: ring.interfaceNumber, &pipeline, &segmenter, held.view)
            ring.releaseFrames(count)
        }
        return busy
    }

    func takeDrops() -> UInt64 { rings.reduce(0) { $0 &+ $1.takeDrops() } }
}

/// TPACKET_V3 rings (`RingFormat.blocks`), one per interface: a block at a time.
struct BlockRingReceiver: Receiver {
    let rings: [PacketRing]

    var descriptors: [Int32] { rings.map(\.fd) }

    @inline(__always)
    mutating func receive(_ worker: Worker, _ pipeline: inout Pipeline, _ segmenter: inout TCPSegmenter,
                          _ held: inout HeldSnapshot) -> Bool {
        var busy = false
        for ring in rings {
            guard let block = ring.nextBlock() else { continue }
            busy = true
            held.refresh(from: worker.publisher, &pipeline)
            worker.process(block, ingress: ring.interfaceNumber, &pipeline, &segmenter, held.view)
            ring.releaseBlock(block)
        }
        return busy
    }

    func takeDrops() -> UInt64 { rings.reduce(0) { $0 &+ $1.takeDrops() } }
}

extension Worker {
    /// Runs every frame of one RX block (TPACKET_V3) through the pipeline and sends what it
    /// forwards, before the block goes back to the kernel (the TX batches point into it).
    @inline(__always)
    func process(_ block: UnsafeMutableRawPointer, ingress: Int, _ pipeline: inout Pipeline,
                 _ segmenter: inout TCPSegmenter, _ view: SnapshotView) {
        let now = monotonicMilliseconds()
        var frame = block + Int(sy_block_first_offset(block))
        var remaining = Int(sy_block_num_pkts(block))
        while remaining > 0 {
            // A chunk at a time: first work out each frame's flow and start loading its slot,
            // then process the frames.
            let chunk = min(remaining, Self.prefetchChunk)
            var ahead = frame
            for k in 0..<chunk {
                hints[k] = pipeline.prefetchedFlowHint(ahead + Int(sy_frame_mac_offset(ahead)),
                                                       length: Int(sy_frame_snaplen(ahead)), snapshot: view)
                ahead += Int(sy_frame_next_offset(ahead))
            }
            for k in 0..<chunk {
                let data = frame + Int(sy_frame_mac_offset(frame))
                let length = Int(sy_frame_snaplen(frame))
                receive(data, length: length,
                        wireLength: Int(sy_frame_wirelen(frame)), host: sy_frame_pkttype(frame) == SY_PACKET_HOST,
                        checksumPending: sy_frame_status(frame) & SY_TP_STATUS_CSUMNOTREADY != 0, ingress: ingress,
                        now: now, hint: hints[k], gsoSize: gsoSize(before: data, length: length), &pipeline, &segmenter,
                        view)
                frame += Int(sy_frame_next_offset(frame))
            }
            remaining -= chunk
        }
        for sender in senders { countTXFailures(sender.flush(), &pipeline) }
    }

    /// The same for `count` ready frames of a TPACKET_V2 ring, before they go back.
    @inline(__always)
    func process(frames count: Int, of ring: PacketRing, ingress: Int, _ pipeline: inout Pipeline,
                 _ segmenter: inout TCPSegmenter, _ view: SnapshotView) {
        let now = monotonicMilliseconds()
        for i in 0..<count {
            let frame = ring.frame(i)
            hints[i] = pipeline.prefetchedFlowHint(frame + Int(sy_v2_mac_offset(frame)), length: Int(sy_v2_snaplen(frame)),
                                                   snapshot: view)
        }
        for i in 0..<count {
            let frame = ring.frame(i)
            let status = sy_v2_status(frame)
            var data = frame + Int(sy_v2_mac_offset(frame))
            var length = Int(sy_v2_snaplen(frame))
            var gsoSize = self.gsoSize(before: data, length: length)
            if status & SY_TP_STATUS_COPY != 0 {
                // Larger than a slot: the whole frame waits on the socket, in ring order, after
                // its virtio_net_hdr. It is read even if it is not ours, so the queue stays in
                // step with the ring.
                if let whole = ring.receiveCopied(into: largeFrame, capacity: Self.largeFrameCapacity),
                   whole > VirtioNetHeader.size {
                    data = largeFrame + VirtioNetHeader.size
                    length = whole - VirtioNetHeader.size
                    gsoSize = Int(VirtioNetHeader(reading: largeFrame).gsoSize)
                }
            }
            receive(data, length: length, wireLength: Int(sy_v2_wirelen(frame)),
                    host: sy_v2_pkttype(frame) == SY_PACKET_HOST,
                    checksumPending: status & SY_TP_STATUS_CSUMNOTREADY != 0, ingress: ingress,
                    now: now, hint: status & SY_TP_STATUS_COPY != 0 ? .none : hints[i], gsoSize: gsoSize,
                    cut: status & SY_TP_STATUS_COPY != 0 ? .oversize : .ringDrops, &pipeline, &segmenter, view)
        }
        for sender in senders { countTXFailures(sender.flush(), &pipeline) }
    }

    /// A ring frame's segment size, from the virtio_net_hdr the kernel wrote just before it in
    /// its slot or block (read only for frames larger than the MTU; 0 for the rest).
    @inline(__always)
    func gsoSize(before data: UnsafeMutableRawPointer, length: Int) -> Int {
        length > config.maxFrameLength ? Int(VirtioNetHeader(reading: data - VirtioNetHeader.size).gsoSize) : 0
    }

    /// One frame from an AF_PACKET ring; `gsoSize` is a super-packet's segment size (0: unknown).
    /// A frame cut short (`length < wireLength`) is never sent half; it is counted as `cut`: too
    /// large (drop_oversize), or, for a TPACKET_V2 slot the kernel could not mark COPY because
    /// the socket's queue of whole super-packets was full, as a receive overflow (drop_rx_ring_full).
    @inline(__always)
    func receive(_ data: UnsafeMutableRawPointer, length: Int, wireLength: Int, host: Bool, checksumPending: Bool,
                 ingress: Int, now: UInt32, hint: FlowHint, gsoSize: Int, cut: Counter = .oversize,
                 _ pipeline: inout Pipeline, _ segmenter: inout TCPSegmenter, _ view: SnapshotView) {
        // Only frames addressed to this host's MAC: not our own transmissions, not
        // broadcasts, not frames for other hosts seen by a promiscuous interface.
        guard host else { return }
        if length < wireLength {
            pipeline.counters.bump(.rxFrames)
            pipeline.counters.bump(cut)
        } else {
            forward(data, length: length, ingress: ingress, checksumPending: checksumPending, now: now, hint: hint,
                    gsoSize: gsoSize, &pipeline, &segmenter, view)
        }
    }
}
