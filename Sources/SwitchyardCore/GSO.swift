// Sending a TCP super-packet whole: the virtio_net_hdr that asks the kernel (or the NIC's TSO)
// to cut it into segments, as a packet socket with PACKET_VNET_HDR takes it. The engine
// receives 64 KiB frames (GRO, or a local sender's TSO on veth), rewrites their headers once,
// and pays for one send instead of one per wire packet; wireguard-go's TUN offload works the
// same way. The software segmenter (TCPSegmentation.swift) stays for when this cannot be used.

/// struct virtio_net_hdr (include/uapi/linux/virtio_net.h), fields in host order.
public struct VirtioNetHeader: Equatable, Sendable {
    public var flags: UInt8
    public var gsoType: UInt8
    /// Bytes of headers from the frame's start (Ethernet included): the part kept linear.
    public var headerLength: UInt16
    /// Payload bytes per segment (the MSS).
    public var gsoSize: UInt16
    /// Where the checksum's range starts (the TCP header) and where, from there, the field is.
    public var checksumStart: UInt16
    public var checksumOffset: UInt16

    /// VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum field holds the pseudo-header sum; each
    /// segment's is to be finished from `checksumStart`.
    public static let needsChecksum: UInt8 = 1
    /// VIRTIO_NET_HDR_GSO_TCPV4 and _TCPV6, and the ECN bit (a CWR flag goes on the first
    /// segment only).
    public static let gsoTCPv4: UInt8 = 1
    public static let gsoTCPv6: UInt8 = 4
    public static let gsoECN: UInt8 = 0x80

    /// The 10 bytes as the kernel reads them (little-endian, as virtio's legacy header is on
    /// every machine Switchyard runs on).
    public var bytes: [UInt8] {
        [flags, gsoType, UInt8(headerLength & 0xFF), UInt8(headerLength >> 8), UInt8(gsoSize & 0xFF), UInt8(gsoSize >> 8),
         UInt8(checksumStart & 0xFF), UInt8(checksumStart >> 8), UInt8(checksumOffset & 0xFF), UInt8(checksumOffset >> 8)]
    }

    /// Writes the 10 bytes at `p` (the sender's own buffer: nothing allocated per frame).
    @inline(__always)
    public func store(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: flags, as: UInt8.self)
        p.storeBytes(of: gsoType, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: headerLength.littleEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: gsoSize.littleEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: checksumStart.littleEndian, toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: checksumOffset.littleEndian, toByteOffset: 8, as: UInt16.self)
    }

    /// Reads the header the kernel put before a received frame (PACKET_VNET_HDR).
    @inline(__always)
    public init(reading p: UnsafeRawPointer) {
        flags = p.load(as: UInt8.self)
        gsoType = p.load(fromByteOffset: 1, as: UInt8.self)
        headerLength = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        gsoSize = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        checksumStart = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        checksumOffset = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
    }

    public init(flags: UInt8, gsoType: UInt8, headerLength: UInt16, gsoSize: UInt16, checksumStart: UInt16,
                checksumOffset: UInt16) {
        (self.flags, self.gsoType, self.headerLength) = (flags, gsoType, headerLength)
        (self.gsoSize, self.checksumStart, self.checksumOffset) = (gsoSize, checksumStart, checksumOffset)
    }

    /// Its size on the wire of the socket.
    public static let size = 10
}

public enum GSO {
    /// The header that sends a rewritten IPv4 or IPv6 TCP super-packet whole: segments of `gsoSize`
    /// payload bytes (the sender's, from the header it arrived with; 0: as many as `mtu` bytes
    /// of IP hold), the checksum left `partial` (its field holds the pseudo-header sum) or
    /// complete (the kernel sets it up again for segmenting). nil if the frame is not a TCP
    /// packet longer than one segment.
    public static func header(_ frame: UnsafeMutableRawPointer, length: Int, mtu: Int, gsoSize: Int,
                              partial: Bool) -> VirtioNetHeader? {
        let info: PacketInfo, type: UInt8
        switch PacketParser.parse(frame, length: length) {
        case .ipv4(let parsed): (info, type) = (parsed, VirtioNetHeader.gsoTCPv4)
        case .ipv6(let parsed): (info, type) = (parsed, VirtioNetHeader.gsoTCPv6)
        default: return nil
        }
        guard info.proto == IPProtocol.tcp else { return nil }
        let tcpHeader = Int(frame.load(fromByteOffset: info.l4Offset + 12, as: UInt8.self) >> 4) * 4
        let headers = info.l4Offset + tcpHeader
        let payload = info.l3Offset + info.ipLength - headers
        let fits = mtu - (headers - info.l3Offset)
        let mss = gsoSize > 0 ? min(gsoSize, fits) : fits
        guard mss >= 8, payload > mss, headers <= Int(UInt16.max) else { return nil }
        let cwr = frame.load(fromByteOffset: info.l4Offset + 13, as: UInt8.self) & 0x80 != 0
        return VirtioNetHeader(flags: partial ? VirtioNetHeader.needsChecksum : 0,
                               gsoType: type | (cwr ? VirtioNetHeader.gsoECN : 0),
                               headerLength: UInt16(headers), gsoSize: UInt16(mss),
                               checksumStart: UInt16(info.l4Offset), checksumOffset: 16)
    }
}
