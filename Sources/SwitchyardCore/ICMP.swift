// ICMP for the VIPs: echo requests are answered by the LB itself; errors about a tracked flow
// (destination unreachable, time exceeded, parameter problem; and ICMPv6's, ICMPv6.swift) are
// matched by the header they quote and sent to the side that needs them, translated for NAT (RFC 5508 §4 / RFC 3022 §4.3:
// outer and inner headers and every checksum), as IPVS's ip_vs_in_icmp / ip_vs_out_icmp do.
//
//  ICMP error (RFC 792):  type(1) code(1) checksum(2) unused/MTU(4) | quoted IPv4 header | ≥ 8 bytes of its payload

enum ICMPType {
    static let echoReply: UInt8 = 0
    static let destinationUnreachable: UInt8 = 3
    static let echoRequest: UInt8 = 8
    static let timeExceeded: UInt8 = 11
    static let parameterProblem: UInt8 = 12

    static func isError(_ t: UInt8) -> Bool {
        t == destinationUnreachable || t == timeExceeded || t == parameterProblem
    }
}

/// The quoted packet inside an ICMP or ICMPv6 error: an IPv4 header (options allowed) or an
/// IPv6 fixed header (no extension headers), then TCP or UDP.
struct QuotedPacket {
    /// Offset of the quoted IP header and of its TCP/UDP header.
    var l3: Int
    var l4: Int
    /// Bytes quoted from l4 on (at least 8).
    var l4Bytes: Int
    var proto: UInt8
    var isV6: Bool
    var source: IPAddressBits
    var destination: IPAddressBits
    var sourcePort: UInt16
    var destinationPort: UInt16

    /// Parses the quote of an ICMP error (ICMPv6 for an IPv6 packet), bounds-checked against
    /// the outer packet.
    static func parse(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo) -> QuotedPacket? {
        let start = info.l4Offset + 8
        let end = info.l3Offset + info.ipLength
        let header: Int, proto: UInt8, source: IPAddressBits, destination: IPAddressBits
        if info.isIPv6 {
            guard end - start >= 40 + 8, frame.load(fromByteOffset: start, as: UInt8.self) >> 4 == 6 else { return nil }
            header = 40
            proto = frame.load(fromByteOffset: start + 6, as: UInt8.self)
            source = IPAddressBits.load(frame, start + 8)
            destination = IPAddressBits.load(frame, start + 24)
        } else {
            guard end - start >= 28 else { return nil }
            let vihl = frame.load(fromByteOffset: start, as: UInt8.self)
            header = Int(vihl & 0x0F) * 4
            guard vihl >> 4 == 4, header >= 20, end - start >= header + 8 else { return nil }
            proto = frame.load(fromByteOffset: start + 9, as: UInt8.self)
            source = IPAddressBits(v4: load32(frame, start + 12))
            destination = IPAddressBits(v4: load32(frame, start + 16))
        }
        guard proto == IPProtocol.tcp || proto == IPProtocol.udp else { return nil }
        return QuotedPacket(l3: start, l4: start + header, l4Bytes: end - start - header, proto: proto,
                            isV6: info.isIPv6, source: source, destination: destination,
                            sourcePort: load16(frame, start + header), destinationPort: load16(frame, start + header + 2))
    }

    /// Rewrites the quoted source or destination (address and port) and the quoted checksums:
    /// an IPv4 header checksum in full, the L4 checksum incrementally if it was quoted (an IPv4
    /// UDP checksum of 0, none, stays 0; an IPv6 UDP one computed as 0 goes as 0xFFFF).
    func rewrite(_ frame: UnsafeMutableRawPointer, source: Bool, address: IPAddressBits, port: UInt16) {
        let portOffset = l4 + (source ? 0 : 2)
        let oldPort = load16(frame, portOffset)
        store16(frame, portOffset, port)
        let field = l4 + (proto == IPProtocol.tcp ? 16 : 6)
        let quoted = field + 2 <= l4 + l4Bytes
        var sum = quoted ? load16(frame, field) : 0
        if isV6 {
            let offset = l3 + (source ? 8 : 24)
            let oldAddress = IPAddressBits.load(frame, offset)
            address.store(frame, offset)
            guard quoted else { return }
            sum = InternetChecksum.update(InternetChecksum.update(sum, old: oldAddress, new: address), old: oldPort, new: port)
            if proto == IPProtocol.udp && sum == 0 { sum = 0xFFFF }
        } else {
            let offset = l3 + (source ? 12 : 16)
            let oldAddress = load32(frame, offset)
            store32(frame, offset, address.v4)
            store16(frame, l3 + 10, 0)
            store16(frame, l3 + 10, InternetChecksum.checksum(frame + l3, l4 - l3))
            guard quoted, !(proto == IPProtocol.udp && sum == 0) else { return }
            sum = InternetChecksum.update(InternetChecksum.update(sum, old: oldAddress, new: address.v4), old: oldPort, new: port)
        }
        store16(frame, field, sum)
    }
}

extension Pipeline {
    /// Recomputes the ICMP checksum over the whole message (its quoted part changed).
    @inline(__always)
    static func finishICMP(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo) {
        store16(frame, info.l4Offset + 2, 0)
        store16(frame, info.l4Offset + 2,
                InternetChecksum.checksum(frame + info.l4Offset, info.l3Offset + info.ipLength - info.l4Offset))
    }

    /// ICMP to a VIP: echo is answered; an error quoting a packet that left by a VIP (a reply of
    /// one of our flows) goes to that flow's real server.
    mutating func icmpToVIP(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, ingress: Int, now: UInt32,
                            snapshot: SnapshotView) -> Verdict {
        let type = frame.load(fromByteOffset: info.l4Offset, as: UInt8.self)
        if type == ICMPType.echoRequest { return echoReply(frame, info, ingress: ingress) }
        guard ICMPType.isError(type) else { return drop(.icmpUnhandled) }
        return errorToVIP(frame, info, now: now, snapshot: snapshot)
    }

    /// An ICMP or ICMPv6 error to a VIP quoting a packet that left by it (a reply of one of our
    /// flows, VIP → client): it goes to that flow's real server, unchanged but for its MACs and
    /// TTL or hop limit in DR, translated to the real server's address and port for NAT. With no
    /// such flow here, a consistent-hash service's table names the real server (behind an ECMP
    /// router, the flow may be another balancer's, and every balancer's table agrees).
    mutating func errorToVIP(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, now: UInt32,
                             snapshot: SnapshotView) -> Verdict {
        guard let quote = QuotedPacket.parse(frame, info) else { return drop(.truncatedICMP) }
        // The quoted packet went VIP → client, so the flow is client → VIP.
        let key = FlowKey(source: quote.destination, destination: quote.source, sourcePort: quote.destinationPort,
                          destinationPort: quote.sourcePort, proto: quote.proto)
        let flowReal = findFlow(key, now: now).flatMap { snapshot.real(flows[$0].realID) }
        guard let real = flowReal ?? Self.tableReal(key, snapshot: snapshot),
              let service = snapshot.service(of: real)
        else { return drop(.icmpNoFlow) }
        // The TTL goes down in DR too, as for any packet to a VIP (no ICMP error about one).
        guard Self.decrementHopLimit(frame, info) else { return drop(.ttlExceeded) }
        if service.pointee.method == .nat {
            Self.rewriteErrorAddress(frame, info, source: false, to: real.pointee.address)
            quote.rewrite(frame, source: true, address: real.pointee.address, port: real.pointee.port)
            Self.finishError(frame, info)
        }
        return send(frame, to: MACAddress(bits: real.pointee.mac), egress: Int(real.pointee.interface),
                    counting: .icmpTranslated)
    }

    /// An ICMP error from the real servers' side quoting a packet client → RIP (one we NATed):
    /// it goes to the client as if the VIP had sent it.
    mutating func icmpFromRealServer(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, now: UInt32,
                                     snapshot: SnapshotView) -> Verdict {
        let type = frame.load(fromByteOffset: info.l4Offset, as: UInt8.self)
        guard ICMPType.isError(type) else { return pass() }
        return errorFromRealServer(frame, info, now: now, snapshot: snapshot)
    }

    /// An ICMP or ICMPv6 error from the real servers' side quoting a packet client → RIP (one
    /// NAT translated): it goes to the client as if the VIP had sent it. One about no flow of
    /// ours is passed.
    mutating func errorFromRealServer(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, now: UInt32,
                                      snapshot: SnapshotView) -> Verdict {
        guard let quote = QuotedPacket.parse(frame, info) else { return pass() }
        let key = FlowKey(source: quote.destination, destination: quote.source, sourcePort: quote.destinationPort,
                          destinationPort: quote.sourcePort, proto: quote.proto | Self.replyMark)
        guard let slot = findFlow(key, now: now) else { return pass() }
        let reply = flows[slot]
        guard let real = snapshot.real(reply.realID), let service = snapshot.service(of: real) else {
            return drop(.icmpNoFlow)
        }
        guard Self.decrementHopLimit(frame, info) else { return drop(.ttlExceeded) }
        Self.rewriteErrorAddress(frame, info, source: true, to: service.pointee.vip)
        quote.rewrite(frame, source: false, address: service.pointee.vip, port: service.pointee.port)
        Self.finishError(frame, info)
        return send(frame, to: reply.peerMAC, egress: Int(reply.interface), counting: .icmpTranslated)
    }

    /// Rewrites an error's own source or destination address (an IPv4 one with its header
    /// checksum; IPv6 has none).
    static func rewriteErrorAddress(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, source: Bool,
                                    to address: IPAddressBits) {
        if info.isIPv6 {
            address.store(frame, info.l3Offset + (source ? 8 : 24))
        } else {
            rewriteAddress(frame, l3: info.l3Offset, at: info.l3Offset + (source ? 12 : 16), to: address.v4)
        }
    }

    /// Recomputes an error's ICMP or ICMPv6 checksum (its quote or an address changed).
    static func finishError(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo) {
        if info.isIPv6 { finishICMPv6(frame, info) } else { finishICMP(frame, info) }
    }

    /// Answers an echo request to a VIP in place: addresses and MACs swapped, type 0, a fresh TTL.
    mutating func echoReply(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, ingress: Int) -> Verdict {
        let l3 = info.l3Offset
        let l4 = info.l4Offset
        let typeCode = load16(frame, l4)
        store16(frame, l4, typeCode & 0x00FF)
        store16(frame, l4 + 2, InternetChecksum.update(load16(frame, l4 + 2), old: typeCode, new: typeCode & 0x00FF))
        store32(frame, l3 + 12, info.destination.v4)
        store32(frame, l3 + 16, info.source.v4)
        frame.storeBytes(of: 64, toByteOffset: l3 + 8, as: UInt8.self)
        store16(frame, l3 + 10, 0)
        store16(frame, l3 + 10, InternetChecksum.checksum(frame + l3, l4 - l3))
        return send(frame, to: MACAddress(bits: load48(frame, 6)), egress: ingress, counting: .icmpEchoReplies)
    }

    /// A TCP or UDP packet to a VIP whose TTL ran out (DR or NAT): dropped, and answered with
    /// an ICMP time exceeded (RFC 792) from the VIP, back out of `ingress` to the MAC it came
    /// from, quoting as much of it as a router (Linux's icmp_send) would (Limits.icmpQuoteBytes).
    /// IPVS answers from the VIP too. Rate limited per worker (Limits.icmpBurst, then 1000 a
    /// second), so a flood of expiring packets gets at most that many answers of at most 576
    /// bytes each.
    @inline(never)
    mutating func timeExceeded(_ frame: UnsafeMutableRawPointer, l3: Int, ingress: Int, now: UInt32) -> Verdict {
        icmpError(frame, l3: l3, ingress: ingress, now: now, type: ICMPType.timeExceeded, code: 0, word: 0,
                  dropped: .ttlExceeded, sent: .icmpTimeExceeded)
    }

    /// A packet with DF set whose segments would not fit the egress MTU: dropped and answered
    /// with ICMP fragmentation needed (type 3, code 4) naming the MTU (RFC 1191), as the kernel
    /// forwarding it (ip_forward's ip_exceeds_mtu) and IPVS's transmitters answer it, so the
    /// sender's path MTU discovery can work.
    mutating func fragmentationNeeded(_ frame: UnsafeMutableRawPointer, l3: Int, ingress: Int, now: UInt32) -> Verdict {
        icmpError(frame, l3: l3, ingress: ingress, now: now, type: ICMPType.destinationUnreachable, code: 4,
                  word: UInt32(maxFrameLength - 18), dropped: .fragmentationNeeded, sent: .icmpFragmentationNeeded)
    }

    /// Takes one of the rate limit's tokens for an ICMP or ICMPv6 error of our own (the bucket
    /// holds Limits.icmpBurst and gains one a second); false if none is left.
    mutating func icmpTokenTaken(now: UInt32) -> Bool {
        let elapsed = now &- icmpRefilled
        if elapsed > 0 {
            icmpTokens = min(Limits.icmpBurst, icmpTokens &+ min(elapsed, Limits.icmpBurst))
            icmpRefilled = now
        }
        guard icmpTokens > 0 else { return false }
        icmpTokens -= 1
        return true
    }

    /// Drops a packet (counted as `dropped`) and, within the rate limit, builds the ICMP error
    /// about it in the reply buffer (`word`: the header's second word, an MTU for type 3 code 4
    /// or for ICMPv6 Packet Too Big), counted as `sent`: ICMPv6 with `ipv6` (timeExceeded6,
    /// packetTooBig6), from the address the packet was sent to.
    mutating func icmpError(_ frame: UnsafeMutableRawPointer, l3: Int, ipv6: Bool = false, ingress: Int, now: UInt32,
                            type: UInt8, code: UInt8, word: UInt32, dropped: Counter, sent: Counter) -> Verdict {
        counters.bump(dropped)
        guard icmpTokenTaken(now: now) else { return .drop(dropped) }
        // The parser checked that the packet (its total length) lies within the frame. Its
        // header and as much of the rest as fits 576 bytes of answer are quoted, as the kernel
        // quotes (RFC 4443 §2.4(c) allows an IPv6 answer up to the minimum MTU): enough of a TCP
        // header for the sender to match it, and for tools to read the options. An answer fits
        // the interface's MTU too, as icmp_send sizes it by the route's MTU.
        let header = ipv6 ? 40 : 20
        let length = ipv6 ? 40 + Int(load16(frame, l3 + 4)) : Int(load16(frame, l3 + 2))
        let quoted = min(length, Limits.icmpQuoteBytes + 20 - header, maxFrameLength - 18 - header - 8)
        let out = replyFrame
        // Ethernet: back to the sender, from our interface; a VLAN tag is kept as it came.
        MACAddress(bits: load48(frame, 6)).store(to: out, at: 0)
        interfaceMACs[ingress].store(to: out, at: 6)
        (out + 12).copyMemory(from: frame + 12, byteCount: l3 - 12)
        var pseudo: UInt64 = 0
        if ipv6 {
            // Traffic class and flow label 0, hop limit 64; its checksum covers a pseudo-header.
            let source = IPAddressBits.load(frame, l3 + 24), destination = IPAddressBits.load(frame, l3 + 8)
            store32(out, l3, 0x6000_0000)
            store16(out, l3 + 4, UInt16(8 + quoted))
            out.storeBytes(of: IPv6Header.icmpv6, toByteOffset: l3 + 6, as: UInt8.self)
            out.storeBytes(of: 64, toByteOffset: l3 + 7, as: UInt8.self)
            source.store(out, l3 + 8)
            destination.store(out, l3 + 24)
            pseudo = InternetChecksum.pseudoHeaderSum6(source: source, destination: destination,
                                                       nextHeader: IPv6Header.icmpv6, length: 8 + quoted)
        } else {
            // IPv4: precedence "internetwork control" like the kernel's ICMP errors, no DF.
            let total = 20 + 8 + quoted
            store32(out, l3, 0x45C0_0000 | UInt32(total))
            store32(out, l3 + 4, 0)
            store32(out, l3 + 8, 0x4001_0000)
            store32(out, l3 + 12, load32(frame, l3 + 16))
            store32(out, l3 + 16, load32(frame, l3 + 12))
            store16(out, l3 + 10, InternetChecksum.checksum(out + l3, 20))
        }
        // ICMP: the type and code, the second word, the quote, the checksum over all.
        let icmp = l3 + header
        store32(out, icmp, UInt32(type) << 24 | UInt32(code) << 16)
        store32(out, icmp + 4, word)
        (out + icmp + 8).copyMemory(from: frame + l3, byteCount: quoted)
        store16(out, icmp + 2, InternetChecksum.checksum(out + icmp, 8 + quoted, initial: pseudo))
        replyLength = icmp + 8 + quoted
        counters.bump(sent)
        replyCounter = sent
        return .reply(egress: ingress)
    }
}
