// Reads a received VRRP packet into an advert: an IPv4 one as a raw socket hands it over, IP
// header first; an IPv6 one as the message with what recvmsg said of its header (source,
// destination, hop limit). Either is checked for everything keepalived checks that the bytes and
// the receiving context can tell; anything wrong is a typed error to count and log, never a crash. Which instance the
// advert is for (its VRID) and whether it matches that instance's config are the caller's:
// `peekVirtualRouterID` finds the instance, AdvertMatch.swift compares.
import SwitchyardCore

/// What the receiver expects, from the instance the advert is for.
public struct VRRPReceiveContext: Sendable, Equatable {
    public enum Delivery: Sendable, Equatable {
        /// To a multicast group: the TTL must be 255 (RFC 3768 §7.1: no router forwarded it).
        case multicast
        /// From unicast peers: any TTL (keepalived checks a per-peer range, not 255) and a unicast
        /// destination.
        case unicast
    }

    public var delivery: Delivery
    /// Version 2's authentication the instance is configured with; version 3 ignores it.
    public var authentication: VRRPAuthentication

    public init(delivery: Delivery = .multicast, authentication: VRRPAuthentication = .none) {
        self.delivery = delivery
        self.authentication = authentication
    }

    /// The context an instance receives in: unicast when it has peers, its version 2 password.
    public init(instance: VRRPInstanceConfig) {
        self.init(delivery: instance.unicastPeers.isEmpty ? .multicast : .unicast,
                  authentication: VRRPAdvert(instance: instance).authentication)
    }
}

/// A decoded advert with what the IP header said about it.
public struct VRRPReceivedAdvert: Sendable, Equatable {
    public var advert: VRRPAdvert
    /// The sender: with equal priorities, the higher primary address wins (RFC 5798 §6.4.3).
    public var source: IPAddressBits
    public var destination: IPAddressBits
    /// The IPv4 TTL or the IPv6 hop limit.
    public var ttl: UInt8
    /// Which checksum form matched: for version 3, how this peer computes its checksums.
    public var checksumForm: VRRPChecksumForm
}

/// Why a received packet is not a valid advert. `counterName` is stable, for counters.
public enum VRRPAdvertError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Shorter than its headers, or than its IP total length says.
    case truncated(received: Int, needed: Int)
    case notIPv4(version: UInt8)
    /// IHL below 5 words.
    case badHeaderLength(words: UInt8)
    /// The IP total length says less than what arrived, beyond what Ethernet padding explains.
    case totalLengthMismatch(header: Int, received: Int)
    case notVRRP(protocol: UInt8)
    /// A multicast advert with a TTL other than 255: it crossed a router, or was forged off-link.
    case ttl(UInt8)
    /// A multicast instance received a unicast advert, or a unicast one a multicast advert.
    case unexpectedDestination(IPAddressBits, expectedMulticast: Bool)
    case unsupportedVersion(UInt8)
    /// Version 2 (or anything but 3) over IPv6: RFC 5798 defines IPv6 for version 3 only.
    case notVersion3OverIPv6(UInt8)
    case notAdvertisement(type: UInt8)
    /// The VRRP message's length does not fit its address count.
    case lengthMismatch(addressCount: Int, expected: Int, received: Int)
    /// Neither checksum form fits (version 3 tries with and without the pseudo-header).
    case badChecksum(version: UInt8, received: UInt16)
    /// Version 2 auth type other than 0 or 1 (2, IPsec AH, is not supported).
    case unknownAuthType(UInt8)
    case authTypeMismatch(expected: UInt8, received: UInt8)
    case wrongPassword

    public var counterName: String {
        switch self {
        case .truncated: "truncated"
        case .notIPv4: "not_ipv4"
        case .badHeaderLength: "bad_ip_header_length"
        case .totalLengthMismatch: "ip_length_mismatch"
        case .notVRRP: "not_vrrp"
        case .ttl: "ttl"
        case .unexpectedDestination: "destination"
        case .unsupportedVersion, .notVersion3OverIPv6: "version"
        case .notAdvertisement: "type"
        case .lengthMismatch: "length"
        case .badChecksum: "checksum"
        case .unknownAuthType: "auth_type"
        case .authTypeMismatch: "auth_type_mismatch"
        case .wrongPassword: "password"
        }
    }

    public var description: String {
        switch self {
        case .truncated(let received, let needed): "packet too short: \(received) bytes, needs \(needed)"
        case .notIPv4(let version): "IP version \(version), not 4"
        case .badHeaderLength(let words): "IP header length \(words) words, below 5"
        case .totalLengthMismatch(let header, let received): "IP total length \(header) but \(received) bytes received"
        case .notVRRP(let proto): "IP protocol \(proto), not VRRP (112)"
        case .ttl(let ttl): "TTL \(ttl), must be 255"
        case .unexpectedDestination(let address, let expectedMulticast):
            "destination \(address) is \(expectedMulticast ? "unicast but the instance uses multicast" : "multicast but the instance uses unicast peers")"
        case .unsupportedVersion(let version): "VRRP version \(version), not 2 or 3"
        case .notVersion3OverIPv6(let version): "VRRP version \(version) over IPv6, where only version 3 is defined"
        case .notAdvertisement(let type): "VRRP type \(type), not an advertisement (1)"
        case .lengthMismatch(let count, let expected, let received):
            "VRRP message of \(received) bytes, but \(count) addresses make \(expected)"
        case .badChecksum(let version, let received):
            "bad VRRPv\(version) checksum 0x\(String(received, radix: 16))"
                + (version == 3 ? " (neither with nor without the pseudo-header)" : "")
        case .unknownAuthType(let type): "VRRPv2 auth type \(type) unknown or unsupported"
        case .authTypeMismatch(let expected, let received): "VRRPv2 auth type \(received), expected \(expected)"
        case .wrongPassword: "VRRPv2 password does not match"
        }
    }
}

extension VRRPAdvert {
    /// The VRID of what looks like an IPv4 VRRP packet, to pick the instance (and so the context)
    /// before decoding; nil when the bytes are too short to say.
    public static func peekVirtualRouterID(_ packet: [UInt8]) -> UInt8? {
        guard packet.count >= 20 else { return nil }
        let headerLength = Int(packet[0] & 0x0F) * 4
        guard headerLength >= 20, packet.count >= headerLength + 2 else { return nil }
        return packet[headerLength + 1]
    }

    /// Decodes and checks a received IPv4 packet. Checks in order: IP header, delivery (TTL,
    /// destination), VRRP version and type, length against the address count, checksum, and
    /// last version 2's authentication (so a corrupted packet counts as a checksum error, not a
    /// wrong password).
    public static func decode(_ packet: [UInt8], context: VRRPReceiveContext) throws(VRRPAdvertError) -> VRRPReceivedAdvert {
        guard packet.count >= 20 else { throw .truncated(received: packet.count, needed: 20) }
        guard packet[0] >> 4 == 4 else { throw .notIPv4(version: packet[0] >> 4) }
        let ihl = Int(packet[0] & 0x0F) * 4
        guard ihl >= 20 else { throw .badHeaderLength(words: packet[0] & 0x0F) }
        guard packet.count >= ihl + VRRP.headerLength else {
            throw .truncated(received: packet.count, needed: ihl + VRRP.headerLength)
        }
        guard packet[9] == VRRP.ipProtocol else { throw .notVRRP(protocol: packet[9]) }

        // The total length bounds the packet. More bytes than it says can only be Ethernet padding
        // of a short frame (46 bytes of payload at most), which keepalived lets through too.
        let total = Int(packet[2]) << 8 | Int(packet[3])
        if total > packet.count { throw .truncated(received: packet.count, needed: total) }
        if total < ihl + VRRP.headerLength || (total < packet.count && packet.count > 46) {
            throw .totalLengthMismatch(header: total, received: packet.count)
        }

        let source = IPAddressBits(v4: packet.bigEndian32(at: 12))
        let destination = IPAddressBits(v4: packet.bigEndian32(at: 16))
        return try decodeMessage(packet[ihl..<total], source: source, destination: destination, ttl: packet[8],
                                 context: context)
    }

    /// Decodes and checks a received IPv6 advert: `message` is the IPv6 payload (the VRRP message)
    /// and the rest what recvmsg said of its header. Checked as an IPv4 advert from the delivery
    /// on; the version must be 3.
    public static func decode6(_ message: [UInt8], source: IPAddressBits, destination: IPAddressBits, hopLimit: UInt8,
                               context: VRRPReceiveContext) throws(VRRPAdvertError) -> VRRPReceivedAdvert {
        guard message.count >= VRRP.headerLength else { throw .truncated(received: message.count, needed: VRRP.headerLength) }
        return try decodeMessage(message[...], source: source, destination: destination, ttl: hopLimit, context: context)
    }

    /// The checks after the IP header, for either family (the destination's): delivery, version
    /// and type, length against the address count, checksum, version 2's authentication.
    private static func decodeMessage(_ message: ArraySlice<UInt8>, source: IPAddressBits, destination: IPAddressBits,
                                      ttl: UInt8, context: VRRPReceiveContext) throws(VRRPAdvertError) -> VRRPReceivedAdvert {
        let ipv6 = !destination.isV4
        let multicast = ipv6 ? destination.high >> 56 == 0xFF : destination.v4 >> 28 == 0xE
        switch context.delivery {
        case .multicast:
            guard ttl == VRRP.ttl else { throw .ttl(ttl) }
            guard multicast else { throw .unexpectedDestination(destination, expectedMulticast: true) }
        case .unicast:
            guard !multicast else { throw .unexpectedDestination(destination, expectedMulticast: false) }
        }

        let vrrp = message.startIndex
        let version = message[vrrp] >> 4
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        if ipv6 && version != 3 { throw .notVersion3OverIPv6(version) }
        let type = message[vrrp] & 0x0F
        guard type == VRRP.advertisementType else { throw .notAdvertisement(type: type) }
        let count = Int(message[vrrp + 3])
        let expected = messageLength(version: version, addressCount: count, ipv6: ipv6)
        guard message.count == expected else {
            throw .lengthMismatch(addressCount: count, expected: expected, received: message.count)
        }

        let form = try matchingChecksumForm(message, version: version, source: source, destination: destination)

        var addresses: [IPAddressBits] = []
        addresses.reserveCapacity(count)
        for i in 0..<count {
            if ipv6 {
                let at = vrrp + 8 + 16 * i
                addresses.append(IPAddressBits(high: message.bigEndian64(at: at), low: message.bigEndian64(at: at + 8)))
            } else {
                addresses.append(IPAddressBits(v4: message.bigEndian32(at: vrrp + 8 + 4 * i)))
            }
        }

        let interval: UInt16
        var authentication = VRRPAuthentication.none
        if version == 2 {
            interval = UInt16(message[vrrp + 5]) * 100
            authentication = try checkAuthentication(type: message[vrrp + 4],
                                                     data: message[(message.endIndex - VRRP.authenticationLength)...],
                                                     expected: context.authentication)
        } else {
            // The top 4 bits are reserved: ignored on receive, as RFC 5798 §5.2.6 says.
            interval = (UInt16(message[vrrp + 4]) << 8 | UInt16(message[vrrp + 5])) & VRRP.maxV3Interval
        }
        let advert = VRRPAdvert(version: version, virtualRouterID: message[vrrp + 1], priority: message[vrrp + 2],
                                advertInterval: interval, addresses: addresses, authentication: authentication)
        return VRRPReceivedAdvert(advert: advert, source: source, destination: destination, ttl: ttl, checksumForm: form)
    }

    /// The checksum form that makes `message` sum to zero. Version 3 tries keepalived's default
    /// first, then RFC 9568's, then (unicast only) keepalived 1.3.6's group address.
    private static func matchingChecksumForm(_ message: ArraySlice<UInt8>, version: UInt8, source: IPAddressBits,
                                             destination: IPAddressBits) throws(VRRPAdvertError) -> VRRPChecksumForm {
        let candidates: [VRRPChecksumForm] = version == 2 ? [.messageOnly]
            : !destination.isV4 ? [.pseudoHeader]
            : destination == IPAddressBits(VRRP.multicastGroup) ? [.pseudoHeader, .messageOnly]
            : [.pseudoHeader, .messageOnly, .pseudoHeaderToGroup]
        for form in candidates {
            let initial = VRRPChecksum.initialSum(form, source: source, destination: destination, length: message.count)
            if VRRPChecksum.checksum(message, initial: initial) == 0 { return form }
        }
        let field = UInt16(message[message.startIndex + 6]) << 8 | UInt16(message[message.startIndex + 7])
        throw .badChecksum(version: version, received: field)
    }

    /// Version 2's authentication, checked against the instance's as keepalived does: the types
    /// must agree, and a password must match in all 8 bytes.
    private static func checkAuthentication(type: UInt8, data: ArraySlice<UInt8>,
                                            expected: VRRPAuthentication) throws(VRRPAdvertError) -> VRRPAuthentication {
        guard type <= 1 else { throw .unknownAuthType(type) }
        guard type == expected.wireType else { throw .authTypeMismatch(expected: expected.wireType, received: type) }
        guard type == 1 else { return .none }
        // Compared without an early exit, so the time taken does not tell how much of a guess was right.
        var difference: UInt8 = 0
        for (a, b) in zip(data, expected.wireBytes) { difference |= a ^ b }
        guard difference == 0 else { throw .wrongPassword }
        return .password(Array(data))
    }
}

extension RandomAccessCollection where Element == UInt8, Index == Int {
    func bigEndian32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }

    func bigEndian64(at offset: Int) -> UInt64 {
        UInt64(bigEndian32(at: offset)) << 32 | UInt64(bigEndian32(at: offset + 4))
    }
}
