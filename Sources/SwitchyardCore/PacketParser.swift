// Bounds-checked parsing of Ethernet (one optional 802.1Q tag), IPv4 and TCP/UDP/ICMP (IPv6
// is PacketParser6.swift's). Each header is checked for length once, before any of its fields
// is read.
//
//  Ethernet II            802.1Q (optional)       IPv4 (RFC 791 §3.1)
//  +------+------+----+   +------+------+         0               1               2               3
//  | dst  | src  |type|   | TPID | TCI  |         +-------+-------+---------------+-------------------------------+
//  |  6   |  6   | 2  |   |0x8100|  2   |         |Version|  IHL  |    DSCP/ECN   |          Total Length         |
//  +------+------+----+   +------+------+         +-------+-------+---------------+-----+-------------------------+
//                                                 |         Identification        |Flags|     Fragment Offset     |
//  TCP: ports 0-3, data offset at 12 (high nibble),+---------------+---------------+-----+-------------------------+
//       flags at 13, checksum at 16              |      TTL      |    Protocol   |        Header Checksum        |
//  UDP: ports 0-3, length 4, checksum 6           +---------------+---------------+-------------------------------+
//  ICMP: type 0, code 1, checksum 2               |                 Source / Destination Address                  |

/// IP protocol numbers used here.
public enum IPProtocol {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
}

/// TCP flag bits (RFC 793 §3.1).
public enum TCPFlags {
    public static let fin: UInt8 = 0x01
    public static let syn: UInt8 = 0x02
    public static let rst: UInt8 = 0x04
    public static let ack: UInt8 = 0x10
}

/// Where the headers of one IPv4 or IPv6 frame are, and the fields the pipeline needs.
public struct PacketInfo: Sendable {
    /// Offset of the IP header (14, or 18 with an 802.1Q tag).
    public var l3Offset: Int = 0
    /// Offset of the TCP/UDP/ICMP header (for IPv6: past every extension header).
    public var l4Offset: Int = 0
    /// The IP packet's length, headers included (IPv4 total length; IPv6 40 + payload
    /// length): the frame may carry Ethernet padding beyond it.
    public var ipLength: Int = 0
    /// The upper-layer protocol (for IPv6: the last next-header value, past the extensions).
    public var proto: UInt8 = 0
    public var isIPv6 = false
    public var source = IPAddressBits.zero
    public var destination = IPAddressBits.zero
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var tcpFlags: UInt8 = 0
}

/// The outcome of parsing: an IPv4 packet to look at, an IPv6 one (PacketParser6.swift), a
/// frame that is neither (left to the kernel), or a drop with its reason.
public enum ParseOutcome: Sendable {
    case ipv4(PacketInfo)
    case ipv6(PacketInfo)
    case notIP
    case drop(Counter)
}

public enum PacketParser {
    static let etherTypeIPv4: UInt16 = 0x0800
    static let etherTypeVLAN: UInt16 = 0x8100
    static let etherTypeIPv6: UInt16 = 0x86DD

    /// Parses `length` bytes at `frame`: Ethernet, one optional 802.1Q tag, IPv4 (header
    /// checksum verified) and the TCP/UDP/ICMP header. Reads nothing it has not bounds-checked.
    @inline(__always)
    public static func parse(_ frame: UnsafeMutableRawPointer, length: Int) -> ParseOutcome {
        guard length >= 14 else { return .drop(.truncatedEthernet) }
        var l3 = 14
        var etherType = load16(frame, 12)
        if etherType == etherTypeVLAN {
            guard length >= 18 else { return .drop(.truncatedVLAN) }
            etherType = load16(frame, 16)
            l3 = 18
        }
        guard etherType == etherTypeIPv4 else {
            return etherType == etherTypeIPv6 ? parseIPv6(frame, length: length, l3: l3) : .notIP
        }

        guard length >= l3 + 20 else { return .drop(.truncatedIPv4) }
        let versionIHL = frame.load(fromByteOffset: l3, as: UInt8.self)
        let headerLength = Int(versionIHL & 0x0F) * 4
        guard versionIHL >> 4 == 4, headerLength >= 20 else { return .drop(.badIPv4Header) }
        guard length >= l3 + headerLength else { return .drop(.truncatedIPv4) }
        let totalLength = Int(load16(frame, l3 + 2))
        guard totalLength >= headerLength, l3 + totalLength <= length else { return .drop(.badIPv4Length) }
        // A header without options (nearly all) is summed in five loads, not the general loop.
        let headerSum = headerLength == 20 ? InternetChecksum.sum20(frame + l3)
                                           : InternetChecksum.sum(frame + l3, headerLength)
        guard InternetChecksum.fold(headerSum) == 0xFFFF else {
            return .drop(.badIPv4Checksum)
        }

        var info = PacketInfo()
        info.l3Offset = l3
        info.l4Offset = l3 + headerLength
        info.ipLength = totalLength
        info.proto = frame.load(fromByteOffset: l3 + 9, as: UInt8.self)
        info.source = IPAddressBits(v4: load32(frame, l3 + 12))
        info.destination = IPAddressBits(v4: load32(frame, l3 + 16))

        // A fragment (MF set or offset non-zero) has its ports, if any, in the first piece only.
        let fragment = load16(frame, l3 + 6)
        let isFragment = fragment & 0x3FFF != 0

        if isFragment && (info.proto == IPProtocol.tcp || info.proto == IPProtocol.udp || info.proto == IPProtocol.icmp) {
            return .drop(.ipFragment)
        }
        if let reason = parseTransport(frame, &info, l4Length: totalLength - headerLength, icmp: IPProtocol.icmp) {
            return .drop(reason)
        }
        return .ipv4(info)
    }

    /// Checks the TCP, UDP or ICMP (`icmp`: its protocol number in this family) header at
    /// `info.l4Offset`, `l4Length` bytes to the packet's end, and reads its ports and flags into
    /// `info`; the drop reason if it is short or malformed. Other protocols pass unread.
    @inline(__always)
    static func parseTransport(_ frame: UnsafeMutableRawPointer, _ info: inout PacketInfo, l4Length: Int,
                               icmp: UInt8) -> Counter? {
        let l4 = info.l4Offset
        switch info.proto {
        case IPProtocol.tcp:
            guard l4Length >= 20 else { return .truncatedTCP }
            let dataOffset = Int(frame.load(fromByteOffset: l4 + 12, as: UInt8.self) >> 4) * 4
            guard dataOffset >= 20, dataOffset <= l4Length else { return .badTCPHeader }
            info.sourcePort = load16(frame, l4)
            info.destinationPort = load16(frame, l4 + 2)
            info.tcpFlags = frame.load(fromByteOffset: l4 + 13, as: UInt8.self)
        case IPProtocol.udp:
            guard l4Length >= 8 else { return .truncatedUDP }
            let udpLength = Int(load16(frame, l4 + 4))
            guard udpLength >= 8, udpLength <= l4Length else { return .badUDPLength }
            info.sourcePort = load16(frame, l4)
            info.destinationPort = load16(frame, l4 + 2)
        case icmp:
            guard l4Length >= 8 else { return .truncatedICMP }
        default:
            break
        }
        return nil
    }

    /// Whether a TCP or UDP frame carries a checksum offload left unfinished by a local sender
    /// (the field holds only the pseudo-header sum), for captures that cannot say so themselves
    /// (AF_XDP has no TP_STATUS_CSUMNOTREADY). A frame whose checksum is valid is never taken
    /// for one; a frame that is neither valid nor partial is left as it is (its receiver will
    /// drop it, as it would have without us).
    public static func checksumLooksPartial(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo) -> Bool {
        let l4Length = info.ipLength - (info.l4Offset - info.l3Offset)
        let field: UInt16
        switch info.proto {
        case IPProtocol.tcp: field = load16(frame, info.l4Offset + 16)
        case IPProtocol.udp:
            field = load16(frame, info.l4Offset + 6)
            if field == 0 { return false } // no checksum
        default: return false
        }
        let pseudo = pseudoHeaderSum(info, length: l4Length)
        if InternetChecksum.checksum(frame + info.l4Offset, l4Length, initial: pseudo) == 0 { return false }
        return field == InternetChecksum.fold(pseudo)
    }

    /// Recomputes the TCP or UDP checksum in full. Used for frames the kernel captured with
    /// TP_STATUS_CSUMNOTREADY: a local sender left only the pseudo-header sum in the field
    /// (checksum offload), and a frame re-sent as it is would be dropped by the receiver.
    /// Returns false if the protocol carries no such checksum.
    @discardableResult
    public static func finishChecksum(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo) -> Bool {
        let l4Length = info.ipLength - (info.l4Offset - info.l3Offset)
        let field: Int
        switch info.proto {
        case IPProtocol.tcp: field = info.l4Offset + 16
        case IPProtocol.udp: field = info.l4Offset + 6
        default: return false
        }
        store16(frame, field, 0)
        let pseudo = pseudoHeaderSum(info, length: l4Length)
        var sum = InternetChecksum.checksum(frame + info.l4Offset, l4Length, initial: pseudo)
        // RFC 768 (and RFC 8200 §8.1 for IPv6): a computed UDP checksum of zero is sent as all
        // ones (zero means "none").
        if sum == 0 && info.proto == IPProtocol.udp { sum = 0xFFFF }
        store16(frame, field, sum)
        return true
    }

    /// The pseudo-header sum of the packet's TCP or UDP checksum, for its family.
    @inline(__always)
    static func pseudoHeaderSum(_ info: PacketInfo, length: Int) -> UInt64 {
        if info.isIPv6 {
            return InternetChecksum.pseudoHeaderSum6(source: info.source, destination: info.destination,
                                                     nextHeader: info.proto, length: length)
        }
        return InternetChecksum.pseudoHeaderSum(source: info.source.v4, destination: info.destination.v4,
                                                protocol: info.proto, length: length)
    }
}
