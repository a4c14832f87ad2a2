// Software TCP segmentation (what a NIC's TSO does). A local sender on veth, or a NIC with
// receive offloads the engine could not turn off, hands AF_PACKET TCP frames far larger than
// the MTU (one "super-packet" standing for many segments). Sent on as they are, the next hop
// drops them; so the worker cuts such a frame, after the pipeline rewrote its headers, into
// MSS-sized segments, each with its own IP length (IPv4: identification and header checksum
// too), sequence number and TCP checksum (RFC 793 §3.1 fields; the flags FIN and PSH go on the
// last segment only, CWR on the first only, as Linux's tcp_gso_segment does).

public struct TCPSegmenter: ~Copyable {
    let scratch: UnsafeMutableRawPointer
    let lengths: UnsafeMutablePointer<Int>

    public init() {
        scratch = .allocate(byteCount: Limits.segmentationBytes, alignment: 64)
        lengths = .allocate(capacity: Limits.maxSegments)
        lengths.initialize(repeating: 0, count: Limits.maxSegments)
    }

    deinit {
        scratch.deallocate()
        lengths.deallocate()
    }

    /// Segment `i` of the last `segment` call.
    @inline(__always)
    public func segment(_ i: Int) -> (UnsafeMutableRawPointer, Int) {
        var offset = 0
        for k in 0..<i { offset += lengths[k] }
        return (scratch + offset, lengths[i])
    }

    /// Cuts a TCP frame whose IP packet is longer than `mtu` into segments of at most `mtu`
    /// bytes of IP, and of at most `mss` payload bytes when given (the segment size the frame
    /// arrived with, as the kernel would cut it). Returns how many (read them with
    /// `segment(_:)`), or 0 if the frame is not TCP, cannot be cut (IPv4 options, IPv6
    /// extension headers and fragments are left alone) or would not fit.
    public mutating func segment(_ frame: UnsafeMutableRawPointer, length: Int, mtu: Int, mss wanted: Int = 0) -> Int {
        let info: PacketInfo, v6: Bool
        switch PacketParser.parse(frame, length: length) {
        case .ipv4(let parsed): (info, v6) = (parsed, false)
        case .ipv6(let parsed): (info, v6) = (parsed, true)
        default: return 0
        }
        let ipHeader = v6 ? 40 : 20
        guard info.proto == IPProtocol.tcp, info.l4Offset - info.l3Offset == ipHeader else { return 0 }
        let tcpHeader = Int(frame.load(fromByteOffset: info.l4Offset + 12, as: UInt8.self) >> 4) * 4
        let headers = info.l4Offset + tcpHeader
        let payload = info.l3Offset + info.ipLength - headers
        let mss = wanted > 0 ? min(wanted, mtu - ipHeader - tcpHeader) : mtu - ipHeader - tcpHeader
        guard mss >= 8, payload > mss else { return 0 }
        let count = (payload + mss - 1) / mss
        guard count <= Limits.maxSegments, count * headers + payload <= Limits.segmentationBytes else { return 0 }

        let l3 = info.l3Offset
        let l4 = info.l4Offset
        let id = load16(frame, l3 + 4)
        let sequence = load32(frame, l4 + 4)
        let flags = frame.load(fromByteOffset: l4 + 13, as: UInt8.self)
        var out = scratch
        for i in 0..<count {
            let chunk = min(mss, payload - i * mss)
            out.copyMemory(from: frame, byteCount: headers)
            (out + headers).copyMemory(from: frame + headers + i * mss, byteCount: chunk)
            if v6 {
                // IPv6: the payload length (no header checksum).
                store16(out, l3 + 4, UInt16(tcpHeader + chunk))
            } else {
                // IPv4: total length, identification, header checksum.
                store16(out, l3 + 2, UInt16(20 + tcpHeader + chunk))
                store16(out, l3 + 4, id &+ UInt16(truncatingIfNeeded: i))
                store16(out, l3 + 10, 0)
                store16(out, l3 + 10, InternetChecksum.checksum(out + l3, 20))
            }
            // TCP: sequence number, flags, checksum over the pseudo-header and the segment.
            store32(out, l4 + 4, sequence &+ UInt32(i * mss))
            var f = flags
            if i < count - 1 { f &= ~(TCPFlags.fin | 0x08) }  // FIN and PSH only on the last
            if i > 0 { f &= ~0x80 }  // CWR only on the first
            out.storeBytes(of: f, toByteOffset: l4 + 13, as: UInt8.self)
            store16(out, l4 + 16, 0)
            let pseudo = v6
                ? InternetChecksum.pseudoHeaderSum6(source: info.source, destination: info.destination,
                                                    nextHeader: IPProtocol.tcp, length: tcpHeader + chunk)
                : InternetChecksum.pseudoHeaderSum(source: info.source.v4, destination: info.destination.v4,
                                                   protocol: IPProtocol.tcp, length: tcpHeader + chunk)
            store16(out, l4 + 16, InternetChecksum.checksum(out + l4, tcpHeader + chunk, initial: pseudo))
            lengths[i] = headers + chunk
            out += headers + chunk
        }
        return count
    }
}
