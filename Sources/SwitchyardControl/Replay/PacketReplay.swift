// switchyard replay and explain: the engine's own pipeline (not a copy of its logic), with a
// config's services, fed frames one at a time, and what it did to each, in the words adm
// --trace uses plus the packet as it would leave.

import SwitchyardCore

/// What the replay knows of the balancer that a config does not say: its interfaces and its
/// real servers' MACs (the engine learns those from the kernel).
public struct ReplaySetup: Sendable {
    /// The balancer's interfaces, in the engine's numbering. A frame came in on the one whose
    /// MAC it is addressed to (else the first).
    public var interfaces: [(name: String, mac: MACAddress)] = [("eth0", ReplaySetup.defaultMAC)]
    /// Real servers' MACs and the interface (number) they are reached on. One not listed gets a
    /// made-up MAC, 02:00 and its address, on the first interface.
    public var neighbours: [IPv4Address: (mac: MACAddress, interface: Int)] = [:]
    public var mtu = 1500

    public static let defaultMAC = MACAddress("02:00:00:00:00:01")!

    public init() {}

    /// The MAC a real server without a `neighbours` entry is given: 02:00 and its address.
    public static func madeUpMAC(_ address: IPv4Address) -> MACAddress {
        MACAddress(bits: 0x0200_0000_0000 | UInt64(address.value))
    }
}

/// One frame's fate.
public struct ReplayOutcome: Sendable {
    public var verdict: Verdict
    /// The interface the frame was taken to have arrived on.
    public var ingress: Int
    /// What happened, in words ("TCP 198.18.0.10:40000 > 198.18.0.100:80: new flow, scheduled
    /// to 198.18.0.11:80 (DR), SYN_RECV; sent out of eth0").
    public var words: String
    /// The frame that leaves (rewritten, or the balancer's own answer), nil if none does.
    public var output: [UInt8]?
}

/// A pipeline set up from a config as the engine sets up a worker's, tracing every packet.
public final class PacketReplay {
    public let setup: ReplaySetup
    private let interfaceMACs: [MACAddress]
    private let interfaceNames: [String]
    private var pipeline: Pipeline
    private let snapshot: ForwardingSnapshot
    private let trace = FlowTrace(workers: 1)
    private let names: [UInt32: (String, String)]
    private var firstMicroseconds: UInt64?

    /// Real servers are up or down as the engine starts them (up, unless the service has
    /// `alpha`); health checks are not run.
    public init(config: Config, setup: ReplaySetup = ReplaySetup()) {
        precondition(!setup.interfaces.isEmpty && setup.interfaces.count <= Limits.maxInterfaces)
        self.setup = setup
        interfaceMACs = setup.interfaces.map(\.mac)
        interfaceNames = setup.interfaces.map(\.name)
        var table = ServiceTable()
        _ = table.apply(config)
        names = TraceWords.realNames(table)
        let neighbours = setup.neighbours
        // --neighbour names IPv4 servers; an IPv6 one gets a MAC made up from its last 32 bits.
        let v4 = { (a: IPAddressBits) in a.ipv4 ?? IPv4Address(UInt32(truncatingIfNeeded: a.low)) }
        let specs = table.specs(mac: { neighbours[v4($0)]?.mac ?? ReplaySetup.madeUpMAC(v4($0)) },
                                interface: { UInt8(neighbours[v4($0)]?.interface ?? 0) })
        snapshot = ForwardingSnapshot(services: specs, schedulingKey: config.schedulingKey,
                                      maglevTableSize: config.maglevTableSize, timeouts: table.timeouts,
                                      traceClient: IPv4Address(FlowTrace.everyone))
        var pipelineConfig = PipelineConfig(interfaceMACs: interfaceMACs, mtu: setup.mtu,
                                            flowCapacity: 1 << 16, timeouts: table.timeouts)
        pipelineConfig.trace = trace
        // A capture says nothing of checksums left to offload (tcpdump on a host that sends, or
        // GRO's super-packets): tell them from the bytes, as the AF_XDP path does.
        pipelineConfig.detectPartialChecksums = true
        pipeline = Pipeline(pipelineConfig)
    }

    /// Runs one frame through the pipeline. `microseconds` is when it was captured: the
    /// pipeline's clock runs from the first frame, so flows age as they did. A checksum left
    /// to offload is finished (detected from the bytes).
    public func process(_ frame: [UInt8], microseconds: UInt64 = 0) -> ReplayOutcome {
        guard !frame.isEmpty else {
            return ReplayOutcome(verdict: .drop(.truncatedEthernet), ingress: 0, words: "an empty frame: not replayed",
                                 output: nil)
        }
        let first = firstMicroseconds ?? microseconds
        firstMicroseconds = first
        // A frame stamped before the first (a merged capture) runs at the first one's time.
        let now = UInt32(truncatingIfNeeded: (microseconds > first ? microseconds - first : 0) / 1_000)
        let ingress = Self.ingress(of: frame, interfaces: interfaceMACs)
        var buffer = frame
        let verdict = buffer.withUnsafeMutableBytes { raw in
            pipeline.process(raw.baseAddress!, length: raw.count, ingress: ingress, checksumPending: false, now: now,
                             snapshot: snapshot.view)
        }
        let events = trace.read().events
        var words = events.last.map {
            TraceWords.describe($0.event, names: names, interfaces: interfaceNames)
        } ?? Self.untraced(frame, verdict)
        var output: [UInt8]?
        switch verdict {
        case .forward: output = buffer
        case .reply: output = Array(UnsafeRawBufferPointer(start: pipeline.replyFrame, count: pipeline.replyLength))
        case .drop, .pass: output = nil
        }
        if let output, let leaving = Self.summary(output) { words += "\n  leaves as \(leaving)" }
        return ReplayOutcome(verdict: verdict, ingress: ingress, words: words, output: output)
    }

    /// The interface whose MAC the frame is addressed to; the first if none.
    static func ingress(of frame: [UInt8], interfaces: [MACAddress]) -> Int {
        guard frame.count >= 6 else { return 0 }
        let destination = frame[0..<6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return interfaces.firstIndex { $0.bits == destination } ?? 0
    }

    /// Words for a frame the trace did not see (not IPv4, or not parsed).
    static func untraced(_ frame: [UInt8], _ verdict: Verdict) -> String {
        let etherType = frame.count >= 14 ? UInt16(frame[12]) << 8 | UInt16(frame[13]) : 0
        let what = etherType == 0x0800 ? "IPv4" : etherType == 0x0806 ? "ARP" : etherType == 0x86DD ? "IPv6"
            : etherType == 0x8100 ? "802.1Q" : Self.hex(etherType)
        switch verdict {
        case .drop(let reason): return "\(what) frame of \(frame.count) bytes: dropped: \(reason.name)"
        case .pass: return "\(what) frame of \(frame.count) bytes: not the engine's: left to the kernel"
        case .forward(let egress), .reply(let egress): return "\(what) frame of \(frame.count) bytes: sent out of interface \(egress)"
        }
    }

    /// "0x88cc".
    static func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// "198.18.0.10:40000 > 198.18.0.11:80, TTL 63, 02:00:00:00:00:01 > 02:00:00:00:00:11" for
    /// an IPv4 frame that leaves; "[2001:db8::a]:40000 > [2001:db8::11]:80, hop limit 63, …"
    /// for an IPv6 one.
    static func summary(_ frame: [UInt8]) -> String? {
        var copy = frame
        let parsed = copy.withUnsafeMutableBytes { PacketParser.parse($0.baseAddress!, length: $0.count) }
        let info: PacketInfo
        switch parsed {
        case .ipv4(let parsed), .ipv6(let parsed): info = parsed
        case .notIP, .drop: return nil
        }
        let ports = info.proto == IPProtocol.tcp || info.proto == IPProtocol.udp
        func endpoint(_ address: IPAddressBits, _ port: UInt16) -> String {
            guard info.isIPv6 else { return "\(IPv4Address(address.v4))\(ports ? ":\(port)" : "")" }
            return ports ? "[\(address.ipv6Description)]:\(port)" : address.ipv6Description
        }
        let hops = info.isIPv6 ? "hop limit \(frame[info.l3Offset + 7])" : "TTL \(frame[info.l3Offset + 8])"
        func mac(_ at: Int) -> MACAddress { MACAddress(bits: frame[at..<(at + 6)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) }
        return "\(endpoint(info.source, info.sourcePort)) > \(endpoint(info.destination, info.destinationPort)), "
            + "\(hops), \(mac(6)) > \(mac(0))"
    }
}
