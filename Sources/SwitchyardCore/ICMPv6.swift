// ICMPv6 errors about the VIPs' flows (RFC 4443 §3: destination unreachable, packet too big,
// time exceeded, parameter problem), as ICMP.swift does for IPv4: matched by the packet they
// quote and sent to the side that needs them, translated for NAT66 (outer address, quoted
// address and port, the quoted L4 checksum incrementally, the ICMPv6 checksum over its
// pseudo-header afresh). Packet Too Big matters most: IPv6 routers never fragment, so a real
// server behind the VIP learns its path MTU from these alone. And the one error the balancer
// sends itself: time exceeded, when a packet's hop limit runs out here.
//
//  ICMPv6 error:  type(1) code(1) checksum(2) unused/MTU/pointer(4) | quoted IPv6 header | payload

enum ICMPv6Error {
    static let timeExceeded: UInt8 = 3
    /// Types 1 to 4; 0 and 5-127 are errors too, but unassigned (RFC 4443 §2.1).
    static func isError(_ type: UInt8) -> Bool { type >= 1 && type <= 4 }
}

/// The quoted packet inside an ICMPv6 error: its fixed header straight followed by TCP or UDP
/// (a quote with extension headers is not matched).
struct QuotedPacket6 {
    /// Offset of the quoted IPv6 header and of its TCP/UDP header.
    var l3: Int
    var l4: Int
    /// Bytes quoted from l4 on (at least 8).
    var l4Bytes: Int
    var proto: UInt8
    var source: IPAddressBits
    var destination: IPAddressBits
    var sourcePort: UInt16
    var destinationPort: UInt16

    /// Parses the quote of an ICMPv6 error, bounds-checked against the outer packet.
    static func parse(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo) -> QuotedPacket6? {
        let start = info.l4Offset + 8
        let end = info.l3Offset + info.ipLength
        guard end - start >= 40 + 8, frame.load(fromByteOffset: start, as: UInt8.self) >> 4 == 6 else { return nil }
        let proto = frame.load(fromByteOffset: start + 6, as: UInt8.self)
        guard proto == IPProtocol.tcp || proto == IPProtocol.udp else { return nil }
        return QuotedPacket6(l3: start, l4: start + 40, l4Bytes: end - start - 40, proto: proto,
                             source: IPAddressBits.load(frame, start + 8),
                             destination: IPAddressBits.load(frame, start + 24),
                             sourcePort: load16(frame, start + 40), destinationPort: load16(frame, start + 42))
    }

    /// Rewrites the quoted source or destination (address and port) and, if it was quoted, the
    /// quoted L4 checksum incrementally (a computed UDP 0 goes as 0xFFFF).
    func rewrite(_ frame: UnsafeMutableRawPointer, source: Bool, address: IPAddressBits, port: UInt16) {
        let addressOffset = l3 + (source ? 8 : 24)
        let portOffset = l4 + (source ? 0 : 2)
        let oldAddress = IPAddressBits.load(frame, addressOffset)
        let oldPort = load16(frame, portOffset)
        address.store(frame, addressOffset)
        store16(frame, portOffset, port)
        let field = l4 + (proto == IPProtocol.tcp ? 16 : 6)
        guard field + 2 <= l4 + l4Bytes else { return }
        var sum = InternetChecksum.update(InternetChecksum.update(load16(frame, field), old: oldAddress, new: address),
                                          old: oldPort, new: port)
        if proto == IPProtocol.udp && sum == 0 { sum = 0xFFFF }
        store16(frame, field, sum)
    }
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

    /// An ICMPv6 error to a VIP quoting a packet that left by it (a reply of one of our flows,
    /// VIP → client): it goes to that flow's real server, unchanged but for its MACs and hop
    /// limit in DR, translated to the real server's address and port in NAT66.
    mutating func icmpv6ErrorToVIP(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, now: UInt32,
                                   snapshot: SnapshotView) -> Verdict {
        guard let quote = QuotedPacket6.parse(frame, info) else { return drop(.truncatedICMP) }
        let key = FlowKey(source: quote.destination, destination: quote.source, sourcePort: quote.destinationPort,
                          destinationPort: quote.sourcePort, proto: quote.proto)
        guard let slot = findFlow(key, now: now),
              let real = snapshot.real(flows[slot].realID), let service = snapshot.service(of: real)
        else { return drop(.icmpNoFlow) }
        guard Self.decrementHopLimit(frame, info) else { return drop(.ttlExceeded) }
        if service.pointee.method == .nat {
            real.pointee.address.store(frame, info.l3Offset + 24)
            quote.rewrite(frame, source: true, address: real.pointee.address, port: real.pointee.port)
            Self.finishICMPv6(frame, info)
        }
        return send(frame, to: MACAddress(bits: real.pointee.mac), egress: Int(real.pointee.interface),
                    counting: .icmpTranslated)
    }

    /// A packet to a VIP whose hop limit ran out here (DR or NAT66): dropped, and answered with
    /// ICMPv6 time exceeded (type 3, code 0) from the VIP, back out of `ingress` to the MAC it
    /// came from, quoting as much of it as the reply buffer holds (528 bytes; RFC 4443 §2.4(c)
    /// allows up to the minimum MTU), hop limit 64; rate limited with the IPv4 errors.
    @inline(never)
    mutating func timeExceeded6(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, ingress: Int, now: UInt32) -> Verdict {
        counters.bump(.ttlExceeded)
        guard icmpTokenTaken(now: now) else { return .drop(.ttlExceeded) }
        let l3 = info.l3Offset
        let quoted = min(info.ipLength, Limits.icmpQuoteBytes - 20, maxFrameLength - 18 - 40 - 8)
        let out = replyFrame
        // Ethernet: back to the sender, from our interface; a VLAN tag is kept as it came.
        MACAddress(bits: load48(frame, 6)).store(to: out, at: 0)
        interfaceMACs[ingress].store(to: out, at: 6)
        (out + 12).copyMemory(from: frame + 12, byteCount: l3 - 12)
        store32(out, l3, 0x6000_0000)
        store16(out, l3 + 4, UInt16(8 + quoted))
        out.storeBytes(of: IPv6Header.icmpv6, toByteOffset: l3 + 6, as: UInt8.self)
        out.storeBytes(of: 64, toByteOffset: l3 + 7, as: UInt8.self)
        info.destination.store(out, l3 + 8)
        info.source.store(out, l3 + 24)
        let icmp = l3 + 40
        store32(out, icmp, UInt32(ICMPv6Error.timeExceeded) << 24)
        store32(out, icmp + 4, 0)
        (out + icmp + 8).copyMemory(from: frame + l3, byteCount: quoted)
        let pseudo = InternetChecksum.pseudoHeaderSum6(source: info.destination, destination: info.source,
                                                       nextHeader: IPv6Header.icmpv6, length: 8 + quoted)
        store16(out, icmp + 2, InternetChecksum.checksum(out + icmp, 8 + quoted, initial: pseudo))
        replyLength = icmp + 8 + quoted
        counters.bump(.icmpTimeExceeded)
        replyCounter = .icmpTimeExceeded
        return .reply(egress: ingress)
    }

    /// An ICMPv6 error from the real servers' side quoting a packet client → RIP (one NAT66
    /// translated): it goes to the client as if the VIP had sent it. Anything else (neighbour
    /// discovery with the balancer's own address, an error about no flow of ours) is passed.
    mutating func icmpv6FromRealServer(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, now: UInt32,
                                       snapshot: SnapshotView) -> Verdict {
        let type = frame.load(fromByteOffset: info.l4Offset, as: UInt8.self)
        guard ICMPv6Error.isError(type), let quote = QuotedPacket6.parse(frame, info) else { return pass() }
        let key = FlowKey(source: quote.destination, destination: quote.source, sourcePort: quote.destinationPort,
                          destinationPort: quote.sourcePort, proto: quote.proto | Self.replyMark)
        guard let slot = findFlow(key, now: now) else { return pass() }
        let reply = flows[slot]
        guard let real = snapshot.real(reply.realID), let service = snapshot.service(of: real) else {
            return drop(.icmpNoFlow)
        }
        guard Self.decrementHopLimit(frame, info) else { return drop(.ttlExceeded) }
        service.pointee.vip.store(frame, info.l3Offset + 8)
        quote.rewrite(frame, source: false, address: service.pointee.vip, port: service.pointee.port)
        Self.finishICMPv6(frame, info)
        return send(frame, to: reply.peerMAC, egress: Int(reply.interface), counting: .icmpTranslated)
    }
}
