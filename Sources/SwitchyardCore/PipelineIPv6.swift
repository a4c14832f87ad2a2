// The pipeline's IPv6 path: what processPacket does for an IPv4 packet, for one the IPv6
// parser (PacketParser6.swift) took apart. Both families share the service index, the flow
// tables, the schedulers and the transmitters (their addresses are IPAddressBits); only what
// differs lives here: the dispatch, and an echo request to a VIP answered (ICMPv6 errors about
// the flows: ICMP.swift, with ICMPv6.swift).

/// ICMPv6 message types (RFC 4443 §2.1, RFC 4861 §4).
enum ICMPv6Type {
    static let echoRequest: UInt8 = 128
    static let echoReply: UInt8 = 129
    static let routerSolicitation: UInt8 = 133
    static let redirect: UInt8 = 137
}

extension Pipeline {
    /// `processPacket` for an IPv6 packet. Out of line, so the IPv4 path is laid out as before.
    @inline(never)
    mutating func processIPv6(_ frame: UnsafeMutableRawPointer, _ parsed: PacketInfo, ingress: Int,
                              checksumPending: Bool, now: UInt32, snapshot: SnapshotView, gsoSize: Int?,
                              mayExceedMTU: Bool) -> Verdict {
        var info = parsed
        let checksumPending = checksumPending
            || (detectPartialChecksums && PacketParser.checksumLooksPartial(frame, info))
        // A TCP super-packet (GSO/GRO) is rewritten like any packet and sent whole for the kernel
        // to segment, or cut by the worker (as for IPv4); anything else that long cannot go on.
        // One whose segments would not fit is answered with Packet Too Big, as a router does.
        if mayExceedMTU, info.l3Offset + info.ipLength > maxFrameLength {
            guard info.proto == IPProtocol.tcp else { return drop(.oversize) }
            if exceedsMTU(frame, info, gsoSize: gsoSize), snapshot.isVIP(info.destination) || snapshot.hasNAT {
                return packetTooBig6(frame, info, ingress: ingress, now: now)
            }
        }
        if snapshot.isVIP(info.destination) {
            if info.proto == IPv6Header.icmpv6 {
                return icmpv6ToVIP(frame, info, ingress: ingress, now: now, snapshot: snapshot)
            }
            // processPacket's VIP branch, repeated on purpose: the two as one inlined function
            // cost an IPv4 DR hit 9 instructions and a NAT packet 12-16 (callgrind).
            guard info.proto == IPProtocol.tcp || info.proto == IPProtocol.udp,
                  let service = snapshot.service(proto: info.proto, vip: info.destination, port: info.destinationPort)
            else { return drop(.noService) }
            guard let real = bindFlow(info, service: service, ingress: ingress, peer: load48(frame, 6), now: now,
                                      snapshot: snapshot)
            else { return drop(.noRealServer) }
            account(UInt32(real - snapshot.reals), bytes: info.ipLength, inbound: true)
            switch service.pointee.method {
            case .dr:
                return transmitDR(frame, &info, to: real, ingress: ingress, checksumPending: checksumPending, now: now)
            case .nat:
                return transmitNAT(frame, &info, to: real, ingress: ingress, checksumPending: checksumPending, now: now)
            }
        }
        guard snapshot.hasNAT else { return pass() }
        switch info.proto {
        case IPProtocol.tcp, IPProtocol.udp:
            return natReply(frame, &info, checksumPending: checksumPending, now: now, snapshot: snapshot)
        case IPv6Header.icmpv6:
            // An error about a NAT66 flow; anything else (neighbour discovery with the
            // balancer's own address) is passed.
            let type = frame.load(fromByteOffset: info.l4Offset, as: UInt8.self)
            return ICMPv6Error.isError(type) ? errorFromRealServer(frame, info, now: now, snapshot: snapshot) : pass()
        default:
            return pass()
        }
    }

    /// ICMPv6 to a VIP: an echo request is answered; an error about one of our flows goes to
    /// its real server (errorToVIP); neighbour discovery (a solicitation sent to the VIP
    /// itself, as unreachability detection sends it) goes to the kernel's side, where the
    /// engine's responder answers for VIPs; anything else is dropped and counted.
    mutating func icmpv6ToVIP(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, ingress: Int, now: UInt32,
                              snapshot: SnapshotView) -> Verdict {
        let type = frame.load(fromByteOffset: info.l4Offset, as: UInt8.self)
        if type == ICMPv6Type.echoRequest { return echoReply6(frame, info, ingress: ingress) }
        if ICMPv6Error.isError(type) { return errorToVIP(frame, info, now: now, snapshot: snapshot) }
        if type >= ICMPv6Type.routerSolicitation && type <= ICMPv6Type.redirect { return pass() }
        return drop(.icmpUnhandled)
    }

    /// Answers an ICMPv6 echo request in place (RFC 4443 §4.2): addresses and MACs swapped,
    /// type 129, hop limit 64. The pseudo-header's sum does not change when its two addresses
    /// swap, so only the type moves the checksum.
    mutating func echoReply6(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, ingress: Int) -> Verdict {
        let l3 = info.l3Offset
        let l4 = info.l4Offset
        let typeCode = load16(frame, l4)
        let replyTypeCode = UInt16(ICMPv6Type.echoReply) << 8 | typeCode & 0x00FF
        store16(frame, l4, replyTypeCode)
        store16(frame, l4 + 2, InternetChecksum.update(load16(frame, l4 + 2), old: typeCode, new: replyTypeCode))
        info.destination.store(frame, l3 + 8)
        info.source.store(frame, l3 + 24)
        frame.storeBytes(of: 64, toByteOffset: l3 + 7, as: UInt8.self)
        return send(frame, to: MACAddress(bits: load48(frame, 6)), egress: ingress, counting: .icmpEchoReplies)
    }
}
