import CSwitchyard
import Glibc
import Synchronization
import SwitchyardCore

/// Hands forwarding snapshots from the control plane to the workers. A worker compares one
/// atomic generation number per RX block and takes the lock only when it changed, so the
/// per-packet path never locks. A snapshot is freed when the last worker lets go of it.
public final class SnapshotPublisher: Sendable {
    private let current: Mutex<ForwardingSnapshot>
    private let generationCounter = Atomic<UInt64>(1)

    public init(_ first: ForwardingSnapshot) { current = Mutex(first) }

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

    public var snapshot: ForwardingSnapshot { current.withLock { $0 } }
}

/// One forwarding thread: its own RX ring (in the fanout group), TX socket, pipeline and flow
/// table. Nothing it touches per packet is shared.
public final class Worker: @unchecked Sendable {
    public let index: Int
    let ring: PacketRing
    let sender: PacketSender
    let config: PipelineConfig
    let publisher: SnapshotPublisher
    private let stopFlag = Atomic<Bool>(false)
    /// The worker's counters as of its last block, for the control plane to read and sum.
    /// Aligned 64-bit words written by this worker alone; readers may see a value one block old.
    public let published: UnsafeMutablePointer<UInt64>

    public init(index: Int, interface: InterfaceInfo, filter: PacketFilter, fanoutGroup: UInt16, config: PipelineConfig,
                publisher: SnapshotPublisher, geometry: RingGeometry = RingGeometry()) throws {
        self.index = index
        ring = try PacketRing(interface: interface, filter: filter, fanoutGroup: fanoutGroup, geometry: geometry)
        sender = try PacketSender(interface: interface)
        self.config = config
        self.publisher = publisher
        published = .allocate(capacity: Counter.allCases.count)
        published.initialize(repeating: 0, count: Counter.allCases.count)
    }

    deinit { published.deallocate() }

    public func stop() { stopFlag.store(true, ordering: .relaxed) }

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
        var (snapshot, generation) = publisher.take()
        var view = snapshot.view
        var idleSweeps = 0
        while !stopFlag.load(ordering: .relaxed) {
            guard let block = ring.nextBlock() else {
                // Idle: expire old flows a slice at a time, publish counters, then wait.
                pipeline.flows.sweep(now: monotonicMilliseconds(), budget: 4096)
                idleSweeps += 1
                if idleSweeps % 8 == 0 {
                    pipeline.counters.bump(.ringDrops, by: ring.takeDrops())
                    pipeline.counters.copy(to: published)
                }
                ring.wait(milliseconds: 50)
                continue
            }
            if publisher.generation != generation {
                (snapshot, generation) = publisher.take()
                view = snapshot.view
            }
            let now = monotonicMilliseconds()
            var frame = block + Int(sy_block_first_offset(block))
            for _ in 0..<sy_block_num_pkts(block) {
                let status = sy_frame_status(frame)
                let length = Int(sy_frame_snaplen(frame))
                // Only frames addressed to this host's MAC: not our own transmissions, not
                // broadcasts, not frames for other hosts seen by a promiscuous interface.
                if sy_frame_pkttype(frame) == SY_PACKET_HOST {
                    let data = frame + Int(sy_frame_mac_offset(frame))
                    if length < Int(sy_frame_wirelen(frame)) {
                        // Larger than a ring frame: only GRO/GSO produce these; never send half.
                        pipeline.counters.bump(.rxFrames)
                        pipeline.counters.bump(.oversize)
                    } else if pipeline.process(data, length: length,
                                               checksumPending: status & SY_TP_STATUS_CSUMNOTREADY != 0,
                                               now: now, snapshot: view) == .forward {
                        countTXFailures(sender.enqueue(data, length: length), &pipeline)
                    }
                }
                frame += Int(sy_frame_next_offset(frame))
            }
            // Send before the block goes back: the batch points into it.
            countTXFailures(sender.flush(), &pipeline)
            ring.releaseBlock(block)
            pipeline.flows.sweep(now: now, budget: 64)
            pipeline.counters.copy(to: published)
        }
        pipeline.counters.bump(.ringDrops, by: ring.takeDrops())
        pipeline.counters.copy(to: published)
    }
}
