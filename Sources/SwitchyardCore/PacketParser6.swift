// Bounds-checked parsing of IPv6 (RFC 8200) and its extension headers, up to the TCP, UDP or
// ICMPv6 header. Each header is checked for length once, before any of its fields is read.
//
//  IPv6 (RFC 8200 §3)                                   An extension header (§4)
//  0       4               12      16              31   +-------+-------+--------------------+
//  +-------+---------------+-------------------------+  | Next  |HdrLen |                    |
//  |Version| Traffic Class |        Flow Label       |  +-------+-------+   options, or the  |
//  +-------+-------+-------+-------+-----------------+  |   routing data: (HdrLen + 1) × 8   |
//  |      Payload Length   |  Next Header  |Hop Limit|  |   bytes in all (AH: (+2) × 4)      |
//  +-----------------------+---------------+---------+  +------------------------------------+
//  |            Source Address (16 bytes)            |
//  |         Destination Address (16 bytes)          |  Fragment header: 8 bytes, always.
//  +-------------------------------------------------+
//
// Policy, as Katran's: a fragment (a Fragment header, first piece or not) is dropped and
// counted, not reassembled; a routing header with segments left is dropped (the destination
// field is not the packet's last one, and we are no router of source routes); addresses in
// ::/64 (unspecified, loopback, IPv4-mapped and -compatible) are dropped, which keeps IPv6
// flows apart from the mapped IPv4 ones (IPAddressBits.swift); a UDP checksum of 0, which IPv6
// forbids (RFC 8200 §8.1), is dropped as the kernel drops it. There is no header checksum.

/// IPv6 next-header values the parser knows (RFC 8200 §4, IANA "Assigned Internet Protocol
/// Numbers").
enum IPv6Header {
    static let hopByHop: UInt8 = 0
    static let routing: UInt8 = 43
    static let fragment: UInt8 = 44
    static let authentication: UInt8 = 51
    static let destinationOptions: UInt8 = 60
    static let icmpv6: UInt8 = 58
}

extension PacketParser {
    /// Parses the IPv6 packet at `l3` of a frame of `length` bytes: the fixed header, the
    /// extension headers (at most Limits.ipv6ExtensionHeaders) and the TCP/UDP/ICMPv6 header.
    @inline(never)
    static func parseIPv6(_ frame: UnsafeMutableRawPointer, length: Int, l3: Int) -> ParseOutcome {
        guard length >= l3 + 40 else { return .drop(.truncatedIPv6) }
        guard frame.load(fromByteOffset: l3, as: UInt8.self) >> 4 == 6 else { return .drop(.badIPv6Header) }
        let payloadLength = Int(load16(frame, l3 + 4))
        // A payload length of 0 with a hop-by-hop header would be a jumbogram (RFC 2675): not
        // on an Ethernet link, and nothing we forward.
        guard payloadLength > 0, l3 + 40 + payloadLength <= length else { return .drop(.badIPv6Header) }
        var info = PacketInfo()
        info.isIPv6 = true
        info.l3Offset = l3
        info.ipLength = 40 + payloadLength
        info.source = IPAddressBits.load(frame, l3 + 8)
        info.destination = IPAddressBits.load(frame, l3 + 24)
        guard info.source.high != 0, info.destination.high != 0 else { return .drop(.badIPv6Address) }

        let end = l3 + info.ipLength
        var next = frame.load(fromByteOffset: l3 + 6, as: UInt8.self)
        var offset = l3 + 40
        var walked = 0
        while true {
            switch next {
            case IPv6Header.hopByHop, IPv6Header.routing, IPv6Header.destinationOptions, IPv6Header.authentication:
                guard walked < Limits.ipv6ExtensionHeaders else { return .drop(.badIPv6Header) }
                walked += 1
                guard offset + 8 <= end else { return .drop(.badIPv6Header) }
                let units = Int(frame.load(fromByteOffset: offset + 1, as: UInt8.self))
                let size = next == IPv6Header.authentication ? (units + 2) * 4 : (units + 1) * 8
                guard offset + size <= end else { return .drop(.badIPv6Header) }
                if next == IPv6Header.routing && frame.load(fromByteOffset: offset + 3, as: UInt8.self) != 0 {
                    return .drop(.ipv6RoutingHeader)
                }
                next = frame.load(fromByteOffset: offset, as: UInt8.self)
                offset += size
            case IPv6Header.fragment:
                return .drop(.ipFragment)
            default:
                info.proto = next
                info.l4Offset = offset
                if let reason = parseTransport(frame, &info, l4Length: end - offset, icmp: IPv6Header.icmpv6) {
                    return .drop(reason)
                }
                if next == IPProtocol.udp && load16(frame, offset + 6) == 0 { return .drop(.udpZeroChecksumIPv6) }
                return .ipv6(info)
            }
        }
    }
}
