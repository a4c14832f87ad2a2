// NAT's address translation (ipvsadm -m), like IPVS's TCP/UDP dnat and snat handlers and its
// reply path: the client's packet gets the real server's address and port as destination; the
// real server's reply gets the VIP and service port back as source. The client's address is
// never rewritten, so the real server sees the true client. Every checksum is updated
// incrementally (RFC 1624), or computed in full when the capture left it unfinished (a TCP
// super-packet keeps it unfinished: only its pseudo-header sum moves; GSO.swift). The steps
// that send a packet on (TTL, MACs, verdict) are the transmitters' (Transmit.swift).

extension Pipeline {
    /// Offset of the TCP or UDP checksum field.
    @inline(__always)
    static func l4ChecksumOffset(_ info: PacketInfo) -> Int {
        info.l4Offset + (info.proto == IPProtocol.tcp ? 16 : 6)
    }

    /// Rewrites the IPv4 address at `offset` (source or destination of the header at `l3`) and
    /// updates the header checksum; returns the old address.
    @inline(__always)
    @discardableResult
    static func rewriteAddress(_ frame: UnsafeMutableRawPointer, l3: Int, at offset: Int, to address: UInt32) -> UInt32 {
        let old = load32(frame, offset)
        store32(frame, offset, address)
        store16(frame, l3 + 10, InternetChecksum.update(load16(frame, l3 + 10), old: old, new: address))
        return old
    }

    /// Rewrites the source (`source`) or destination address and port of a TCP/UDP packet of
    /// either family, fixing the IPv4 header checksum (IPv6 has none) and the L4 checksum (whose
    /// pseudo-header holds the address). A UDP checksum of 0 means none (IPv4 only: the IPv6
    /// parser drops it) and stays 0; a computed 0 goes out as 0xFFFF. A pending checksum is left
    /// alone (settlePendingChecksum's). Returns the old address.
    @inline(__always)
    @discardableResult
    static func rewrite(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo, source: Bool, address: IPAddressBits,
                        port: UInt16, checksumPending: Bool) -> IPAddressBits {
        let oldAddress: IPAddressBits
        if _slowPath(info.isIPv6) {
            let offset = info.l3Offset + (source ? 8 : 24)
            oldAddress = IPAddressBits.load(frame, offset)
            address.store(frame, offset)
        } else {
            let offset = info.l3Offset + (source ? 12 : 16)
            oldAddress = IPAddressBits(v4: rewriteAddress(frame, l3: info.l3Offset, at: offset, to: address.v4))
        }
        let portOffset = info.l4Offset + (source ? 0 : 2)
        let oldPort = load16(frame, portOffset)
        store16(frame, portOffset, port)
        if checksumPending { return oldAddress }
        let field = l4ChecksumOffset(info)
        let old = load16(frame, field)
        if info.proto == IPProtocol.udp && old == 0 { return oldAddress }
        var sum = _slowPath(info.isIPv6) ? InternetChecksum.update(old, old: oldAddress, new: address)
                                         : InternetChecksum.update(old, old: oldAddress.v4, new: address.v4)
        sum = InternetChecksum.update(sum, old: oldPort, new: port)
        if info.proto == IPProtocol.udp && sum == 0 { sum = 0xFFFF }
        store16(frame, field, sum)
        return oldAddress
    }

    /// The L4 checksum the capture left pending, once `rewrite` has moved an address from
    /// `oldAddress` to `address` (and `info` holds the new one): computed in full, unless it
    /// stays partial (keepsPartialChecksum): then the field holds the pseudo-header's folded sum,
    /// not complemented, and only the address moves it. Out of line: the common path (checksum
    /// complete) pays one branch for it.
    @inline(never)
    mutating func settlePendingChecksum(_ frame: UnsafeMutableRawPointer, _ info: PacketInfo,
                                        oldAddress: IPAddressBits, address: IPAddressBits) {
        if keepsPartialChecksum(info) {
            let field = Self.l4ChecksumOffset(info)
            let partial = ~load16(frame, field)
            let moved = info.isIPv6 ? InternetChecksum.update(partial, old: oldAddress, new: address)
                                    : InternetChecksum.update(partial, old: oldAddress.v4, new: address.v4)
            store16(frame, field, ~moved)
        } else if PacketParser.finishChecksum(frame, info) {
            counters.bump(.checksumsFinished)
        }
    }

    /// Client → VIP:port becomes client → RIP:port' (transmitNAT has decremented the TTL).
    @inline(__always)
    mutating func rewriteInbound(_ frame: UnsafeMutableRawPointer, _ info: inout PacketInfo,
                                 to real: UnsafePointer<RealServerEntry>, checksumPending: Bool) {
        let oldAddress = Self.rewrite(frame, info, source: false, address: real.pointee.address,
                                      port: real.pointee.port, checksumPending: checksumPending)
        info.destination = real.pointee.address
        info.destinationPort = real.pointee.port
        if _slowPath(checksumPending) {
            settlePendingChecksum(frame, info, oldAddress: oldAddress, address: real.pointee.address)
        }
    }

    /// A packet from a real server to a client: if it is the reply of a NAT flow, rewrite its
    /// source back to VIP:port and send it to the hop the client's packets came from.
    @inline(__always)
    mutating func natReply(_ frame: UnsafeMutableRawPointer, _ info: inout PacketInfo, checksumPending: Bool,
                           now: UInt32, snapshot: SnapshotView) -> Verdict {
        let key = FlowKey(source: info.source, destination: info.destination, sourcePort: info.sourcePort,
                          destinationPort: info.destinationPort, proto: info.proto | Self.replyMark)
        guard let slot = findFlow(key, now: now) else { return pass() }
        let reply = flows[slot]
        guard let real = snapshot.real(reply.realID), let service = snapshot.service(of: real) else {
            flows.remove(at: slot)
            return pass()
        }
        // Both directions share the state: the server's flags move the connection along too.
        let forwardKey = FlowKey(source: info.destination, destination: service.pointee.vip,
                                 sourcePort: info.destinationPort, destinationPort: service.pointee.port, proto: info.proto)
        var state = reply.state
        if info.proto == IPProtocol.tcp { state = state.next(serverFlags: info.tcpFlags) }
        flows[slot].lastSeen = now
        flows[slot].state = state
        if let forward = findFlow(forwardKey, now: now) {
            let previous = flows[forward].state
            flows[forward].lastSeen = now
            flows.setState(forward, state)
            if syncing { noteSync(forward, previous: previous, now: now, snapshot: snapshot) }
        }
        guard Self.decrementHopLimit(frame, info) else { return drop(.ttlExceeded) }
        let oldAddress = Self.rewrite(frame, info, source: true, address: service.pointee.vip,
                                      port: service.pointee.port, checksumPending: checksumPending)
        info.source = service.pointee.vip
        info.sourcePort = service.pointee.port
        if _slowPath(checksumPending) {
            settlePendingChecksum(frame, info, oldAddress: oldAddress, address: service.pointee.vip)
        }
        account(reply.realID, bytes: info.ipLength, inbound: false)
        return send(frame, to: reply.peerMAC, egress: Int(reply.interface), counting: .natReplies)
    }
}
