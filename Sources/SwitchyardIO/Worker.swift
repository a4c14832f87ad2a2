import CSwitchyard
import Glibc
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

/// One forwarding thread: its own RX ring on each interface (each in that interface's fanout
/// group), TX socket on each interface, pipeline and flow table. Nothing it touches per packet
/// is shared.
public final class Worker: @unchecked Sendable {
    public let index: Int
    /// One receive path per interface: AF_PACKET rings, or with `--io af_xdp` XDP receivers.
    let rings: [PacketRing]
    let receivers: [XDPReceiver]
    let senders: [PacketSender]
    let config: PipelineConfig
    let publisher: SnapshotPublisher
    private let stopFlag = Atomic<Bool>(false)
    /// The worker's counters as of its last block, for the control plane to read and sum.
    /// Atomic words written by this worker alone (relaxed); readers may see a value one block old.
    public let published: UnsafeMutablePointer<Atomic<UInt64>>

    /// `interfaces` in the engine's numbering (a frame's ingress and egress numbers index it);
    /// interface i's ring joins fanout group `fanoutGroupBase + i` (nil: a lone worker, no groups).
    public init(index: Int, interfaces: [InterfaceInfo], filter: PacketFilter, fanoutGroupBase: UInt16?,
                fanoutProgram: [BPFInstruction], config: PipelineConfig, publisher: SnapshotPublisher,
                geometry: RingGeometry = RingGeometry(), txMode: TXMode = .ring, rxMode: RXMode = .afPacket) throws {
        self.index = index
        switch rxMode {
        case .afPacket:
            rings = try interfaces.enumerated().map { i, interface in
                try PacketRing(interface: interface, interfaceNumber: i, filter: filter,
                               fanoutGroup: fanoutGroupBase.map { $0 &+ UInt16(i) }, fanoutProgram: fanoutProgram,
                               geometry: geometry.format == .frames ? .frames(upTo: interface.mtu + 18) : geometry)
            }
            receivers = []
        case .afXDP:
            rings = []
            receivers = try interfaces.map { try XDPReceiver(interface: $0) }
        }
        senders = try interfaces.map { try PacketSender(interface: $0, mode: txMode) }
        self.config = config
        self.publisher = publisher
        published = Counters.allocatePublished()
        largeFrame = .allocate(byteCount: Self.largeFrameCapacity, alignment: 64)
        hints = .allocate(capacity: Self.frameBatch)
        hints.initialize(repeating: .none, count: Self.frameBatch)
    }

    deinit {
        deallocateAtomics(published, count: Counter.allCases.count)
        largeFrame.deallocate()
        hints.deallocate()
    }

    /// Where a frame larger than a TPACKET_V2 slot is read whole (an IPv4 packet of up to
    /// 64 KiB, its Ethernet header and a VLAN tag).
    let largeFrame: UnsafeMutableRawPointer
    /// The flow hints of the frames being processed (see `Pipeline.prefetchedFlowHint`).
    let hints: UnsafeMutablePointer<FlowHint>
    static let largeFrameCapacity = 65_536 + 64

    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// Replaces the packet filter and the fanout program on every ring (the VIP or real
    /// server set changed). Safe while the worker runs: the kernel swaps them atomically.
    public func update(filter: PacketFilter, fanoutProgram: [BPFInstruction]) throws {
        for ring in rings {
            try ring.update(filter: filter)
            guard ring.inFanoutGroup else { continue }
            try ring.update(fanoutProgram: fanoutProgram)
        }
    }

    /// Replaces the XDP programs' address sets (no-op on AF_PACKET rings, which use the filter).
    public func update(vips: [IPv4Address], nat: [KernelGuard.Endpoint]) throws {
        for receiver in receivers { try receiver.setAddresses(vips: vips, nat: nat) }
    }

    /// Brings the XDP programs' sets of this machine's own addresses up to date; true if one
    /// changed (no-op on AF_PACKET rings).
    public func refreshLocalAddresses() throws -> Bool {
        var changed = false
        for receiver in receivers where try receiver.refreshLocalAddresses() { changed = true }
        return changed
    }

    /// Frames the pipeline forwarded but the socket could not send move from `forwarded` to
    /// `drop_tx_failed`.
    @inline(__always)
    func countTXFailures(_ failed: UInt64, _ pipeline: inout Pipeline) {
        guard failed > 0 else { return }
        pipeline.counters.bump(.txFailed, by: failed)
        pipeline.counters.bump(.forwarded, by: 0 &- failed)
    }

    /// The forwarding loop: runs until stop().
    public func run() {
        var pipeline = Pipeline(config)
        var segmenter = TCPSegmenter()
        var held = HeldSnapshot(publisher)
        var lastIdle: UInt32 = 0
        var quiet = true
        var lastSweep: UInt32 = 0
        var polls = (rings.map(\.fd) + receivers.map(\.fd)).map { pollfd(fd: $0, events: Int16(POLLIN | POLLERR), revents: 0) }
        while !stopFlag.load(ordering: .relaxed) {
            var busy = false
            for ring in rings {
                let ingress = ring.interfaceNumber
                if ring.geometry.format == .frames {
                    let count = ring.readyFrames(limit: Self.frameBatch)
                    guard count > 0 else { continue }
                    busy = true
                    held.refresh(from: publisher, &pipeline)
                    process(frames: count, of: ring, ingress: ingress, &pipeline, &segmenter, held.view)
                    ring.releaseFrames(count)
                    continue
                }
                guard let block = ring.nextBlock() else { continue }
                busy = true
                held.refresh(from: publisher, &pipeline)
                process(block, ingress: ingress, &pipeline, &segmenter, held.view)
                ring.releaseBlock(block)
            }
            for (ingress, receiver) in receivers.enumerated() {
                let descriptors = min(receiver.receive(), Self.frameBatch)
                guard descriptors > 0 else { continue }
                busy = true
                held.refresh(from: publisher, &pipeline)
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
                    forward(data, length: length, ingress: ingress, checksumPending: false, now: now,
                            hint: at < descriptors ? hints[at] : .none, &pipeline, &segmenter, held.view)
                }
                // Queued frames are copies in the TX ring (the CLI allows no other TX mode with
                // AF_XDP), so the frames can go back to the kernel once the ring is kicked.
                for sender in senders { countTXFailures(sender.flush(), &pipeline) }
                receiver.release()
            }
            if busy {
                // A slice of the table per millisecond at most: AF_XDP batches are small, and a
                // sweep per batch would cost a slot's cache miss per packet.
                let now = monotonicMilliseconds()
                if now != lastSweep {
                    pipeline.flows.sweep(now: now, budget: 64)
                    lastSweep = now
                }
                pipeline.counters.copy(to: published)
                continue
            }
            // Idle: expire old flows a slice at a time and publish counters, then wait. With
            // per-frame rings the worker runs out of frames between every few under load, so
            // this is done at most once a millisecond, and the large slice only after a wait
            // that timed out (nothing came for 50 ms).
            let now = monotonicMilliseconds()
            if now != lastIdle {
                pipeline.flows.sweep(now: now, budget: quiet ? 4096 : 64)
                lastIdle = now
                for ring in rings { pipeline.counters.bump(.ringDrops, by: ring.takeDrops()) }
                pipeline.counters.copy(to: published)
            }
            quiet = poll(&polls, nfds_t(polls.count), 50) == 0
        }
        for ring in rings { pipeline.counters.bump(.ringDrops, by: ring.takeDrops()) }
        pipeline.counters.copy(to: published)
    }

    /// Sends a TCP super-packet as MTU-sized segments. The segments live in the segmenter's
    /// scratch memory, so the batch is flushed before the next one may reuse it.
    func send(segmentsOf data: UnsafeMutableRawPointer, length: Int, egress: Int, _ pipeline: inout Pipeline,
              _ segmenter: inout TCPSegmenter) {
        let count = segmenter.segment(data, length: length, mtu: config.maxFrameLength - 18)
        guard count > 0 else {
            pipeline.counters.bump(.oversize)
            pipeline.counters.bump(.forwarded, by: 0 &- 1)
            return
        }
        countTXFailures(senders[egress].flush(), &pipeline)
        for i in 0..<count {
            let (segment, segmentLength) = segmenter.segment(i)
            countTXFailures(senders[egress].enqueue(segment, length: segmentLength), &pipeline)
        }
        countTXFailures(senders[egress].flush(), &pipeline)
        pipeline.counters.bump(.segmented, by: UInt64(count))
    }

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
                receive(frame + Int(sy_frame_mac_offset(frame)), length: Int(sy_frame_snaplen(frame)),
                        wireLength: Int(sy_frame_wirelen(frame)), host: sy_frame_pkttype(frame) == SY_PACKET_HOST,
                        checksumPending: sy_frame_status(frame) & SY_TP_STATUS_CSUMNOTREADY != 0, ingress: ingress,
                        now: now, hint: hints[k], &pipeline, &segmenter, view)
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
            if status & SY_TP_STATUS_COPY != 0 {
                // Larger than a slot: the whole frame waits on the socket, in ring order.
                // It is read even if it is not ours, so the queue stays in step with the ring.
                if let whole = ring.receiveCopied(into: largeFrame, capacity: Self.largeFrameCapacity) {
                    data = largeFrame
                    length = whole
                }
            }
            receive(data, length: length, wireLength: Int(sy_v2_wirelen(frame)),
                    host: sy_v2_pkttype(frame) == SY_PACKET_HOST,
                    checksumPending: status & SY_TP_STATUS_CSUMNOTREADY != 0, ingress: ingress,
                    now: now, hint: data == largeFrame ? .none : hints[i], &pipeline, &segmenter, view)
        }
        for sender in senders { countTXFailures(sender.flush(), &pipeline) }
    }

    /// One frame from an AF_PACKET ring.
    @inline(__always)
    func receive(_ data: UnsafeMutableRawPointer, length: Int, wireLength: Int, host: Bool, checksumPending: Bool,
                 ingress: Int, now: UInt32, hint: FlowHint, _ pipeline: inout Pipeline,
                 _ segmenter: inout TCPSegmenter, _ view: SnapshotView) {
        // Only frames addressed to this host's MAC: not our own transmissions, not
        // broadcasts, not frames for other hosts seen by a promiscuous interface.
        guard host else { return }
        if length < wireLength {
            // Larger than a ring frame: only GRO/GSO produce these; never send half.
            pipeline.counters.bump(.rxFrames)
            pipeline.counters.bump(.oversize)
        } else {
            forward(data, length: length, ingress: ingress, checksumPending: checksumPending, now: now, hint: hint,
                    &pipeline, &segmenter, view)
        }
    }

    /// Frames of a block whose flow slots are prefetched together before they are processed.
    static let prefetchChunk = 16

    /// Frames taken from a TPACKET_V2 ring at a time (the TX batch is flushed after each).
    static let frameBatch = 64

    /// Runs one frame through the pipeline and queues what it forwards (cut to the MTU first
    /// if it is a TCP super-packet).
    @inline(__always)
    func forward(_ data: UnsafeMutableRawPointer, length: Int, ingress: Int, checksumPending: Bool, now: UInt32,
                 hint: FlowHint = .none, _ pipeline: inout Pipeline, _ segmenter: inout TCPSegmenter,
                 _ view: SnapshotView) {
        let egress: Int
        switch pipeline.process(data, length: length, ingress: ingress, checksumPending: checksumPending, now: now,
                                snapshot: view, hint: hint) {
        case .forward(let out): egress = out
        case .reply(let out):
            sendReply(egress: out, &pipeline)
            return
        case .pass, .drop: return
        }
        if length <= config.maxFrameLength {
            countTXFailures(senders[egress].enqueue(data, length: length), &pipeline)
        } else {
            send(segmentsOf: data, length: length, egress: egress, &pipeline, &segmenter)
        }
    }
}

extension Worker {
    /// Sends the frame the pipeline built as its answer (rare, and rate limited there). The
    /// frames queued before it go first; the answer is flushed at once, because the pipeline
    /// builds the next one in the same place (and sendmmsg batches only point at frames).
    /// `icmp_time_exceeded_sent` counts only answers the socket took.
    func sendReply(egress: Int, _ pipeline: inout Pipeline) {
        countTXFailures(senders[egress].flush(), &pipeline)
        let failed = senders[egress].enqueue(pipeline.replyFrame, length: pipeline.replyLength)
            + senders[egress].flush()
        if failed > 0 { pipeline.counters.bump(.icmpTimeExceeded, by: 0 &- failed) }
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
