import XCTest
@testable import SwitchyardCore

final class TCPSegmenterTests: XCTestCase {
    /// A 10,000-byte TCP super-packet at MTU 1500 becomes 7 valid segments carrying the same
    /// bytes, with consecutive sequence numbers and FIN/PSH on the last only.
    func testSegmentsAreValidAndCarryEveryByte() {
        let payload = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var frame = tcpFrame(client: 0xC612_020B, port: 8080, to: 0xC612_010A, dport: 40_000,
                             flags: TCPFlags.ack | TCPFlags.fin | 0x08)
        frame += payload
        frame.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            store16(p, 16, UInt16(40 + payload.count))
            store32(p, 38, 1_000_000)
            store16(p, 24, 0)
            store16(p, 24, InternetChecksum.checksum(p + 14, 20))
        }
        var segmenter = TCPSegmenter()
        let count = frame.withUnsafeMutableBytes { segmenter.segment($0.baseAddress!, length: $0.count, mtu: 1500) }
        XCTAssertEqual(count, 7)
        var carried: [UInt8] = []
        for i in 0..<count {
            let (p, length) = segmenter.segment(i)
            XCTAssertLessThanOrEqual(length, 14 + 1500)
            guard case .ipv4(let info) = PacketParser.parse(p, length: length) else {
                return XCTFail("segment \(i) does not parse")
            }
            XCTAssertEqual(load32(p, 38), 1_000_000 &+ UInt32(i * 1460), "sequence of segment \(i)")
            let flags = p.load(fromByteOffset: 47, as: UInt8.self)
            XCTAssertEqual(flags & (TCPFlags.fin | 0x08) != 0, i == count - 1, "FIN/PSH only on the last")
            let pseudo = InternetChecksum.pseudoHeaderSum(source: info.source.v4, destination: info.destination.v4,
                                                          protocol: IPProtocol.tcp, length: info.ipLength - 20)
            XCTAssertEqual(InternetChecksum.fold(InternetChecksum.sum(p + 34, info.ipLength - 20, initial: pseudo)), 0xFFFF,
                           "TCP checksum of segment \(i)")
            carried += UnsafeRawBufferPointer(start: p + 54, count: length - 54)
        }
        XCTAssertEqual(carried, payload)
    }

    /// Given the segment size the frame arrived with, it cuts as the kernel would (never above
    /// what the MTU holds).
    func testCutsAtTheSendersSegmentSize() {
        var frame = tcpFrame(client: 0xC612_020B, port: 8080, to: 0xC612_010A, dport: 40_000, flags: TCPFlags.ack)
        frame += [UInt8](repeating: 7, count: 10_000)
        frame.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            store16(p, 16, UInt16(40 + 10_000))
            store16(p, 24, 0)
            store16(p, 24, InternetChecksum.checksum(p + 14, 20))
        }
        var segmenter = TCPSegmenter()
        let count = frame.withUnsafeMutableBytes { segmenter.segment($0.baseAddress!, length: $0.count, mtu: 1500, mss: 1000) }
        XCTAssertEqual(count, 10)
        XCTAssertEqual(segmenter.segment(0).1, 14 + 40 + 1000)
        let capped = frame.withUnsafeMutableBytes { segmenter.segment($0.baseAddress!, length: $0.count, mtu: 1500, mss: 9000) }
        XCTAssertEqual(capped, 7, "no more than 1460 bytes a segment at MTU 1500")
    }

    func testLeavesSmallAndNonTCPAlone() {
        var segmenter = TCPSegmenter()
        var small = tcpFrame(client: 1, port: 1, to: 2, dport: 2)
        XCTAssertEqual(small.withUnsafeMutableBytes { segmenter.segment($0.baseAddress!, length: $0.count, mtu: 1500) }, 0)
        var udp = tcpFrame(client: 1, port: 1, to: 2, dport: 2, proto: IPProtocol.udp)
        XCTAssertEqual(udp.withUnsafeMutableBytes { segmenter.segment($0.baseAddress!, length: $0.count, mtu: 20) }, 0)
    }

    /// An IPv6 TCP super-packet (10,000 bytes at MTU 1500): 7 segments of at most 1440 bytes,
    /// each with its payload length and a TCP checksum over the IPv6 pseudo-header; and the
    /// virtio_net_hdr that sends it whole asks for TCPV6 segmentation.
    func testIPv6SuperPacketsAreCutAndSentWhole() {
        let payload = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        var frame = [UInt8](repeating: 0, count: 14 + 40 + 20) + payload
        frame.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            store16(p, 12, 0x86DD)
            store32(p, 14, 0x6000_0000)
            store16(p, 18, UInt16(20 + payload.count))
            p.storeBytes(of: IPProtocol.tcp, toByteOffset: 20, as: UInt8.self)
            p.storeBytes(of: 64, toByteOffset: 21, as: UInt8.self)
            IPAddressBits(ipv6: "2001:db8:62::13")!.store(p, 22)
            IPAddressBits(ipv6: "2001:db8:61::10")!.store(p, 38)
            store16(p, 54, 8080)
            store16(p, 56, 40_000)
            store32(p, 58, 7_000_000)
            p.storeBytes(of: 0x50, toByteOffset: 66, as: UInt8.self)
            p.storeBytes(of: TCPFlags.ack | TCPFlags.fin | 0x08, toByteOffset: 67, as: UInt8.self)
        }
        var segmenter = TCPSegmenter()
        let count = frame.withUnsafeMutableBytes { segmenter.segment($0.baseAddress!, length: $0.count, mtu: 1500) }
        XCTAssertEqual(count, 7)
        var carried: [UInt8] = []
        for i in 0..<count {
            let (p, length) = segmenter.segment(i)
            XCTAssertLessThanOrEqual(length, 14 + 1500)
            guard case .ipv6(let info) = PacketParser.parse(p, length: length) else {
                return XCTFail("segment \(i) does not parse")
            }
            XCTAssertEqual(Int(load16(p, 18)), length - 54, "payload length of segment \(i)")
            XCTAssertEqual(load32(p, 58), 7_000_000 &+ UInt32(i * 1440), "sequence of segment \(i)")
            let flags = p.load(fromByteOffset: 67, as: UInt8.self)
            XCTAssertEqual(flags & (TCPFlags.fin | 0x08) != 0, i == count - 1, "FIN/PSH only on the last")
            let pseudo = InternetChecksum.pseudoHeaderSum6(source: info.source, destination: info.destination,
                                                           nextHeader: IPProtocol.tcp, length: length - 54)
            XCTAssertEqual(InternetChecksum.fold(InternetChecksum.sum(p + 54, length - 54, initial: pseudo)), 0xFFFF,
                           "TCP checksum of segment \(i)")
            carried += UnsafeRawBufferPointer(start: p + 74, count: length - 74)
        }
        XCTAssertEqual(carried, payload)
        let header = frame.withUnsafeMutableBytes {
            GSO.header($0.baseAddress!, length: $0.count, mtu: 1500, gsoSize: 1428, partial: true)
        }
        XCTAssertEqual(header, VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: VirtioNetHeader.gsoTCPv6,
                                               headerLength: 74, gsoSize: 1428, checksumStart: 54, checksumOffset: 16))
    }
}
