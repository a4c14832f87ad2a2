// What a flow table slot holds: the fields every flow has (FlowEntry, which is also an IPv4
// slot), their flag bits, and what a slot type must do (FlowSlot). IPv6 slots are in
// FlowTableFamilies.swift.

/// What a flow table's slot is: the common fields (`entry`) and a key it can be made from and
/// matched against. FlowEntry (IPv4) and FlowEntry6 (IPv6).
public protocol FlowSlot: Sendable {
    var entry: FlowEntry { get set }
    static var empty: Self { get }
    init(key: FlowKey, entry: FlowEntry)
    func matches(_ k: FlowKey, _ h: UInt32) -> Bool
}

/// Flag bits of a flow entry.
public enum FlowFlags {
    /// The entry maps a NAT reply (real server → client) back to its flow.
    public static let reply: UInt8 = 1
    /// The flow is forwarded by NAT (both directions tracked).
    public static let nat: UInt8 = 2
    /// A persistence template (client network → real server), not a connection.
    public static let template: UInt8 = 4
    /// Installed by connection sync (from the master), not made here by a packet; ipvsadm's
    /// IP_VS_CONN_F_SYNC. Kept for the flow's life, as IPVS keeps it.
    public static let synced: UInt8 = 8
    /// An IPv6 flow (set by FlowEntry6): its addresses are in its IPv6 slot, not in the entry.
    public static let ipv6: UInt8 = 16
}

/// One IPv4 slot, and the fields every slot has: 36 bytes. `hash == 0` marks an empty slot
/// (stored hashes are never 0). In an IPv6 slot (FlowEntry6) the two addresses here are unused.
public struct FlowEntry: FlowSlot {
    public var hash: UInt32
    /// IPv4 addresses, host byte order.
    public var source: UInt32
    public var destination: UInt32
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var proto: UInt8
    public var state: FlowState
    public var flags: UInt8
    /// The local interface the client's packets arrive on (NAT replies leave by it).
    public var interface: UInt8
    /// The real server the flow is bound to (an ID from the forwarding snapshot).
    public var realID: UInt32
    /// Milliseconds on the worker's clock when the flow last saw a packet (wrapping).
    public var lastSeen: UInt32
    /// The MAC the client's packets came from (the client or its router): NAT replies go back
    /// to it. Split in two fields to keep the entry 4-byte aligned.
    public var peerMACHigh: UInt32
    public var peerMACLow: UInt16
    /// Packets since the flow was made, for connection sync's every-N-packets rule (wrapping;
    /// counted only while the worker syncs).
    public var syncPackets: UInt16

    /// Only IPv4 keys come to an IPv4 table (FlowTable sorts them), so the mapped addresses'
    /// low words are the whole of them.
    @inline(__always)
    public func matches(_ k: FlowKey, _ h: UInt32) -> Bool {
        hash == h && source == k.source.v4 && destination == k.destination.v4 && sourcePort == k.sourcePort
            && destinationPort == k.destinationPort && proto == k.proto
    }

    @inline(__always)
    public var entry: FlowEntry {
        get { self }
        set { self = newValue }
    }

    public var peerMAC: MACAddress {
        get { MACAddress(bits: UInt64(peerMACHigh) << 16 | UInt64(peerMACLow)) }
        set {
            peerMACHigh = UInt32(truncatingIfNeeded: newValue.bits >> 16)
            peerMACLow = UInt16(truncatingIfNeeded: newValue.bits)
        }
    }

    public static let empty = FlowEntry(hash: 0, source: 0, destination: 0, sourcePort: 0, destinationPort: 0, proto: 0,
                                 state: .none, flags: 0, interface: 0, realID: 0, lastSeen: 0, peerMACHigh: 0,
                                 peerMACLow: 0, syncPackets: 0)
}

// In an extension, so that the memberwise initializer stays synthesized.
extension FlowEntry {
    @inline(__always)
    public init(key: FlowKey, entry: FlowEntry) {
        self = entry
        source = key.source.v4
        destination = key.destination.v4
    }
}
