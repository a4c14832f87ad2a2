import XCTest
@testable import SwitchyardCore

/// Golden super-packets (GSOGoldenFixtures.swift, from Tests/fixtures/make_gso_golden.py): a
/// ~64 KiB TCP frame, its checksum partial as the sender's kernel leaves it, through DR and
/// through NAT both ways. The output's headers, the virtio_net_hdr it is sent with and the
/// segments the kernel would cut from it are checked against the independent oracle.
final class GSOGoldenTests: XCTestCase {
    static func payload(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) } }

    static func pipeline(for c: GSOGoldenCase) -> Pipeline {
        c.nat ? Pipeline(PipelineConfig(interfaceMACs: [NATGoldenTests.outsideMAC, NATGoldenTests.insideMAC], flowCapacity: 64))
              : Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 64))
    }

    static func snapshot(for c: GSOGoldenCase) -> ForwardingSnapshot {
        c.nat ? NATGoldenTests.snapshot() : fixtureSnapshot()
    }

    /// The case's setup frames, then its super-packet (checksum pending), through a fresh
    /// pipeline, with or without the worker's flow hints. Returns the verdict, the frame
    /// afterwards and how many checksums the pipeline finished.
    func run(_ c: GSOGoldenCase, hinted: Bool = false) -> (Verdict, [UInt8], UInt64) {
        var pipeline = Self.pipeline(for: c)
        let snapshot = Self.snapshot(for: c)
        for (i, step) in c.setup.enumerated() {
            let (verdict, _) = feedHinted(&pipeline, bytes(hex: step.frame), ingress: step.ingress, snapshot: snapshot)
            guard case .forward = verdict else {
                XCTFail("\(c.name): setup frame \(i + 1) not forwarded: \(verdict)")
                return (verdict, [], 0)
            }
        }
        let frame = bytes(hex: c.input) + Self.payload(c.payloadLength)
        var buffer = frame
        let verdict = buffer.withUnsafeMutableBytes { raw -> Verdict in
            let hint = hinted ? pipeline.flowHint(raw.baseAddress!, length: raw.count, snapshot: snapshot.view)
                              : FlowHint.none
            return pipeline.process(raw.baseAddress!, length: raw.count, ingress: c.ingress, checksumPending: true,
                                    now: 10, snapshot: snapshot.view, hint: hint)
        }
        return (verdict, buffer, pipeline.counters[.checksumsFinished])
    }

    /// Where two byte strings differ, as "offset: expected/actual" (for a precise failure).
    func differences(_ expected: [UInt8], _ actual: [UInt8]) -> String {
        guard expected.count == actual.count else { return "lengths \(expected.count)/\(actual.count)" }
        return expected.indices.filter { expected[$0] != actual[$0] }
            .map { String(format: "@%d: %02x/%02x", $0, expected[$0], actual[$0]) }.joined(separator: ", ")
    }

    func be16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) << 8 | UInt16(b[at + 1]) }

    /// Ones' complement sum of 16-bit words, folded (the test's own, not the engine's).
    func onesSum(_ b: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt16 {
        var s = initial
        var i = b.startIndex
        while i + 1 < b.endIndex {
            s += UInt32(b[i]) << 8 | UInt32(b[i + 1])
            s = (s & 0xFFFF) + (s >> 16)
            i += 2
        }
        if i < b.endIndex { s += UInt32(b[i]) << 8 }
        while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
        return UInt16(s)
    }

    func testFixturesCoverDRAndNATBothWays() {
        XCTAssertGreaterThanOrEqual(gsoGoldenCases.count, 4)
        XCTAssertTrue(gsoGoldenCases.contains { !$0.nat })
        XCTAssertTrue(gsoGoldenCases.contains { $0.nat && $0.ingress == 0 }, "NAT upload")
        XCTAssertTrue(gsoGoldenCases.contains { $0.nat && $0.ingress == 1 }, "NAT download")
        XCTAssertTrue(gsoGoldenCases.contains { $0.vnet.gsoType & VirtioNetHeader.gsoECN != 0 }, "CWR")
        for c in gsoGoldenCases {
            XCTAssertGreaterThan(c.payloadLength, 60_000, c.name)
            XCTAssertEqual(bytes(hex: c.input).count + c.payloadLength, 14 + Int(be16(bytes(hex: c.input), 16)), c.name)
        }
    }

    /// The super-packet's headers come out as the oracle's, byte for byte (MACs, TTL, IP header
    /// checksum, the rewritten address and port, the pseudo-header sum moved with the address),
    /// its payload untouched and its checksum not summed over 64 KiB. With flow hints too.
    func testOutputHeadersByteForByte() {
        for c in gsoGoldenCases {
            let input = bytes(hex: c.input)
            XCTAssertEqual(be16(input, 50), c.inputPartial, "\(c.name): the input's partial sum as rebuilt")
            for hinted in [false, true] {
                let name = "\(c.name)\(hinted ? " (hinted)" : "")"
                let (verdict, out, finished) = run(c, hinted: hinted)
                XCTAssertEqual(verdict, c.verdict, name)
                guard out.count == input.count + c.payloadLength else { XCTFail("\(name): length \(out.count)"); continue }
                let expected = bytes(hex: c.output)
                let headers = Array(out.prefix(expected.count))
                XCTAssertEqual(hex(headers), c.output, "\(name): output headers differ \(differences(expected, headers))")
                XCTAssertEqual(be16(out, 24), c.outputIPChecksum, "\(name): IP header checksum")
                XCTAssertEqual(be16(out, 50), c.outputPartial, "\(name): partial pseudo-header sum after the rewrite")
                XCTAssertTrue(out[expected.count...].elementsEqual(Self.payload(c.payloadLength)), "\(name): payload touched")
                XCTAssertEqual(finished, 0, "\(name): the checksum was finished in software")
            }
        }
    }

    /// GSO.header on the output asks for exactly the oracle's virtio_net_hdr, field by field, and
    /// its 10 bytes are the oracle's (little-endian).
    func testVirtioNetHeaderFieldByField() {
        for c in gsoGoldenCases {
            var (_, out, _) = run(c)
            guard !out.isEmpty else { continue }
            let header = out.withUnsafeMutableBytes {
                GSO.header($0.baseAddress!, length: $0.count, mtu: c.mtu, gsoSize: c.senderGSOSize, partial: true)
            }
            guard let h = header else { XCTFail("\(c.name): no virtio_net_hdr"); continue }
            XCTAssertEqual(h.flags, c.vnet.flags, "\(c.name): flags (NEEDS_CSUM)")
            XCTAssertEqual(h.gsoType, c.vnet.gsoType, "\(c.name): gso_type")
            XCTAssertEqual(h.headerLength, c.vnet.headerLength, "\(c.name): hdr_len")
            XCTAssertEqual(h.gsoSize, c.vnet.gsoSize, "\(c.name): gso_size")
            XCTAssertEqual(h.checksumStart, c.vnet.checksumStart, "\(c.name): csum_start")
            XCTAssertEqual(h.checksumOffset, c.vnet.checksumOffset, "\(c.name): csum_offset")
            XCTAssertEqual(hex(h.bytes), c.vnetBytes, "\(c.name): the 10 bytes")
            var stored = [UInt8](repeating: 0xEE, count: VirtioNetHeader.size)
            stored.withUnsafeMutableBytes { h.store(to: $0.baseAddress!) }
            XCTAssertEqual(hex(stored), c.vnetBytes, "\(c.name): the 10 bytes as stored")
        }
    }

    /// The segments the kernel would cut from the output with the oracle's gso_size: the engine's
    /// TCPSegmenter, given the MTU that gso_size implies, makes the oracle's segments header for
    /// header (IP length, id, checksum; seq, flags, TCP checksum), carrying the payload in order.
    /// And the output's partial sum, finished per segment as the kernel and a NIC finish it (its
    /// length term swapped for the segment's, then summed from csum_start), gives each segment's
    /// checksum.
    func testSegmentsAsTheKernelCutsThem() {
        var segmenter = TCPSegmenter()
        for c in gsoGoldenCases {
            var (_, out, _) = run(c)
            guard !out.isEmpty else { continue }
            let payload = Self.payload(c.payloadLength)
            let headerLength = Int(c.vnet.headerLength)
            let tcpHeader = headerLength - 34
            let mtu = 20 + tcpHeader + Int(c.vnet.gsoSize)
            let count = out.withUnsafeMutableBytes { segmenter.segment($0.baseAddress!, length: $0.count, mtu: mtu) }
            XCTAssertEqual(count, c.segments.count, "\(c.name): segments")
            var carried: [UInt8] = []
            for (i, expected) in c.segments.enumerated() where i < count {
                let name = "\(c.name), segment \(i + 1)/\(c.segments.count)"
                let (p, length) = segmenter.segment(i)
                let segment = Array(UnsafeRawBufferPointer(start: p, count: length))
                XCTAssertEqual(length, expected.length, "\(name): length")
                let want = bytes(hex: expected.header)
                let got = Array(segment.prefix(headerLength))
                XCTAssertEqual(hex(got), expected.header, "\(name): headers differ \(differences(want, got))")
                XCTAssertEqual(be16(segment, 24), expected.ipChecksum, "\(name): IP header checksum")
                XCTAssertEqual(be16(segment, 50), expected.tcpChecksum, "\(name): TCP checksum")
                let body = segment[headerLength...]
                XCTAssertTrue(body.elementsEqual(payload[expected.payloadOffset..<min(payload.count, expected.payloadOffset + body.count)]),
                              "\(name): payload bytes")
                carried += body

                // The kernel's way, from the engine's output: newcheck = the output's partial sum
                // with the super-packet's TCP length replaced by this segment's, then the NIC sums
                // from csum_start with the field in place and stores the complement.
                let oldLength = UInt32(c.payloadLength + tcpHeader)
                let segmentLength = UInt32(length - 34)
                var s = UInt32(be16(out, 50)) + (~oldLength & 0xFFFF) + segmentLength
                while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
                XCTAssertEqual(UInt16(s), expected.partial, "\(name): partial sum handed to the segment")
                var finished = segment
                finished[50] = UInt8(s >> 8)
                finished[51] = UInt8(s & 0xFF)
                XCTAssertEqual(~onesSum(finished[34...]), expected.tcpChecksum, "\(name): checksum finished from csum_start")
            }
            XCTAssertEqual(carried, payload, "\(c.name): the payload carried, in order")
        }
    }
}
