// One forwarding thread: what it owns (its pipeline and flow table, a receive ring or XDP
// socket and a TX socket on each interface), its one loop, and the per-frame path from a
// received frame to the TX queue that every receive back-end shares.

import CSwitchyard
import Glibc
import Synchronization
import SwitchyardCore

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
    /// Which receive back-end `run` specialises its loop for.
    let backEnd: BackEnd
    /// Microseconds the worker keeps checking its rings after its last frame before it sleeps
    /// in poll() (--busy-poll): no wake-up to pay for a frame that comes within it, for the
    /// price of a core kept busy. 0: it sleeps as soon as the rings are empty.
    let busyPoll: UInt64
    /// The pipeline (flow tables included), made in init so that a failure to allocate it is
    /// an error thrown before the engine starts, not a crash on the worker thread; `run` moves
    /// it onto the worker's stack.
    private var idlePipeline: Pipeline?
    private let stopFlag = Atomic<Bool>(false)
    /// The worker's counters as of its last block, for the control plane to read and sum.
    /// Atomic words written by this worker alone (relaxed); readers may see a value one block old.
    public let published: UnsafeMutablePointer<Atomic<UInt64>>
    /// Flows in this worker's table as of its last sweep (at most a millisecond old), and the
    /// table's size: for the metrics.
    public let flowEntries = Atomic<Int>(0)
    public let flowCapacity: Int
    /// The CPU time this worker's thread has used (busy-polling included), in nanoseconds, as of
    /// its last sweep: for the metrics.
    public let cpuNanoseconds = Atomic<UInt64>(0)

    enum BackEnd { case frames, blocks, xdp }

    /// `interfaces` in the engine's numbering (a frame's ingress and egress numbers index it);
    /// interface i's ring joins fanout group `fanoutGroupBase + i` (nil: a lone worker, no groups).
    ///
    /// What can fail is done first and changes nothing outside the process: the pipeline and
    /// its flow tables (`config.slotMemory`: give it `HugePages.slotMemory(for:)` so that a
    /// mapping failure is thrown here). Then the sockets, one interface after another: if one
    /// fails, those opened before it are closed as the thrown init releases them (their deinit).
    public init(index: Int, interfaces: [InterfaceInfo], filter: PacketFilter, fanoutGroupBase: UInt16?,
                fanoutProgram: [BPFInstruction], config: PipelineConfig, publisher: SnapshotPublisher,
                geometry: RingGeometry = RingGeometry(), txMode: TXMode = .ring, rxMode: RXMode = .afPacket,
                busyPollMicroseconds: Int = 0) throws {
        self.index = index
        busyPoll = UInt64(max(busyPollMicroseconds, 0))
        idlePipeline = Pipeline(config)
        flowCapacity = idlePipeline?.flows.capacity ?? 0
        switch rxMode {
        case .afPacket:
            rings = try interfaces.enumerated().map { i, interface in
                try PacketRing(interface: interface, interfaceNumber: i, filter: filter,
                               fanoutGroup: fanoutGroupBase.map { $0 &+ UInt16(i) }, fanoutProgram: fanoutProgram,
                               geometry: geometry.format == .frames ? .frames(upTo: interface.mtu + 18) : geometry)
            }
            receivers = []
            backEnd = geometry.format == .frames ? .frames : .blocks
        case .afXDP:
            rings = []
            receivers = try interfaces.map { try XDPReceiver(interface: $0) }
            backEnd = .xdp
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

    /// The forwarding loop: runs until stop(). Picks the back-end once; the loop is
    /// specialised for it.
    public func run() {
        switch backEnd {
        case .frames:
            var receiver = FrameRingReceiver(rings: rings)
            loop(&receiver)
        case .blocks:
            var receiver = BlockRingReceiver(rings: rings)
            loop(&receiver)
        case .xdp:
            var receiver = XDPBatchReceiver(receivers: receivers)
            loop(&receiver)
        }
    }

    /// The loop itself, generic so that each back-end gets its own copy with `receive` inlined
    /// (called with a concrete type from `run`: no existential, no allocation per packet).
    @inline(never)
    func loop<R: Receiver>(_ receiver: inout R) {
        guard var pipeline = idlePipeline.take() else { preconditionFailure("Worker.run() called twice") }
        var segmenter = TCPSegmenter()
        var held = HeldSnapshot(publisher)
        var lastIdle: UInt32 = 0
        var quiet = true
        var lastSweep: UInt32 = 0
        var polls = receiver.descriptors.map { pollfd(fd: $0, events: Int16(POLLIN | POLLERR), revents: 0) }
        var lastFrame = busyPoll > 0 ? monotonicMicroseconds() : 0
        while !stopFlag.load(ordering: .relaxed) {
            if receiver.receive(self, &pipeline, &segmenter, &held) {
                if busyPoll > 0 { lastFrame = monotonicMicroseconds() }
                // A slice of the table per millisecond at most: AF_XDP batches are small, and a
                // sweep per batch would cost a slot's cache miss per packet.
                let now = monotonicMilliseconds()
                if now != lastSweep {
                    pipeline.flows.sweep(now: now, budget: 64)
                    flowEntries.store(pipeline.flows.count, ordering: .relaxed)
                    cpuNanoseconds.store(threadCPUNanoseconds(), ordering: .relaxed)
                    _ = pipeline.exchangeTurn(now: now, snapshot: held.view)
                    lastSweep = now
                }
                pipeline.counters.copy(to: published)
                continue
            }
            // Idle: expire old flows a slice at a time and publish counters, then wait. With
            // per-frame rings the worker runs out of frames between every few under load, so
            // this is done at most once a millisecond, and the large slice only after a wait
            // that timed out (nothing came for 50 ms).
            // A walk or installs left over (connection sync, a listing) bring the worker back
            // within a millisecond instead of 50.
            let now = monotonicMilliseconds()
            var exchangeBusy = false
            if now != lastIdle {
                pipeline.flows.sweep(now: now, budget: quiet ? 4096 : 64)
                flowEntries.store(pipeline.flows.count, ordering: .relaxed)
                cpuNanoseconds.store(threadCPUNanoseconds(), ordering: .relaxed)
                held.refresh(from: publisher, &pipeline)
                exchangeBusy = pipeline.exchangeTurn(now: now, snapshot: held.view, walkBudget: Limits.idleWalkBudget)
                lastIdle = now
                pipeline.counters.bump(.ringDrops, by: receiver.takeDrops())
                pipeline.counters.copy(to: published)
            }
            if busyPoll > 0 && monotonicMicroseconds() &- lastFrame < busyPoll {
                sy_cpu_relax()
                continue
            }
            quiet = poll(&polls, nfds_t(polls.count), exchangeBusy ? 1 : 50) == 0
        }
        pipeline.counters.bump(.ringDrops, by: receiver.takeDrops())
        pipeline.counters.copy(to: published)
    }

    /// Sends a TCP super-packet whole, for the kernel (or the NIC) to segment: `gsoSize` is the
    /// segment size it arrived with (0: unknown, the MTU's), `partial` whether its checksum
    /// still holds only the pseudo-header sum. False if it cannot go this way (no GSO socket,
    /// not a TCP packet to cut, refused): the caller segments it.
    @inline(__always)
    func sendWhole(_ data: UnsafeMutableRawPointer, length: Int, egress: Int, gsoSize: Int, partial: Bool,
                   _ pipeline: inout Pipeline) -> Bool {
        let sender = senders[egress]
        guard sender.gsoFD >= 0,
              let header = GSO.header(data, length: length, mtu: config.maxFrameLength - 18, gsoSize: gsoSize,
                                      partial: partial) else { return false }
        countTXFailures(sender.flush(), &pipeline)
        guard sender.sendWhole(data, length: length, header: header) else { return false }
        pipeline.counters.bump(.gsoSent)
        return true
    }

    /// Sends a TCP super-packet as MTU-sized segments. The segments live in the segmenter's
    /// scratch memory, so the batch is flushed before the next one may reuse it.
    func send(segmentsOf data: UnsafeMutableRawPointer, length: Int, egress: Int, gsoSize: Int = 0,
              _ pipeline: inout Pipeline, _ segmenter: inout TCPSegmenter) {
        let count = segmenter.segment(data, length: length, mtu: config.maxFrameLength - 18, mss: gsoSize)
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

    /// Frames of a block whose flow slots are prefetched together before they are processed.
    static let prefetchChunk = 16

    /// Frames taken from a TPACKET_V2 ring at a time (the TX batch is flushed after each).
    static let frameBatch = 64

    /// Runs one frame through the pipeline and queues what it forwards. A TCP super-packet goes
    /// whole for the kernel to segment when the receive path knew its checksum state (`gsoSize`
    /// is then its segment size, 0 if unknown; nil: AF_XDP, which cannot tell), else it is cut
    /// to the MTU here.
    @inline(__always)
    func forward(_ data: UnsafeMutableRawPointer, length: Int, ingress: Int, checksumPending: Bool, now: UInt32,
                 hint: FlowHint = .none, gsoSize: Int? = nil, _ pipeline: inout Pipeline,
                 _ segmenter: inout TCPSegmenter, _ view: SnapshotView) {
        let egress: Int
        switch pipeline.process(data, length: length, ingress: ingress, checksumPending: checksumPending, now: now,
                                snapshot: view, hint: hint, gsoSize: gsoSize) {
        case .forward(let out): egress = out
        case .reply(let out):
            sendReply(egress: out, &pipeline)
            return
        case .pass, .drop: return
        }
        if length <= config.maxFrameLength {
            countTXFailures(senders[egress].enqueue(data, length: length), &pipeline)
        } else if let gsoSize,
                  sendWhole(data, length: length, egress: egress, gsoSize: gsoSize, partial: checksumPending, &pipeline) {
            return
        } else {
            send(segmentsOf: data, length: length, egress: egress, gsoSize: gsoSize ?? 0, &pipeline, &segmenter)
        }
    }
}

extension Worker {
    /// Sends the frame the pipeline built as its answer (rare, and rate limited there). The
    /// frames queued before it go first; the answer is flushed at once, because the pipeline
    /// builds the next one in the same place (and sendmmsg batches only point at frames).
    /// `icmp_time_exceeded_sent` and `icmp_frag_needed_sent` count only answers the socket took.
    func sendReply(egress: Int, _ pipeline: inout Pipeline) {
        countTXFailures(senders[egress].flush(), &pipeline)
        let failed = senders[egress].enqueue(pipeline.replyFrame, length: pipeline.replyLength)
            + senders[egress].flush()
        if failed > 0 { pipeline.counters.bump(pipeline.replyCounter, by: 0 &- failed) }
    }
}
