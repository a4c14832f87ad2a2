// The transmitters, in one place as IPVS keeps them in ip_vs_xmit.c: for each forwarding
// method, the last steps that make a client's packet ready to leave (TTL, the method's rewrite,
// the MACs) and the verdict that sends it, plus the two steps every path that forwards shares.
// What NAT's rewrite changes, field by field, is NAT.swift's; the reply path is there too.

extension Pipeline {
    /// DR (ipvsadm -g), as ip_vs_dr_xmit: the TTL and the MACs change, nothing else; the real
    /// server holds the VIP itself and answers the client directly. `info` is inout only to be
    /// passed as transmitNAT's is: by value, the DR hit cost 6 instructions more (callgrind).
    @inline(__always)
    mutating func transmitDR(_ frame: UnsafeMutableRawPointer, _ info: inout PacketInfo,
                             to real: UnsafePointer<RealServerEntry>, ingress: Int, checksumPending: Bool,
                             now: UInt32) -> Verdict {
        guard Self.decrementHopLimit(frame, info) else { return hopLimitExceeded(frame, info, ingress: ingress, now: now) }
        if _slowPath(checksumPending) { finishPendingChecksum(frame, info) }
        return send(frame, to: MACAddress(bits: real.pointee.mac), egress: Int(real.pointee.interface),
                    counting: .forwarded)
    }

    /// Whether a frame larger than the MTU, with DF set (every IPv6 one), would leave in packets
    /// larger than the MTU: one packet (`gsoSize` 0), or segments of `gsoSize` bytes with its
    /// headers. A frame whose capture cannot tell (nil: AF_XDP) is cut to the MTU instead, never
    /// refused.
    @inline(__always)
    func exceedsMTU(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, gsoSize: Int?) -> Bool {
        // IPv6 has no DF bit: no router fragments it.
        guard let gsoSize, info.isIPv6 || load16(frame, info.l3Offset + 6) & 0x4000 != 0 else { return false }
        let mtu = maxFrameLength - 18
        if gsoSize == 0 { return info.ipLength > mtu }
        guard info.proto == IPProtocol.tcp else { return false }
        let tcpHeader = Int(frame.load(fromByteOffset: info.l4Offset + 12, as: UInt8.self) >> 4) * 4
        return info.l4Offset - info.l3Offset + tcpHeader + gsoSize > mtu
    }

    /// Whether a packet whose L4 checksum is pending leaves with it still partial: a TCP
    /// super-packet (longer than the MTU) goes out whole with a virtio_net_hdr that asks the
    /// kernel or the NIC to segment it and finish each segment's checksum (GSO.swift), so
    /// summing its 64 KiB here would be wasted.
    @inline(__always)
    func keepsPartialChecksum(_ info: PacketInfo) -> Bool { info.l3Offset + info.ipLength > maxFrameLength }

    /// The L4 checksum the capture left pending, of a packet whose addresses stay: computed in
    /// full, unless it stays partial. Out of line: the common path pays one branch for it.
    @inline(never)
    mutating func finishPendingChecksum(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo) {
        if !keepsPartialChecksum(info) && PacketParser.finishChecksum(frame, info) { counters.bump(.checksumsFinished) }
    }

    /// NAT (ipvsadm -m), as ip_vs_nat_xmit: the TTL, then the destination becomes the real
    /// server's address and port (rewriteInbound), then the MACs.
    @inline(__always)
    mutating func transmitNAT(_ frame: UnsafeMutableRawPointer, _ info: inout PacketInfo,
                              to real: UnsafePointer<RealServerEntry>, ingress: Int, checksumPending: Bool,
                              now: UInt32) -> Verdict {
        guard Self.decrementHopLimit(frame, info) else { return hopLimitExceeded(frame, info, ingress: ingress, now: now) }
        rewriteInbound(frame, &info, to: real, checksumPending: checksumPending)
        return send(frame, to: MACAddress(bits: real.pointee.mac), egress: Int(real.pointee.interface),
                    counting: .forwarded)
    }

    /// Decrements the IPv4 TTL or the IPv6 hop limit; false if the packet must not be forwarded.
    @inline(__always)
    static func decrementHopLimit(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo) -> Bool {
        if _slowPath(info.isIPv6) {
            let hops = frame.load(fromByteOffset: info.l3Offset + 7, as: UInt8.self)
            guard hops > 1 else { return false }
            frame.storeBytes(of: hops - 1, toByteOffset: info.l3Offset + 7, as: UInt8.self)
            return true
        }
        return decrementTTL(frame, info.l3Offset)
    }

    /// A packet to a VIP whose TTL or hop limit ran out: dropped and answered with ICMP or
    /// ICMPv6 time exceeded from the VIP.
    @inline(never)
    mutating func hopLimitExceeded(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, ingress: Int,
                                   now: UInt32) -> Verdict {
        if info.isIPv6 { return timeExceeded6(frame, info, ingress: ingress, now: now) }
        return timeExceeded(frame, l3: info.l3Offset, ingress: ingress, now: now)
    }

    /// Decrements the TTL, fixing the header checksum; false if the packet must not be forwarded.
    /// Like a router, and like IPVS in every forwarding method, DR included: so a forwarding loop
    /// (two balancers sending a VIP's packets to each other) dies out, and a packet whose TTL
    /// runs out here ends here and its sender hears of it (traceroute shows the balancer's hop).
    @inline(__always)
    static func decrementTTL(_ frame: UnsafeMutableRawPointer, _ l3: Int) -> Bool {
        let ttl = frame.load(fromByteOffset: l3 + 8, as: UInt8.self)
        guard ttl > 1 else { return false }
        frame.storeBytes(of: ttl - 1, toByteOffset: l3 + 8, as: UInt8.self)
        // The TTL is the high byte of its 16-bit word, so the header's sum drops by 0x0100 and
        // its checksum rises by 0x0100 in ones' complement (RFC 1141, the kernel's
        // ip_decrease_ttl): the carry folded back in, and 0xFFFF coming out as 0x0000, as a
        // checksum computed afresh would (a valid header's never is 0xFFFF).
        let sum = UInt32(load16(frame, l3 + 10)) &+ 0x0100
        store16(frame, l3 + 10, UInt16(truncatingIfNeeded: sum &+ (sum >= 0xFFFF ? 1 : 0)))
        return true
    }

    /// Addresses the frame to `destination` from our MAC on `egress`, counts it and says where
    /// to send it: the last stage of every forwarding path.
    @inline(__always)
    func send(_ frame: UnsafeMutableRawPointer, to destination: MACAddress, egress: Int, counting counter: Counter)
        -> Verdict {
        destination.store(to: frame, at: 0)
        interfaceMACs[egress].store(to: frame, at: 6)
        counters.bump(counter)
        if counter != .forwarded { counters.bump(.forwarded) }
        return .forward(egress: egress)
    }
}
