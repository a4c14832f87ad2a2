import XCTest
@testable import SwitchyardCore

final class PacketParserTests: XCTestCase {
    /// Every prefix of every fixture frame parses without reading out of bounds and never
    /// reports a forwardable packet longer than the bytes it was given.
    func testEveryTruncationOfEveryFixture() {
        for fixture in goldenFixtures + golden6Fixtures {
            let full = bytes(hex: fixture.input)
            for length in 0...full.count {
                let prefix = Array(full.prefix(length))
                // An exactly-sized allocation lets AddressSanitizer catch any over-read.
                let p = UnsafeMutableRawPointer.allocate(byteCount: max(length, 1), alignment: 1)
                defer { p.deallocate() }
                prefix.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: length) }
                switch PacketParser.parse(p, length: length) {
                case .ipv4(let info), .ipv6(let info):
                    XCTAssertLessThanOrEqual(info.l3Offset + info.ipLength, length, fixture.name)
                    XCTAssertLessThanOrEqual(info.l4Offset, info.l3Offset + info.ipLength, fixture.name)
                case .notIP, .drop: break
                }
            }
        }
    }

    func testTruncationReasonsAtEachHeaderBoundary() {
        let frame = tcpFrame(client: 0xC612_000A, port: 1000, to: vip.value, dport: 80)
        func reason(_ n: Int) -> String {
            var f = Array(frame.prefix(n))
            return f.withUnsafeMutableBytes { raw -> String in
                switch PacketParser.parse(raw.baseAddress!, length: n) {
                case .ipv4: return "ipv4"
                case .ipv6: return "ipv6"
                case .notIP: return "not"
                case .drop(let c): return c.name
                }
            }
        }
        XCTAssertEqual(reason(13), "drop_truncated_ethernet")
        XCTAssertEqual(reason(14 + 19), "drop_truncated_ipv4")
        // The IPv4 total length says 40 bytes, the frame holds fewer.
        XCTAssertEqual(reason(14 + 20), "drop_bad_ipv4_length")
        XCTAssertEqual(reason(14 + 39), "drop_bad_ipv4_length")
        XCTAssertEqual(reason(14 + 40), "ipv4")
    }

    func testRandomBytesNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        let p = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 1)
        defer { p.deallocate() }
        let base = tcpFrame(client: 1, port: 2, to: 3, dport: 4)
        var counts: [String: Int] = [:]
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...128, using: &rng)
            // Start from a valid frame and flip bytes, so parsing gets past the first checks.
            for i in 0..<128 { p.storeBytes(of: i < base.count ? base[i] : UInt8.random(in: 0...255, using: &rng),
                                             toByteOffset: i, as: UInt8.self) }
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                p.storeBytes(of: UInt8.random(in: 0...255, using: &rng), toByteOffset: Int.random(in: 0..<128, using: &rng),
                             as: UInt8.self)
            }
            switch PacketParser.parse(p, length: length) {
            case .ipv4(let info), .ipv6(let info):
                XCTAssertLessThanOrEqual(info.l3Offset + info.ipLength, length)
                counts[info.isIPv6 ? "ipv6" : "ipv4", default: 0] += 1
            case .notIP: counts["not", default: 0] += 1
            case .drop(let c):
                XCTAssertTrue(c.isDrop)
                counts[c.name, default: 0] += 1
            }
        }
        XCTAssertGreaterThan(counts.count, 4, "the mutations reached several outcomes: \(counts)")
    }

    /// The same mutations from an IPv6 frame with two extension headers: the walk never reads
    /// past the bytes it was given, and a parsed packet's layer 4 lies within it.
    func testRandomIPv6BytesNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        let p = UnsafeMutableRawPointer.allocate(byteCount: 160, alignment: 1)
        defer { p.deallocate() }
        let base = bytes(hex: golden6Fixtures.first { $0.name.contains("hop-by-hop") }!.input)
        var counts: [String: Int] = [:]
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...160, using: &rng)
            for i in 0..<160 { p.storeBytes(of: i < base.count ? base[i] : UInt8.random(in: 0...255, using: &rng),
                                             toByteOffset: i, as: UInt8.self) }
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                p.storeBytes(of: UInt8.random(in: 0...255, using: &rng), toByteOffset: Int.random(in: 14..<160, using: &rng),
                             as: UInt8.self)
            }
            switch PacketParser.parse(p, length: length) {
            case .ipv4(let info), .ipv6(let info):
                XCTAssertLessThanOrEqual(info.l3Offset + info.ipLength, length)
                XCTAssertLessThanOrEqual(info.l4Offset, info.l3Offset + info.ipLength)
                counts[info.isIPv6 ? "ipv6" : "ipv4", default: 0] += 1
            case .notIP: counts["not", default: 0] += 1
            case .drop(let c):
                XCTAssertTrue(c.isDrop)
                counts[c.name, default: 0] += 1
            }
        }
        XCTAssertGreaterThan(counts["ipv6", default: 0], 0, "\(counts)")
        XCTAssertGreaterThan(counts.count, 4, "the mutations reached several outcomes: \(counts)")
    }
}
