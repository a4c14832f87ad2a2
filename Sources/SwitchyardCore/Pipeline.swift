// The data plane's one entry point: bytes in, a verdict out, the frame rewritten in place.
// Stages, each small: parse → service lookup → flow lookup or schedule + insert → rewrite.
// No syscalls, no allocation, no locks, no throws; every branch bumps a counter.

/// What to do with a frame after `Pipeline.process`.
public enum Verdict: Equatable, Sendable {
    /// The frame was rewritten in place (same length): send it out.
    case forward
    /// Not for a VIP: leave it to the kernel.
    case pass
    /// Dropped; the counter names the reason.
    case drop(Counter)
}

/// How a worker's pipeline is set up.
public struct PipelineConfig: Sendable {
    /// The MAC that forwarded frames leave from.
    public var sourceMAC: MACAddress
    /// The largest frame that can be sent (MTU + Ethernet header + one VLAN tag).
    public var maxFrameLength: Int
    public var flowCapacity: Int
    public var flowHashKey: HashKey
    public var timeouts: FlowTimeouts

    public init(sourceMAC: MACAddress, mtu: Int = 1500, flowCapacity: Int = 1 << 20,
                flowHashKey: HashKey = .random(), timeouts: FlowTimeouts = FlowTimeouts()) {
        self.sourceMAC = sourceMAC
        self.maxFrameLength = mtu + 18
        self.flowCapacity = flowCapacity
        self.flowHashKey = flowHashKey
        self.timeouts = timeouts
    }
}

public struct Pipeline: ~Copyable {
    /// Service IDs are below this bound (it sizes the per-worker scheduler cursors).
    public static let maxServices = 4096

    public var flows: FlowTable
    public let counters: Counters
    let cursors: UnsafeMutablePointer<SchedulerCursor>
    let sourceMAC: MACAddress
    let maxFrameLength: Int

    public init(_ config: PipelineConfig) {
        flows = FlowTable(capacity: config.flowCapacity, key: config.flowHashKey, timeouts: config.timeouts)
        counters = Counters()
        cursors = .allocate(capacity: Self.maxServices)
        cursors.initialize(repeating: SchedulerCursor(), count: Self.maxServices)
        sourceMAC = config.sourceMAC
        maxFrameLength = config.maxFrameLength
    }

    deinit { cursors.deallocate() }

    /// Processes one frame of `length` bytes at `frame`. `checksumPending` is the capture's
    /// TP_STATUS_CSUMNOTREADY: the L4 checksum holds only the pseudo-header sum. `now` is the
    /// worker's clock in milliseconds.
    @inline(__always)
    public mutating func process(_ frame: UnsafeMutableRawPointer, length: Int, checksumPending: Bool, now: UInt32,
                                 snapshot: SnapshotView) -> Verdict {
        counters.bump(.rxFrames)
        let info: PacketInfo
        switch PacketParser.parse(frame, length: length) {
        case .ipv4(let parsed): info = parsed
        case .notIPv4: return pass()
        case .drop(let reason): return drop(reason)
        }
        guard snapshot.isVIP(info.destination) else { return pass() }
        guard info.proto == IPProtocol.tcp || info.proto == IPProtocol.udp,
              let service = snapshot.service(proto: info.proto, vip: info.destination, port: info.destinationPort)
        else { return drop(.noService) }
        guard info.l3Offset + info.ipLength <= maxFrameLength else { return drop(.oversize) }

        guard let real = bindFlow(info, service: service, now: now, snapshot: snapshot) else {
            return drop(.noRealServer)
        }
        if checksumPending && PacketParser.finishChecksum(frame, info) { counters.bump(.checksumsFinished) }
        // Direct server return: only the MACs change; the IP packet goes on byte for byte.
        MACAddress(bits: real.pointee.mac).store(to: frame, at: 0)
        sourceMAC.store(to: frame, at: 6)
        counters.bump(.forwarded)
        return .forward
    }

    /// Finds the flow's real server, or schedules the flow and records it. A flow whose real
    /// server left the snapshot is scheduled again (IPVS's expire_nodest_conn); one whose real
    /// server is quiescent (weight 0) stays where it is.
    @inline(__always)
    mutating func bindFlow(_ info: PacketInfo, service: UnsafePointer<ServiceEntry>, now: UInt32,
                           snapshot: SnapshotView) -> UnsafePointer<RealServerEntry>? {
        let key = FlowKey(source: info.source, destination: info.destination, sourcePort: info.sourcePort,
                          destinationPort: info.destinationPort, proto: info.proto)
        let hash = flows.hash(key)
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        defer {
            if expired != 0 { counters.bump(.flowsExpired, by: expired) }
            if evicted != 0 { counters.bump(.flowEvictions, by: evicted) }
        }
        if let slot = flows.lookup(key, hash: hash, now: now, expired: &expired) {
            var entry = flows[slot]
            if let real = snapshot.real(entry.realID), real.pointee.serviceID == service.pointee.id,
               real.pointee.hasMAC {
                entry.lastSeen = now
                if info.proto == IPProtocol.tcp { entry.state = entry.state.next(tcpFlags: info.tcpFlags) }
                flows[slot] = entry
                counters.bump(.flowHits)
                return real
            }
            flows.remove(at: slot)
        }

        let (m0, m1) = key.words
        let request = ScheduleRequest(
            flowHash: SipHash.hash(m0, m1, key: snapshot.schedulingKey),
            sourceHash: SipHash.hash(UInt64(info.source), 0, key: snapshot.schedulingKey))
        guard let id = service.pointee.scheduler.pick(service, in: snapshot, request: request,
                                                      cursor: &cursors[Int(service.pointee.id)]),
              let real = snapshot.real(id)
        else { return nil }
        let state: FlowState = info.proto == IPProtocol.tcp ? FlowState.none.next(tcpFlags: info.tcpFlags) : .udp
        _ = flows.insert(key, hash: hash, realID: id, state: state, now: now, expired: &expired, evicted: &evicted)
        counters.bump(.newFlows)
        return real
    }

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
