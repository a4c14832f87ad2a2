// What ICMPv6 errors (RFC 4443 §3: destination unreachable, packet too big, time exceeded,
// parameter problem) need beyond ICMP.swift, which matches them by the packet they quote and
// sends them on as IPv4's, translated for NAT66 (outer address, quoted address and port, the
// quoted L4 checksum incrementally): which types are errors, and the ICMPv6 checksum over its
// pseudo-header. Packet Too Big matters most: IPv6 routers never fragment, so a real
// server behind the VIP learns its path MTU from these alone. And the errors the balancer sends
// itself: time exceeded, when a packet's hop limit runs out here, and Packet Too Big, when a
// super-packet's segments would not fit the egress MTU.
//
//  ICMPv6 error:  type(1) code(1) checksum(2) unused/MTU/pointer(4) | quoted IPv6 header | payload

enum ICMPv6Error {
    static let packetTooBig: UInt8 = 2
    static let timeExceeded: UInt8 = 3
    /// Types 1 to 4; 0 and 5-127 are errors too, but unassigned (RFC 4443 §2.1).
    static func isError(_ type: UInt8) -> Bool { type >= 1 && type <= 4 }
}

extension Pipeline {
    /// Recomputes the ICMPv6 checksum over its pseudo-header and the whole message (an address
    /// or the quote changed).
    static func finishICMPv6(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo) {
        let length = info.l3Offset + info.ipLength - info.l4Offset
        let pseudo = InternetChecksum.pseudoHeaderSum6(source: IPAddressBits.load(frame, info.l3Offset + 8),
                                                       destination: IPAddressBits.load(frame, info.l3Offset + 24),
                                                       nextHeader: IPv6Header.icmpv6, length: length)
        store16(frame, info.l4Offset + 2, 0)
        store16(frame, info.l4Offset + 2, InternetChecksum.checksum(frame + info.l4Offset, length, initial: pseudo))
    }

    /// A packet to a VIP whose hop limit ran out here (DR or NAT66): dropped, and answered with
    /// ICMPv6 time exceeded (type 3, code 0) from the VIP, back out of `ingress` to the MAC it
    /// came from, quoting as much of it as the reply buffer holds (528 bytes; RFC 4443 §2.4(c)
    /// allows up to the minimum MTU), hop limit 64; rate limited with the IPv4 errors.
    @inline(never)
    mutating func timeExceeded6(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, ingress: Int, now: UInt32) -> Verdict {
        icmpError(frame, l3: info.l3Offset, ipv6: true, ingress: ingress, now: now, type: ICMPv6Error.timeExceeded,
                  code: 0, word: 0, dropped: .ttlExceeded, sent: .icmpTimeExceeded)
    }

    /// A TCP super-packet whose segments would not fit the egress MTU: dropped and answered with
    /// Packet Too Big (type 2) naming the MTU (RFC 4443 §3.2), as IPv4's DF packets get
    /// fragmentation needed; an IPv6 router never fragments, so every such packet is answered.
    /// Counted with IPv4's (drop_frag_needed, icmp_frag_needed_sent).
    @inline(never)
    mutating func packetTooBig6(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, ingress: Int, now: UInt32) -> Verdict {
        icmpError(frame, l3: info.l3Offset, ipv6: true, ingress: ingress, now: now, type: ICMPv6Error.packetTooBig,
                  code: 0, word: UInt32(maxFrameLength - 18), dropped: .fragmentationNeeded, sent: .icmpFragmentationNeeded)
    }
}
