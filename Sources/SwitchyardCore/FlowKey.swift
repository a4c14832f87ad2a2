// A flow's key, as every flow table looks flows up by it, and the hint a worker works out
// ahead of the pipeline for a frame (its key and hash).

/// A flow's identity: the client-side 5-tuple, either family (IPAddressBits; ports in host
/// byte order).
public struct FlowKey: Hashable, Sendable {
    public var source: IPAddressBits
    public var destination: IPAddressBits
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var proto: UInt8

    @inline(__always)
    public init(source: IPAddressBits, destination: IPAddressBits, sourcePort: UInt16, destinationPort: UInt16,
                proto: UInt8) {
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.proto = proto
    }

    /// An IPv4 flow (addresses in host byte order).
    @inline(__always)
    public init(source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16, proto: UInt8) {
        self.init(source: IPAddressBits(v4: source), destination: IPAddressBits(v4: destination),
                  sourcePort: sourcePort, destinationPort: destinationPort, proto: proto)
    }

    /// Whether the key is an IPv4 one: both addresses mapped (an IPv6 packet's addresses never
    /// lie in ::/64, and a template's masked client still has a VIP beside it).
    @inline(__always)
    public var isV4: Bool { source.high | destination.high == 0 }

    /// The ports and protocol as one word.
    @inline(__always)
    var portsWord: UInt64 { UInt64(sourcePort) << 48 | UInt64(destinationPort) << 32 | UInt64(proto) }

    /// The keyed hash of the flow (SipHash-1-3). An IPv4 flow hashes its two addresses and the
    /// ports in two words, as before IPv6 came (Maglev tables, and so the real server each flow
    /// gets, stay what they were); an IPv6 flow hashes all five words.
    @inline(__always)
    public func hash(with key: HashKey) -> UInt64 {
        if _fastPath(isV4) {
            return SipHash.hash(UInt64(source.v4) << 32 | UInt64(destination.v4), portsWord, key: key)
        }
        return SipHash.hash(source.high, source.low, destination.high, destination.low, portsWord, key: key)
    }
}

/// A frame's flow key and its hash, worked out ahead of the pipeline (`Pipeline.flowHint`).
public struct FlowHint: Sendable {
    public var key: FlowKey
    /// 0: no hint (a flow's hash is never 0).
    public var hash: UInt32

    public init(key: FlowKey, hash: UInt32) {
        self.key = key
        self.hash = hash
    }

    /// Computed, not stored: a stored static would be reached through a lazy-initialisation
    /// check on every packet.
    @inline(__always)
    public static var none: FlowHint {
        FlowHint(key: FlowKey(source: .zero, destination: .zero, sourcePort: 0, destinationPort: 0, proto: 0), hash: 0)
    }
}
