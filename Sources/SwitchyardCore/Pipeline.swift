// The data plane's one entry point: bytes in, a verdict out, the frame rewritten in place.
// Stages, each small: parse → service lookup → flow lookup or schedule + insert
// (PipelineFlows.swift) → transmit (Transmit.swift).
// No syscalls, no allocation, no locks, no throws; every branch bumps a counter.

import Synchronization

/// What to do with a frame after `Pipeline.process`.
public enum Verdict: Equatable, Sendable {
    /// The frame was rewritten in place (same length): send it out of local interface `egress`.
    case forward(egress: Int)
    /// Not for a VIP and not a NAT reply (or neither IPv4 nor IPv6): leave it to the kernel.
    case pass
    /// The frame is dropped, and the pipeline built an answer to it (an ICMP time exceeded) in
    /// `Pipeline.replyFrame`, `replyLength` bytes: send that out of local interface `egress`.
    case reply(egress: Int)
    /// Dropped; the counter names the reason.
    case drop(Counter)
}

/// How a worker's pipeline is set up.
public struct PipelineConfig: Sendable {
    /// The MAC of each local interface, in the engine's numbering (frames leave from these).
    public var interfaceMACs: [MACAddress]
    /// The largest frame that can be sent (MTU + Ethernet header + one VLAN tag).
    public var maxFrameLength: Int
    public var flowCapacity: Int
    /// IPv6 flows a worker keeps at most (nil: FlowTable.defaultCapacity6 of flowCapacity).
    public var flowCapacity6: Int?
    public var flowHashKey: HashKey
    public var timeouts: FlowTimeouts
    /// This worker's row of the shared connection counts, and the whole table (for lc/wlc).
    public var connections: ConnectionCounts?
    /// Per real server traffic counters (ipvsadm -L --stats), one row per worker.
    public var stats: RealServerStats?
    public var workerIndex: Int
    /// Tell unfinished checksum offloads from the bytes (for AF_XDP, whose frames carry no
    /// CSUMNOTREADY flag): see PacketParser.checksumLooksPartial.
    public var detectPartialChecksums = false
    /// Where the flow tables' slots are allocated (the I/O layer maps them on huge pages).
    public var slotMemory = SlotMemory.heap
    /// This worker's door for connection sync and listings (nil: none; PipelineSync.swift).
    public var exchange: FlowExchange?
    /// The trace rings this worker writes its row of (FlowTrace.swift); nil = a ring of its own
    /// that nobody reads.
    public var trace: FlowTrace?

    public init(interfaceMACs: [MACAddress], mtu: Int = 1500, flowCapacity: Int = 1 << 20,
                flowHashKey: HashKey = .random(), timeouts: FlowTimeouts = FlowTimeouts(),
                connections: ConnectionCounts? = nil, stats: RealServerStats? = nil, workerIndex: Int = 0) {
        precondition(!interfaceMACs.isEmpty && interfaceMACs.count <= Limits.maxInterfaces)
        self.interfaceMACs = interfaceMACs
        self.maxFrameLength = mtu + 18
        self.flowCapacity = flowCapacity
        self.flowHashKey = flowHashKey
        self.timeouts = timeouts
        self.connections = connections
        self.stats = stats
        self.workerIndex = workerIndex
    }

    /// One interface.
    public init(sourceMAC: MACAddress, mtu: Int = 1500, flowCapacity: Int = 1 << 20,
                flowHashKey: HashKey = .random(), timeouts: FlowTimeouts = FlowTimeouts()) {
        self.init(interfaceMACs: [sourceMAC], mtu: mtu, flowCapacity: flowCapacity, flowHashKey: flowHashKey,
                  timeouts: timeouts)
    }
}

public struct Pipeline: ~Copyable {
    /// Protocol-field marks that keep NAT reply keys and persistence keys apart from flow keys.
    static let replyMark: UInt8 = 0x80
    static let templateMark: UInt8 = 0x40

    /// Connections (and, for NAT, their reply mappings).
    public var flows: FlowTable
    /// Persistence templates: client network → real server.
    public var templates: FlowTable
    public let counters: Counters
    /// The flow hint `process` was given for the frame it is on (read by the flow lookups here,
    /// not passed down to them: an argument more cost the non-inlined lookup functions ~50
    /// instructions a packet in spills). A hint is used only for the very key it was worked out
    /// for, and a hash depends only on the key, so a hint left over from an earlier frame is
    /// never wrong either.
    var currentHint = FlowHint.none
    let cursors: UnsafeMutablePointer<SchedulerCursor>
    let interfaceMACs: UnsafeMutablePointer<MACAddress>
    let maxFrameLength: Int
    let detectPartialChecksums: Bool
    let connections: ConnectionCounts?
    /// This worker's row of RealServerStats (a scratch row when none is shared).
    let realStats: UnsafeMutablePointer<Atomic<UInt64>>
    let ownsRealStats: Bool
    /// This worker's trace ring (a scratch one when none is shared).
    let traceRow: UnsafeMutablePointer<Atomic<UInt64>>
    let ownsTraceRow: Bool
    /// The owners of the shared rows above, held so the rows outlive the pipeline whoever made
    /// the config (never touched per packet).
    let statsOwner: RealServerStats?
    let traceOwner: FlowTrace?
    /// Where a `.reply` verdict's frame is built (allocated once), and its length.
    public let replyFrame: UnsafeMutableRawPointer
    public internal(set) var replyLength = 0
    /// What the reply in `replyFrame` was counted as (the worker takes it back if it cannot send it).
    public internal(set) var replyCounter = Counter.icmpTimeExceeded
    /// ICMP errors the LB sends itself: a token bucket of `Limits.icmpBurst`, refilled one per
    /// millisecond.
    var icmpTokens = Limits.icmpBurst
    var icmpRefilled: UInt32 = 0
    /// Connection sync and listings (PipelineSync.swift): the door, whether flows' changes are
    /// queued (read from the door once a turn), and the walk in progress.
    let exchange: FlowExchange?
    var syncing = false
    var walk = FlowWalk()
    /// Room for the largest reply: Ethernet and a tag, IPv4, ICMP and its quote.
    public static let replyCapacity = 14 + 4 + 20 + 8 + Limits.icmpQuoteBytes

    public init(_ config: PipelineConfig) {
        let row = config.connections?.row(config.workerIndex)
        flows = FlowTable(capacity: config.flowCapacity, capacity6: config.flowCapacity6, key: config.flowHashKey,
                          timeouts: config.timeouts,
                          counts: row, memory: config.slotMemory)
        // Templates expire by their service's persistence timeout, checked on lookup.
        var templateTimeouts = FlowTimeouts()
        templateTimeouts.other = UInt32.max / 2
        templates = FlowTable(capacity: Self.templateCapacity(flowCapacity: config.flowCapacity), key: config.flowHashKey,
                              timeouts: templateTimeouts, memory: config.slotMemory)
        counters = Counters()
        cursors = .allocate(capacity: Limits.maxServices)
        cursors.initialize(repeating: SchedulerCursor(), count: Limits.maxServices)
        interfaceMACs = .allocate(capacity: Limits.maxInterfaces)
        interfaceMACs.initialize(repeating: .zero, count: Limits.maxInterfaces)
        replyFrame = .allocate(byteCount: Self.replyCapacity, alignment: 8)
        replyFrame.initializeMemory(as: UInt8.self, repeating: 0, count: Self.replyCapacity)
        for (i, mac) in config.interfaceMACs.enumerated() { interfaceMACs[i] = mac }
        maxFrameLength = config.maxFrameLength
        exchange = config.exchange
        detectPartialChecksums = config.detectPartialChecksums
        connections = config.connections
        if let stats = config.stats {
            realStats = stats.row(config.workerIndex)
            ownsRealStats = false
        } else {
            realStats = allocateZeroedAtomics(count: RealServerStats.rowLength)
            ownsRealStats = true
        }
        statsOwner = config.stats
        traceOwner = config.trace
        if let trace = config.trace {
            traceRow = trace.row(config.workerIndex)
            ownsTraceRow = false
        } else {
            traceRow = allocateZeroedAtomics(count: FlowTrace.rowLength)
            ownsTraceRow = true
        }
    }

    /// Persistence templates a pipeline keeps: an eighth of its flows, at least 1,024.
    public static func templateCapacity(flowCapacity: Int) -> Int { max(1_024, flowCapacity / 8) }

    /// The bytes of each slot region `Pipeline(config)` allocates, in the order it makes them
    /// (nil if one overflows): the I/O layer maps them ahead on huge pages.
    public static func slotRegions(_ config: PipelineConfig) -> [Int]? {
        guard let flows = FlowTable.regionBytes(capacity: config.flowCapacity, capacity6: config.flowCapacity6),
              let templates = FlowTable.regionBytes(capacity: templateCapacity(flowCapacity: config.flowCapacity))
        else { return nil }
        return flows + templates
    }

    deinit {
        cursors.deallocate()
        interfaceMACs.deallocate()
        replyFrame.deallocate()
        if ownsRealStats { deallocateAtomics(realStats, count: RealServerStats.rowLength) }
        if ownsTraceRow { deallocateAtomics(traceRow, count: FlowTrace.rowLength) }
    }

    /// Counts a packet of `bytes` for real server `id`, inbound (to it) or outbound (its reply).
    @inline(__always)
    func account(_ id: UInt32, bytes: Int, inbound: Bool) {
        let base = counterIndex(realID: id, field: inbound ? RealServerStats.inPackets : RealServerStats.outPackets,
                                of: RealServerStats.fields)
        realStats[base].soleWriterAdd(1)
        // Each bytes counter follows its packets counter (inPackets, inBytes, outPackets, outBytes).
        realStats[base + 1].soleWriterAdd(UInt64(bytes))
    }

    /// Processes one frame of `length` bytes at `frame` that arrived on local interface
    /// `ingress`. `checksumPending` is the capture's TP_STATUS_CSUMNOTREADY: the L4 checksum
    /// holds only the pseudo-header sum. `now` is the worker's clock in milliseconds. The
    /// capture tells nothing of a segment size (as `gsoSize: nil`).
    @inline(__always)
    public mutating func process(_ frame: UnsafeMutableRawPointer, length: Int, ingress: Int = 0,
                                 checksumPending: Bool, now: UInt32, snapshot: SnapshotView,
                                 hint: FlowHint = .none) -> Verdict {
        // Not a default argument: its caller would pass the Optional, 4 instructions a packet.
        // (bench/micro's callgrind counts come through here; the worker calls the entry below,
        // with what its ring said.)
        process(frame, length: length, ingress: ingress, checksumPending: checksumPending, now: now,
                snapshot: snapshot, hint: hint, gsoSize: nil)
    }

    /// `process` for a capture that says what it knows of a frame larger than the MTU: `gsoSize`
    /// is its segment size, 0 for a frame that is one packet, nil where the capture cannot tell
    /// (AF_XDP).
    @inline(__always)
    public mutating func process(_ frame: UnsafeMutableRawPointer, length: Int, ingress: Int = 0,
                                 checksumPending: Bool, now: UInt32, snapshot: SnapshotView,
                                 hint: FlowHint = .none, gsoSize: Int?) -> Verdict {
        // The one cost of tracing while nobody is traced. Marked as the unlikely branch: laid
        // out plainly it cost 6 instructions a packet (callgrind), this way none measurable.
        if _slowPath(snapshot.traceClient != 0) {
            return tracedProcess(frame, length: length, ingress: ingress, checksumPending: checksumPending, now: now,
                                 snapshot: snapshot, hint: hint, gsoSize: gsoSize)
        }
        // Only a frame longer than the MTU allows can hold a packet that is (the parser keeps
        // the packet within the frame), so the common path checks nothing more.
        if _slowPath(length > maxFrameLength) {
            return processLarge(frame, length: length, ingress: ingress, checksumPending: checksumPending, now: now,
                                snapshot: snapshot, hint: hint, gsoSize: gsoSize)
        }
        return processPacket(frame, length: length, ingress: ingress, checksumPending: checksumPending, now: now,
                             snapshot: snapshot, hint: hint, gsoSize: nil, mayExceedMTU: false)
    }

    /// `process` for a frame longer than the MTU allows (a super-packet, or a packet to drop).
    @inline(never)
    mutating func processLarge(_ frame: UnsafeMutableRawPointer, length: Int, ingress: Int,
                               checksumPending: Bool, now: UInt32, snapshot: SnapshotView,
                               hint: FlowHint, gsoSize: Int?) -> Verdict {
        processPacket(frame, length: length, ingress: ingress, checksumPending: checksumPending, now: now,
                      snapshot: snapshot, hint: hint, gsoSize: gsoSize, mayExceedMTU: true)
    }

    /// `process` itself, for every packet while nobody is traced; `mayExceedMTU` false: it fits.
    @inline(__always)
    mutating func processPacket(_ frame: UnsafeMutableRawPointer, length: Int, ingress: Int,
                                checksumPending: Bool, now: UInt32, snapshot: SnapshotView,
                                hint: FlowHint, gsoSize: Int?, mayExceedMTU: Bool) -> Verdict {
        counters.bump(.rxFrames)
        currentHint = hint
        var info: PacketInfo
        switch PacketParser.parse(frame, length: length) {
        case .ipv4(let parsed): info = parsed
        case .ipv6(let parsed):
            return processIPv6(frame, parsed, ingress: ingress, checksumPending: checksumPending, now: now,
                               snapshot: snapshot, gsoSize: gsoSize, mayExceedMTU: mayExceedMTU)
        case .notIP: return pass()
        case .drop(let reason): return drop(reason)
        }
        let checksumPending = checksumPending
            || (detectPartialChecksums && PacketParser.checksumLooksPartial(frame, info))
        // A TCP super-packet (GSO/GRO) is rewritten like any packet; the worker then sends it
        // whole for the kernel to segment (GSO.swift), or cuts it to the MTU itself
        // (TCPSegmenter). Anything else larger than the MTU cannot be sent on. A packet of ours
        // with DF whose segments would not fit is answered as a router answers it.
        if mayExceedMTU, _slowPath(info.l3Offset + info.ipLength > maxFrameLength) {
            guard info.proto == IPProtocol.tcp else { return drop(.oversize) }
            if exceedsMTU(frame, info, gsoSize: gsoSize), snapshot.isVIP(info.destination) || snapshot.hasNAT {
                return fragmentationNeeded(frame, l3: info.l3Offset, ingress: ingress, now: now)
            }
        }
        if snapshot.isVIP(info.destination) {
            if info.proto == IPProtocol.icmp {
                return icmpToVIP(frame, info, ingress: ingress, now: now, snapshot: snapshot)
            }
            guard info.proto == IPProtocol.tcp || info.proto == IPProtocol.udp,
                  let service = snapshot.service(proto: info.proto, vip: info.destination, port: info.destinationPort)
            else { return drop(.noService) }
            guard let real = bindFlow(info, service: service, ingress: ingress, peer: load48(frame, 6), now: now,
                                      snapshot: snapshot)
            else { return drop(.noRealServer) }
            account(UInt32(real - snapshot.reals), bytes: info.ipLength, inbound: true)
            // The service's forwarding method picks the transmitter (Transmit.swift).
            switch service.pointee.method {
            case .dr:
                return transmitDR(frame, &info, to: real, ingress: ingress, checksumPending: checksumPending, now: now)
            case .nat:
                return transmitNAT(frame, &info, to: real, ingress: ingress, checksumPending: checksumPending, now: now)
            }
        }
        guard snapshot.hasNAT else { return pass() }
        switch info.proto {
        case IPProtocol.tcp, IPProtocol.udp:
            return natReply(frame, &info, checksumPending: checksumPending, now: now, snapshot: snapshot)
        case IPProtocol.icmp:
            return icmpFromRealServer(frame, info, now: now, snapshot: snapshot)
        default:
            return pass()
        }
    }

    // MARK: verdict helpers

    @inline(__always)
    func pass() -> Verdict {
        counters.bump(.passed)
        return .pass
    }

    @inline(__always)
    func drop(_ reason: Counter) -> Verdict {
        counters.bump(reason)
        return .drop(reason)
    }
}

/// The 48 bits of a MAC address at `offset`.
@inline(__always)
func load48(_ p: UnsafeMutableRawPointer, _ offset: Int) -> UInt64 {
    UInt64(load32(p, offset)) << 16 | UInt64(load16(p, offset + 4))
}
