// What one connection-sync message carries, as typed values: the connection entries of IPVS's
// sync protocol version 1 (net/netfilter/ipvs/ip_vs_sync.c, `struct ip_vs_sync_mesg` and
// `struct ip_vs_sync_v4` / `ip_vs_sync_v6`), their flags (include/uapi/linux/ip_vs.h,
// IP_VS_CONN_F_*) and their optional parameters. The bytes are SyncCodec's business; the
// states' numbering and our FlowState twins are SyncStates'.
import SwitchyardCore

/// The sync protocol's constants, named as the kernel names them.
public enum SyncProtocol {
    /// `SYNC_PROTO_VER`: the version byte of the message header.
    public static let version: UInt8 = 1
    /// `IP_VS_SYNC_GROUP` / `IP_VS_SYNC_PORT`: where a kernel master sends by default (224.0.0.81:8848).
    public static let defaultGroup = IPv4Address(0xE000_0051)
    public static let defaultPort: UInt16 = 8848
    /// `IP_VS_PEDATA_MAXLEN` and `IP_VS_PENAME_MAXLEN`: a backup refuses longer persistence data.
    public static let persistenceDataMaxLength = 255
    public static let persistenceEngineMaxLength = 16
    /// IP protocol numbers the receiver checks states for.
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
}

/// How a connection reaches its real server: the low three bits of the connection flags
/// (`IP_VS_CONN_F_FWD_MASK`), numbered as IPVS numbers them.
public enum SyncForwarding: UInt32, Sendable, CaseIterable {
    /// `IP_VS_CONN_F_MASQ`: NAT.
    case masquerade = 0
    /// `IP_VS_CONN_F_LOCALNODE`: the real server is the balancer itself.
    case localNode = 1
    /// `IP_VS_CONN_F_TUNNEL`: IP-in-IP (or GUE/GRE) to the real server.
    case tunnel = 2
    /// `IP_VS_CONN_F_DROUTE`: direct routing (DR), the real server answers the client itself.
    case directRoute = 3
    /// `IP_VS_CONN_F_BYPASS`: cache bypass, sent on to the original destination.
    case bypass = 4
}

/// The connection flags as they travel (`__be32 flags`; only bits 0–15 are ever sent).
public struct SyncFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The forwarding-method bits (`IP_VS_CONN_F_FWD_MASK`).
    public static let forwardingMask = SyncFlags(rawValue: 0x0007)
    /// `IP_VS_CONN_F_SYNC`: the entry was made by sync (the backup sets it on what it installs).
    public static let sync = SyncFlags(rawValue: 0x0020)
    /// `IP_VS_CONN_F_HASHED`: internal to the kernel's table; a sender clears it.
    public static let hashed = SyncFlags(rawValue: 0x0040)
    /// `IP_VS_CONN_F_NOOUTPUT`: the balancer sees no replies (every method but NAT), so IPVS
    /// moves the TCP state by its INPUT-ONLY table.
    public static let noOutput = SyncFlags(rawValue: 0x0080)
    /// `IP_VS_CONN_F_INACTIVE`: not ESTABLISHED; ipvsadm counts it under InActConn.
    public static let inactive = SyncFlags(rawValue: 0x0100)
    /// `IP_VS_CONN_F_OUT_SEQ` / `IP_VS_CONN_F_IN_SEQ`: sequence numbers are adjusted (an
    /// application helper such as FTP's changed the payload length); the entry then carries
    /// the sequence option.
    public static let outSequence = SyncFlags(rawValue: 0x0200)
    public static let inSequence = SyncFlags(rawValue: 0x0400)
    /// `IP_VS_CONN_F_NO_CPORT`: the client port is not known yet (FTP data connections).
    public static let noClientPort = SyncFlags(rawValue: 0x0800)
    /// `IP_VS_CONN_F_TEMPLATE`: a persistence template (client → real server for the
    /// persistence timeout), not a connection.
    public static let template = SyncFlags(rawValue: 0x1000)
    /// `IP_VS_CONN_F_ONE_PACKET`: one-packet scheduling; a kernel master never syncs these.
    public static let onePacket = SyncFlags(rawValue: 0x2000)

    /// `IP_VS_CONN_F_BACKUP_MASK`: the bits a kernel backup keeps from a received entry
    /// (it adds `sync` itself and drops the rest).
    public static let backupMask: SyncFlags = [.forwardingMask, .noOutput, .inactive, .outSequence,
                                               .inSequence, .noClientPort, .template]

    /// The forwarding method, nil for the three bit patterns IPVS leaves unnamed (5–7).
    public var forwarding: SyncForwarding? {
        SyncForwarding(rawValue: rawValue & SyncFlags.forwardingMask.rawValue)
    }

    /// The flags a kernel master would send for a connection (or template) forwarded by
    /// `method`: the method's bits, `noOutput` for every method but NAT (as IPVS sets it on
    /// the destination), `inactive` unless the connection is established.
    public static func connection(_ method: SyncForwarding, established: Bool, template: Bool = false) -> SyncFlags {
        var flags = SyncFlags(rawValue: method.rawValue)
        if method != .masquerade { flags.insert(.noOutput) }
        if !established { flags.insert(.inactive) }
        if template { flags.insert(.template) }
        return flags
    }
}

/// An IPv6 address as sixteen bytes in network order, kept as two words.
public struct SyncIPv6Address: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
}

/// The three addresses of an entry. One family for all three: the wire has one type bit
/// (`STYPE_F_INET6`) for the whole entry, so a mixed entry cannot be said.
public enum SyncAddresses: Hashable, Sendable {
    case v4(client: IPv4Address, virtual: IPv4Address, destination: IPv4Address)
    case v6(client: SyncIPv6Address, virtual: SyncIPv6Address, destination: SyncIPv6Address)
}

/// One direction's sequence adjustment (`struct ip_vs_seq`: init_seq, delta, previous_delta).
public struct SyncSequenceAdjustment: Hashable, Sendable {
    public var initial: UInt32
    public var delta: UInt32
    public var previousDelta: UInt32
    public init(initial: UInt32, delta: UInt32, previousDelta: UInt32) {
        self.initial = initial
        self.delta = delta
        self.previousDelta = previousDelta
    }
}

/// The sequence option (`IPVS_OPT_SEQ_DATA`, `struct ip_vs_sync_conn_options`): both directions.
public struct SyncSequence: Hashable, Sendable {
    public var incoming: SyncSequenceAdjustment
    public var outgoing: SyncSequenceAdjustment
    public init(incoming: SyncSequenceAdjustment, outgoing: SyncSequenceAdjustment) {
        self.incoming = incoming
        self.outgoing = outgoing
    }
}

/// A persistence engine's data and the engine's name (`IPVS_OPT_PE_DATA`, `IPVS_OPT_PE_NAME`;
/// IPVS's one engine is "sip", whose data is the Call-ID). Both travel together: a kernel
/// backup drops an entry that has data but no name. Lengths are checked here so that an
/// encoded entry is never one a backup would refuse.
public struct SyncPersistenceData: Hashable, Sendable {
    public let engine: [UInt8]
    public let data: [UInt8]

    /// nil when either part is empty or longer than the kernel accepts.
    public init?(engine: [UInt8], data: [UInt8]) {
        guard (1...SyncProtocol.persistenceEngineMaxLength).contains(engine.count),
              (1...SyncProtocol.persistenceDataMaxLength).contains(data.count) else { return nil }
        self.engine = engine
        self.data = data
    }
}

/// One connection (or persistence template) as the master tells it to the backup.
public struct SyncEntry: Hashable, Sendable {
    /// The IP protocol number (6 TCP, 17 UDP; 0 for a firewall-mark template).
    public var protocolNumber: UInt8
    public var flags: SyncFlags
    /// The state in IPVS's numbering for the protocol (SyncStates maps TCP and UDP to FlowState;
    /// a template's is IP_VS_CTPL_S_*).
    public var state: UInt16
    public var addresses: SyncAddresses
    public var clientPort: UInt16
    public var virtualPort: UInt16
    public var destinationPort: UInt16
    /// The firewall mark of a fwmark service, 0 otherwise.
    public var fwmark: UInt32
    /// Seconds until the entry expires if nothing refreshes it; 0 tells a backup to use its own
    /// timeout for the state (a kernel backup does).
    public var timeout: UInt32
    public var sequence: SyncSequence?
    public var persistence: SyncPersistenceData?
    /// Switchyard's own option: the MAC the client's packets reach the master from (a NAT
    /// backup sends the replies there after a takeover). Sent with the may-ignore bit, so a
    /// kernel backup skips it; a kernel master never sends it.
    public var peerMAC: MACAddress?

    public init(protocolNumber: UInt8, flags: SyncFlags, state: UInt16, addresses: SyncAddresses,
                clientPort: UInt16, virtualPort: UInt16, destinationPort: UInt16, fwmark: UInt32 = 0,
                timeout: UInt32, sequence: SyncSequence? = nil, persistence: SyncPersistenceData? = nil,
                peerMAC: MACAddress? = nil) {
        self.protocolNumber = protocolNumber
        self.flags = flags
        self.state = state
        self.addresses = addresses
        self.clientPort = clientPort
        self.virtualPort = virtualPort
        self.destinationPort = destinationPort
        self.fwmark = fwmark
        self.timeout = timeout
        self.sequence = sequence
        self.persistence = persistence
        self.peerMAC = peerMAC
    }

    public var isTemplate: Bool { flags.contains(.template) }
}

/// Why a well-formed entry was left out of a decoded message, as a kernel backup leaves it out
/// (it goes on with the next entry; the message is not dropped).
public enum SyncSkipReason: Hashable, Sendable {
    /// An option type without the "optional" bit (`IPVS_OPT_F_PARAM`) that this side does not know.
    case unknownMandatoryOption(type: UInt8)
    /// A TCP or UDP state beyond the protocol's last (`state >= pp->num_states`).
    case invalidState(protocolNumber: UInt8, state: UInt16)
    /// Persistence data without the engine's name.
    case persistenceDataWithoutEngine
}

/// An entry left out of a decoded message, by its index in the datagram.
public struct SyncSkippedEntry: Hashable, Sendable {
    public var index: Int
    public var reason: SyncSkipReason
    public init(index: Int, reason: SyncSkipReason) {
        self.index = index
        self.reason = reason
    }
}

/// A datagram's contents: the sender's sync ID and its entries, in order.
public struct SyncMessage: Hashable, Sendable {
    public var syncID: UInt8
    public var entries: [SyncEntry]
    /// Entries a kernel backup would skip (decoding only; the sender never makes them).
    public var skipped: [SyncSkippedEntry]

    public init(syncID: UInt8, entries: [SyncEntry]) {
        self.syncID = syncID
        self.entries = entries
        self.skipped = []
    }

    /// Whether a backup configured with `syncID` takes this message: a backup with ID 0 takes
    /// every message, any other only its own (ip_vs_process_message's SyncID check).
    public func isFor(backupSyncID syncID: UInt8) -> Bool {
        syncID == 0 || syncID == self.syncID
    }
}
