import XCTest
@testable import SwitchyardCore

/// Super-packets sent whole: the virtio_net_hdr asked of the kernel, and the partial checksum
/// a super-packet keeps through DR and both NAT directions, finished afterwards as a NIC (or
/// the kernel's segmenter) finishes it: the result must be the checksum computed afresh.
final class GSOTests: XCTestCase {
    let vipNAT: UInt32 = 0xC612_0164  // 198.18.1.100
    let client: UInt32 = 0xC612_010A
    let rip: UInt32 = 0xC612_020B

    /// A TCP frame of `payload` bytes with a 12-byte option block (data offset 8), its checksum
    /// partial as a local sender or GRO leaves it: the pseudo-header's folded sum, not complemented.
    func superPacket(from s: UInt32, _ sport: UInt16, to d: UInt32, _ dport: UInt16, payload: Int,
                     flags: UInt8 = TCPFlags.ack) -> [UInt8] {
        var frame = tcpFrame(client: s, port: sport, to: d, dport: dport, flags: flags)
        frame += [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]  // NOP NOP timestamps
        frame += (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        frame.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            store16(p, 16, UInt16(20 + 32 + payload))
            store16(p, 24, 0)
            store16(p, 24, InternetChecksum.checksum(p + 14, 20))
            p.storeBytes(of: 0x80, toByteOffset: 46, as: UInt8.self)
            let pseudo = InternetChecksum.pseudoHeaderSum(source: s, destination: d, protocol: IPProtocol.tcp,
                                                          length: 32 + payload)
            store16(p, 50, InternetChecksum.fold(pseudo))
        }
        return frame
    }

    /// What the device does with VIRTIO_NET_HDR_F_NEEDS_CSUM: sums from the TCP header with
    /// the field as it is, and stores the complement. True if the result is the valid checksum.
    func finishedLikeANIC(_ frame: [UInt8]) -> Bool {
        var f = frame
        return f.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            guard case .ipv4(let info) = PacketParser.parse(p, length: raw.count) else { return false }
            let l4 = info.ipLength - 20
            store16(p, 50, InternetChecksum.checksum(p + 34, l4))
            let pseudo = InternetChecksum.pseudoHeaderSum(source: info.source.v4, destination: info.destination.v4,
                                                          protocol: IPProtocol.tcp, length: l4)
            return InternetChecksum.fold(InternetChecksum.sum(p + 34, l4, initial: pseudo)) == 0xFFFF
        }
    }

    func testHeaderAsksForSegmentsOfTheSendersSize() throws {
        var frame = superPacket(from: client, 40_000, to: rip, 8080, payload: 20_000, flags: TCPFlags.ack | 0x80)
        let header = frame.withUnsafeMutableBytes {
            GSO.header($0.baseAddress!, length: $0.count, mtu: 1500, gsoSize: 1448, partial: true)
        }
        XCTAssertEqual(header, VirtioNetHeader(flags: 1, gsoType: 0x81, headerLength: 66, gsoSize: 1448,
                                               checksumStart: 34, checksumOffset: 16), "CWR: the ECN bit")
        XCTAssertEqual(header?.bytes, [1, 0x81, 66, 0, 0xA8, 0x05, 34, 0, 16, 0], "little-endian, as the kernel reads it")
        let unknown = frame.withUnsafeMutableBytes {
            GSO.header($0.baseAddress!, length: $0.count, mtu: 1500, gsoSize: 0, partial: false)
        }
        XCTAssertEqual(unknown?.gsoSize, 1448, "no size given: what 1500 bytes of IP hold after 52 of headers")
        XCTAssertEqual(unknown?.flags, 0, "a complete checksum: the kernel sets it up again to segment")
        let clamped = frame.withUnsafeMutableBytes {
            GSO.header($0.baseAddress!, length: $0.count, mtu: 1400, gsoSize: 1448, partial: true)
        }
        XCTAssertEqual(clamped?.gsoSize, 1348, "never more than the egress MTU holds")
        var readBack = [UInt8](repeating: 0, count: 10)
        readBack.withUnsafeMutableBytes { header!.store(to: $0.baseAddress!) }
        XCTAssertEqual(readBack, header!.bytes)
        XCTAssertEqual(readBack.withUnsafeBytes { VirtioNetHeader(reading: $0.baseAddress!) }, header)
    }

    func testHeaderLeavesWhatIsNotACuttableTCPPacketAlone() {
        var small = superPacket(from: client, 1, to: rip, 2, payload: 100)
        XCTAssertNil(small.withUnsafeMutableBytes { GSO.header($0.baseAddress!, length: $0.count, mtu: 1500, gsoSize: 0, partial: true) })
        var udp = tcpFrame(client: client, port: 1, to: rip, dport: 2, proto: IPProtocol.udp)
        XCTAssertNil(udp.withUnsafeMutableBytes { GSO.header($0.baseAddress!, length: $0.count, mtu: 20, gsoSize: 0, partial: true) })
    }

    func testDRKeepsTheSuperPacketsPartialChecksum() {
        var p = Pipeline(PipelineConfig(interfaceMACs: [lbMAC], flowCapacity: 1_000))
        let frame = superPacket(from: client, 40_000, to: vip.value, 80, payload: 30_000)
        let (verdict, out) = feed(&p, frame, pending: true, snapshot: fixtureSnapshot())
        XCTAssertEqual(verdict, .forward(egress: 0))
        XCTAssertEqual(load16Array(out, 50), load16Array(frame, 50), "the field is not summed over 30 KB")
        XCTAssertEqual(p.counters[.checksumsFinished], 0)
        XCTAssertTrue(finishedLikeANIC(out))
    }

    func testNATMovesThePartialChecksumWithTheAddressesBothWays() {
        var p = Pipeline(PipelineConfig(interfaceMACs: [lbMAC, MACAddress(bits: 0x03)], flowCapacity: 1_000))
        let s = ForwardingSnapshot(services: [ServiceSpec(
            id: 0, proto: IPProtocol.tcp, vip: IPv4Address(vipNAT), port: 80, scheduler: .roundRobin, method: .nat,
            reals: [RealServerSpec(id: 0, address: IPv4Address(rip), port: 8080, weight: 1, mac: MACAddress(bits: 0x21),
                                   interface: 1)])], schedulingKey: .defaultScheduling, maglevTableSize: 251)
        _ = feed(&p, tcpFrame(client: client, port: 40_000, to: vipNAT, dport: 80), snapshot: s)
        let (inVerdict, inbound) = feed(&p, superPacket(from: client, 40_000, to: vipNAT, 80, payload: 30_000),
                                        pending: true, snapshot: s)
        XCTAssertEqual(inVerdict, .forward(egress: 1))
        XCTAssertEqual(load32Array(inbound, 30), rip)
        XCTAssertTrue(finishedLikeANIC(inbound), "upload: the destination moved in the pseudo-header sum")
        let (outVerdict, reply) = feed(&p, superPacket(from: rip, 8080, to: client, 40_000, payload: 60_000),
                                       pending: true, snapshot: s)
        guard case .forward = outVerdict else { return XCTFail("the reply was not forwarded: \(outVerdict)") }
        XCTAssertEqual(load32Array(reply, 26), vipNAT)
        XCTAssertTrue(finishedLikeANIC(reply), "download: the source moved in the pseudo-header sum")
        XCTAssertEqual(p.counters[.checksumsFinished], 0)
        // A frame within the MTU is still finished here, in full.
        let (_, small) = feed(&p, superPacket(from: client, 40_000, to: vipNAT, 80, payload: 100), pending: true, snapshot: s)
        XCTAssertEqual(p.counters[.checksumsFinished], 1)
        var check = small
        let valid = check.withUnsafeMutableBytes { raw -> Bool in
            let q = raw.baseAddress!
            let pseudo = InternetChecksum.pseudoHeaderSum(source: client, destination: rip, protocol: IPProtocol.tcp, length: 132)
            return InternetChecksum.fold(InternetChecksum.sum(q + 34, 132, initial: pseudo)) == 0xFFFF
        }
        XCTAssertTrue(valid)
    }

    /// Sets DF on a frame built by superPacket (its IP checksum updated).
    func withDF(_ frame: [UInt8]) -> [UInt8] {
        var f = frame
        f.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            store16(p, 20, 0x4000)
            store16(p, 24, 0)
            store16(p, 24, InternetChecksum.checksum(p + 14, 20))
        }
        return f
    }

    func process(_ p: inout Pipeline, _ frame: [UInt8], gsoSize: Int?, snapshot: ForwardingSnapshot) -> (Verdict, [UInt8]) {
        var buffer = frame
        let verdict = buffer.withUnsafeMutableBytes {
            p.process($0.baseAddress!, length: $0.count, checksumPending: true, now: 0, snapshot: snapshot.view, gsoSize: gsoSize)
        }
        return (verdict, observed(verdict, buffer, p))
    }

    /// As the kernel's ip_forward (ip_exceeds_mtu): a DF packet whose segments do not fit the
    /// egress MTU is answered with ICMP fragmentation needed naming the MTU; segments that fit,
    /// no DF, or a capture that cannot tell (AF_XDP) go on.
    func testSegmentsTooLargeForTheMTUGetFragmentationNeeded() {
        var p = Pipeline(PipelineConfig(interfaceMACs: [lbMAC], mtu: 1400, flowCapacity: 1_000))
        let s = fixtureSnapshot()
        let big = withDF(superPacket(from: client, 40_000, to: vip.value, 80, payload: 30_000))
        let (fits, _) = process(&p, big, gsoSize: 1348, snapshot: s)
        XCTAssertEqual(fits, .forward(egress: 0), "52 bytes of headers + 1348 = 1400")
        let (verdict, reply) = process(&p, big, gsoSize: 1448, snapshot: s)
        XCTAssertEqual(verdict, .reply(egress: 0))
        XCTAssertEqual(Array(reply[0..<6]), Array(big[6..<12]), "back to the sender's MAC")
        XCTAssertEqual(load32Array(reply, 26), vip.value, "from the address it was sent to")
        XCTAssertEqual(load32Array(reply, 30), client)
        XCTAssertEqual(Array(reply[34..<42]), [3, 4, reply[36], reply[37], 0, 0, 0x05, 0x78], "type 3 code 4, MTU 1400")
        XCTAssertEqual(InternetChecksum.checksum(reply.withUnsafeBytes { $0.baseAddress! } + 34, reply.count - 34), 0,
                       "the ICMP checksum")
        XCTAssertEqual(reply.count, 14 + 20 + 8 + 548, "a 576-byte answer, as the kernel's icmp_send")
        XCTAssertEqual(Array(reply[42...]), Array(big[14..<(14 + 548)]), "as much of the packet quoted as fits")
        XCTAssertEqual(p.counters[.fragmentationNeeded], 1)
        XCTAssertEqual(p.counters[.icmpFragmentationNeeded], 1)
        XCTAssertEqual(p.replyCounter, .icmpFragmentationNeeded)
        let (oneBigPacket, _) = process(&p, big, gsoSize: 0, snapshot: s)
        XCTAssertEqual(oneBigPacket, .reply(egress: 0), "one packet larger than the MTU, DF")
        let noDF = superPacket(from: client, 40_000, to: vip.value, 80, payload: 30_000)
        XCTAssertEqual(process(&p, noDF, gsoSize: 1448, snapshot: s).0, .forward(egress: 0), "no DF: cut to fit")
        XCTAssertEqual(process(&p, big, gsoSize: nil, snapshot: s).0, .forward(egress: 0), "AF_XDP: cannot tell, cut to fit")
    }

    /// IPv6 has no DF bit and no router fragments it: an IPv6 super-packet whose segments would
    /// not fit is answered with Packet Too Big (RFC 4443 §3.2) naming the MTU, from the VIP.
    func testIPv6SegmentsTooLargeForTheMTUGetPacketTooBig() {
        var p = Pipeline(PipelineConfig(interfaceMACs: [lbMAC], mtu: 1400, flowCapacity: 1_000))
        let s = Golden6PacketTests.drSnapshot()
        let vip6 = IPAddressBits(ipv6: "2001:db8::100")!, client6 = IPAddressBits(ipv6: "2001:db8:5::10")!
        let payload = 30_000
        var big = [UInt8](repeating: 0, count: 14 + 40 + 32) + (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        big.withUnsafeMutableBytes { raw in
            let f = raw.baseAddress!
            lbMAC.store(to: f, at: 0)
            MACAddress(bits: 0x0200_0000_000A).store(to: f, at: 6)
            store16(f, 12, 0x86DD)
            store32(f, 14, 0x6000_0000)
            store16(f, 18, UInt16(32 + payload))
            f.storeBytes(of: IPProtocol.tcp, toByteOffset: 20, as: UInt8.self)
            f.storeBytes(of: 64, toByteOffset: 21, as: UInt8.self)
            client6.store(f, 22)
            vip6.store(f, 38)
            store16(f, 54, 40_000)
            store16(f, 56, 80)
            f.storeBytes(of: 0x80, toByteOffset: 66, as: UInt8.self)
            f.storeBytes(of: TCPFlags.ack, toByteOffset: 67, as: UInt8.self)
            let pseudo = InternetChecksum.pseudoHeaderSum6(source: client6, destination: vip6, nextHeader: IPProtocol.tcp,
                                                           length: 32 + payload)
            store16(f, 70, InternetChecksum.fold(pseudo))
        }
        XCTAssertEqual(process(&p, big, gsoSize: 1328, snapshot: s).0, .forward(egress: 0), "72 bytes of headers + 1328 = 1400")
        let (verdict, reply) = process(&p, big, gsoSize: 1440, snapshot: s)
        XCTAssertEqual(verdict, .reply(egress: 0))
        XCTAssertEqual(Array(reply[0..<6]), Array(big[6..<12]), "back to the sender's MAC")
        XCTAssertEqual(load16Array(reply, 12), 0x86DD)
        XCTAssertEqual(reply[20], 58, "ICMPv6")
        XCTAssertEqual(Array(reply[22..<38]), Array(big[38..<54]), "from the VIP it was sent to")
        XCTAssertEqual(Array(reply[38..<54]), Array(big[22..<38]), "to the client")
        XCTAssertEqual(Array(reply[54..<56]), [2, 0], "Packet Too Big")
        XCTAssertEqual(load32Array(reply, 58), 1400, "naming the MTU")
        XCTAssertEqual(Int(load16Array(reply, 18)), reply.count - 54, "payload length")
        let sum = reply.withUnsafeBytes { r in
            InternetChecksum.fold(InternetChecksum.sum(r.baseAddress! + 54, r.count - 54,
                                                       initial: InternetChecksum.pseudoHeaderSum6(
                                                           source: vip6, destination: client6, nextHeader: 58, length: r.count - 54)))
        }
        XCTAssertEqual(sum, 0xFFFF, "the ICMPv6 checksum")
        XCTAssertEqual(Array(reply[62...]), Array(big[14..<(14 + reply.count - 62)]), "the packet quoted from its header on")
        XCTAssertLessThanOrEqual(reply.count, 14 + 576 + 20, "a small answer")
        XCTAssertEqual(p.counters[.fragmentationNeeded], 1)
        XCTAssertEqual(p.counters[.icmpFragmentationNeeded], 1)
        XCTAssertEqual(process(&p, big, gsoSize: nil, snapshot: s).0, .forward(egress: 0), "AF_XDP: cannot tell, cut to fit")
    }

    func load16Array(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) << 8 | UInt16(b[at + 1]) }
    func load32Array(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }
}
