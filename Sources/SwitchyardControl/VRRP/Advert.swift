// What a VRRP advertisement says, as a value (version 2, RFC 3768, over IPv4; version 3, RFC
// 5798 / RFC 9568, over IPv4 or IPv6), and how an instance's config turns into the one it sends.
// The bytes are AdvertEncode.swift's and AdvertDecode.swift's job; nothing here touches a socket.
import SwitchyardCore

/// The protocol's fixed numbers.
public enum VRRP {
    /// IP protocol number (RFC 3768 §5.2.4).
    public static let ipProtocol: UInt8 = 112
    /// 224.0.0.18, where multicast adverts go (RFC 3768 §5.2.2).
    public static let multicastGroup = IPv4Address(0xE000_0012)
    /// ff02::12, where IPv6 adverts go (RFC 5798 §5.1.2.2).
    public static let multicastGroup6 = IPAddressBits(high: 0xFF02_0000_0000_0000, low: 0x12)
    /// Sent, and required on receive for multicast: a router cannot forward an advert in (the
    /// IPv4 TTL, the IPv6 hop limit).
    public static let ttl: UInt8 = 255
    /// DSCP/TOS byte keepalived sends (IPTOS_PREC_INTERNETCONTROL), so that adverts win queues.
    public static let typeOfService: UInt8 = 0xC0
    /// Message type 1; RFC 3768 and 5798 define no other.
    public static let advertisementType: UInt8 = 1
    /// The fixed part of a message, before the addresses.
    public static let headerLength = 8
    /// Version 2's authentication data after the addresses.
    public static let authenticationLength = 8
    /// The count field is 8 bits wide.
    public static let maxAddresses = 255
    /// Version 3's interval field is 12 bits of centiseconds.
    public static let maxV3Interval: UInt16 = 0xFFF
}

/// Version 2's authentication (RFC 3768 §5.3.6; RFC 5798 dropped it). keepalived's AH
/// (type 2) is deliberately not supported: it is deprecated and keepalived warns about it.
public enum VRRPAuthentication: Sendable, Equatable, CustomStringConvertible {
    case none
    /// Type 1, a plain text password: exactly the 8 bytes on the wire, zero padded.
    case password([UInt8])

    /// The password from `auth_pass`, as keepalived stores it: its UTF-8 bytes, cut to 8 (keepalived
    /// warns and truncates) and padded with zeros.
    public static func password(text: String) -> VRRPAuthentication {
        var bytes = Array(text.utf8.prefix(VRRP.authenticationLength))
        bytes += Array(repeating: 0, count: VRRP.authenticationLength - bytes.count)
        return .password(bytes)
    }

    /// The auth type field.
    public var wireType: UInt8 {
        switch self {
        case .none: 0
        case .password: 1
        }
    }

    /// The 8 authentication bytes after the addresses (zeros without a password, as keepalived sends).
    var wireBytes: [UInt8] {
        switch self {
        case .none: Array(repeating: 0, count: VRRP.authenticationLength)
        case .password(let bytes):
            Array(bytes.prefix(VRRP.authenticationLength))
                + Array(repeating: 0, count: VRRP.authenticationLength - min(bytes.count, VRRP.authenticationLength))
        }
    }

    /// Never prints the password: these end up in logs.
    public var description: String {
        switch self {
        case .none: "none"
        case .password: "PASS"
        }
    }
}

/// How the checksum of an advert was (or is to be) computed. Version 2 has one form; version 3
/// over IPv4 has two in the field, and receivers must tell them apart to interoperate. Over IPv6
/// there is one: `.pseudoHeader`, with IPv6's pseudo-header (RFC 5798 §5.2.8).
public enum VRRPChecksumForm: Sendable, Equatable, CustomStringConvertible {
    /// Over the VRRP message alone: version 2 always; version 3 as RFC 9568 says and as keepalived
    /// (2.2.8 on) sends with `v3_checksum_as_v2`.
    case messageOnly
    /// Version 3 with the IPv4 pseudo-header (source, destination, zero, 112, VRRP length) first,
    /// the destination being the one in the IP header: keepalived's default, and RFC 5798's reading.
    case pseudoHeader
    /// Version 3 with a pseudo-header naming 224.0.0.18 although the advert went unicast: what
    /// keepalived 1.3.6 and older sent (`old_unicast_checksum`). Accepted on receive only.
    case pseudoHeaderToGroup

    /// What an instance sends: keepalived's default unless `v3_checksum_as_v2` says otherwise.
    public static func sending(_ config: VRRPInstanceConfig) -> VRRPChecksumForm {
        config.isIPv6 || config.version == 3 && !config.v3ChecksumAsV2 ? .pseudoHeader : .messageOnly
    }

    public var description: String {
        switch self {
        case .messageOnly: "without pseudo-header"
        case .pseudoHeader: "with pseudo-header"
        case .pseudoHeaderToGroup: "with pseudo-header to 224.0.0.18 (keepalived <= 1.3.6 unicast)"
        }
    }
}

/// One advertisement's fields.
public struct VRRPAdvert: Sendable, Equatable {
    /// 2 or 3.
    public var version: UInt8
    public var virtualRouterID: UInt8
    /// 255: the address owner; 0: the master is leaving (the backup takes over at once).
    public var priority: UInt8
    /// Centiseconds. Version 2 carries whole seconds: a decoded one is a multiple of 100, and one
    /// to send is rounded as keepalived rounds (see `wireInterval`).
    public var advertInterval: UInt16
    /// The virtual addresses, in the order they go on the wire: all IPv4 or all IPv6, as the IP
    /// header that carries them.
    public var addresses: [IPAddressBits]
    /// Version 2 only; version 3 has no authentication and ignores this.
    public var authentication: VRRPAuthentication

    public init(version: UInt8, virtualRouterID: UInt8, priority: UInt8, advertInterval: UInt16,
                addresses: [IPAddressBits], authentication: VRRPAuthentication = .none) {
        self.version = version
        self.virtualRouterID = virtualRouterID
        self.priority = priority
        self.advertInterval = advertInterval
        self.addresses = addresses
        self.authentication = authentication
    }

    public init(version: UInt8, virtualRouterID: UInt8, priority: UInt8, advertInterval: UInt16,
                addresses: [IPv4Address], authentication: VRRPAuthentication = .none) {
        self.init(version: version, virtualRouterID: virtualRouterID, priority: priority, advertInterval: advertInterval,
                  addresses: addresses.map(IPAddressBits.init), authentication: authentication)
    }

    /// Whether the addresses are IPv6 ones (an advert with none is taken as IPv4).
    public var isIPv6: Bool { addresses.first.map { !$0.isV4 } ?? false }

    /// The advert an instance sends at `priority` (its configured one unless given: the state
    /// machine passes the effective priority, or 0 when stopping). keepalived sends no password
    /// with version 3 (it ignores `authentication` there), so neither do we.
    public init(instance: VRRPInstanceConfig, priority: UInt8? = nil) {
        self.init(version: instance.version, virtualRouterID: instance.virtualRouterID,
                  priority: priority ?? instance.priority, advertInterval: instance.advertInterval,
                  addresses: instance.virtualAddresses.map(\.address),
                  authentication: instance.version == 2 ? instance.authPass.map { .password(text: $0) } ?? .none : .none)
    }

    /// The interval field's value. Version 2: whole seconds, rounded half up and kept in 1…255, as
    /// keepalived rounds a sub-second or fractional `advert_int` for version 2 (0.4 s goes out as
    /// 1 s, 1.5 s as 2 s). Version 3: centiseconds, at most 4095 (keepalived's limit too).
    public var wireInterval: UInt16 {
        if version == 2 {
            return UInt16(min(max((UInt32(advertInterval) + 50) / 100, 1), 255))
        }
        return min(advertInterval, VRRP.maxV3Interval)
    }

    /// Bytes of the VRRP message (the IP payload) for `count` addresses of 4 bytes, or 16 with
    /// `ipv6`.
    public static func messageLength(version: UInt8, addressCount count: Int, ipv6: Bool = false) -> Int {
        VRRP.headerLength + (ipv6 ? 16 : 4) * count + (version == 2 ? VRRP.authenticationLength : 0)
    }
}
