// A flow as it leaves or enters a worker's table: the plain record that connection sync and
// connection listings carry between a worker and the control plane (FlowExchange), with the
// addresses spelled out so that no reader needs the worker's snapshot IDs or hash key.

/// One connection or persistence template, by value (either family). A POD struct: it is copied
/// through FlowRecordRing's preallocated slots, never allocated.
public struct FlowRecord: Sendable, Equatable {
    /// The client's address; for a template, the client network (address & persistence mask).
    public var client: IPAddressBits
    public var virtual: IPAddressBits
    public var real: IPAddressBits
    /// 0 for a template.
    public var clientPort: UInt16
    public var virtualPort: UInt16
    public var realPort: UInt16
    /// IPPROTO_TCP or IPPROTO_UDP (never with the table's internal marks).
    public var proto: UInt8
    public var state: FlowState
    /// FlowFlags: `nat`, `template`, `synced`.
    public var flags: UInt8
    /// Why the record exists: `FlowRecord.change`, or the purposes of the walk it comes from
    /// (`FlowRecord.walkSync`, `FlowRecord.walkList`), or `FlowRecord.walkDone` (a marker, with
    /// the walk's number in `realID`).
    public var origin: UInt8
    /// The local interface the client's packets arrive on (NAT replies leave by it).
    public var interface: UInt8
    /// The MAC the client's packets come from (NAT replies go back to it).
    public var peerMAC: MACAddress
    /// Milliseconds until the entry expires if nothing refreshes it, on the sender's clock.
    public var expiresIn: UInt32
    /// Leaving a worker: the real server's ID in that worker's snapshot. Entering one: the ID in
    /// the snapshot the control plane resolved the addresses against (the worker checks it again).
    public var realID: UInt32

    public static let change: UInt8 = 0
    public static let walkSync: UInt8 = 1
    public static let walkList: UInt8 = 2
    public static let walkDone: UInt8 = 0x80

    public init(client: IPAddressBits, virtual: IPAddressBits, real: IPAddressBits, clientPort: UInt16, virtualPort: UInt16,
                realPort: UInt16, proto: UInt8, state: FlowState, flags: UInt8, origin: UInt8 = FlowRecord.change,
                interface: UInt8 = 0, peerMAC: MACAddress = .zero, expiresIn: UInt32 = 0, realID: UInt32 = 0) {
        self.client = client
        self.virtual = virtual
        self.real = real
        self.clientPort = clientPort
        self.virtualPort = virtualPort
        self.realPort = realPort
        self.proto = proto
        self.state = state
        self.flags = flags
        self.origin = origin
        self.interface = interface
        self.peerMAC = peerMAC
        self.expiresIn = expiresIn
        self.realID = realID
    }

    /// The marker a worker queues when it has walked its whole table for walk `number`.
    public static func done(walk number: UInt32) -> FlowRecord {
        FlowRecord(client: .zero, virtual: .zero, real: .zero, clientPort: 0, virtualPort: 0, realPort: 0, proto: 0,
                   state: .none, flags: 0, origin: walkDone, realID: number)
    }

    public var isTemplate: Bool { flags & FlowFlags.template != 0 }
    public var isNAT: Bool { flags & FlowFlags.nat != 0 }
    public var isDoneMarker: Bool { origin & FlowRecord.walkDone != 0 }
}
