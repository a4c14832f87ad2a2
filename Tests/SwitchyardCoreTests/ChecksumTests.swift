import XCTest
@testable import SwitchyardCore

final class ChecksumTests: XCTestCase {
    /// RFC 1071 §3 worked example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (folded).
    func testRFC1071Example() {
        let data: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        data.withUnsafeBytes { raw in
            XCTAssertEqual(InternetChecksum.fold(InternetChecksum.sum(raw.baseAddress!, raw.count)), 0xDDF2)
            XCTAssertEqual(InternetChecksum.checksum(raw.baseAddress!, raw.count), ~UInt16(0xDDF2))
        }
    }

    /// A well-known IPv4 header (from Wikipedia's "IPv4 header checksum" example): b861.
    func testIPv4HeaderVector() {
        var header = bytes(hex: "450000730000400040110000c0a80001c0a800c7")
        header.withUnsafeBytes { raw in
            XCTAssertEqual(InternetChecksum.checksum(raw.baseAddress!, 20), 0xB861)
        }
        header[10] = 0xB8
        header[11] = 0x61
        header.withUnsafeBytes { raw in
            XCTAssertEqual(InternetChecksum.fold(InternetChecksum.sum(raw.baseAddress!, 20)), 0xFFFF)
        }
    }

    func testOddLengthPadsWithZero() {
        let odd: [UInt8] = [0x12, 0x34, 0x56]
        let even: [UInt8] = [0x12, 0x34, 0x56, 0x00]
        let a = odd.withUnsafeBytes { InternetChecksum.checksum($0.baseAddress!, 3) }
        let b = even.withUnsafeBytes { InternetChecksum.checksum($0.baseAddress!, 4) }
        XCTAssertEqual(a, b)
    }

    /// RFC 1624 incremental updates agree with recomputing, for random data and fields,
    /// including the 0x0000/0xFFFF corner case RFC 1624 §3 is about.
    func testIncrementalUpdateMatchesFullRecompute() {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<5_000 {
            var words = (0..<10).map { _ in UInt16.random(in: 0...0xFFFF, using: &rng) }
            if round % 10 == 0 { words = [0xFFFF, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
            let full = { (w: [UInt16]) -> UInt16 in
                let b = w.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
                return b.withUnsafeBytes { InternetChecksum.checksum($0.baseAddress!, $0.count) }
            }
            let before = full(words)
            let i = Int.random(in: 0..<10, using: &rng)
            let old = words[i]
            words[i] = round % 7 == 0 ? 0 : UInt16.random(in: 0...0xFFFF, using: &rng)
            let updated = InternetChecksum.update(before, old: old, new: words[i])
            let recomputed = full(words)
            // 0x0000 and 0xFFFF are the same ones'-complement number; both verify.
            XCTAssertTrue(updated == recomputed || (updated | recomputed == 0xFFFF && updated & recomputed == 0),
                          "round \(round): \(updated) vs \(recomputed)")

            let j = Int.random(in: 0..<9, using: &rng)
            let old32 = UInt32(words[j]) << 16 | UInt32(words[j + 1])
            let new32 = UInt32.random(in: 0...UInt32.max, using: &rng)
            let before32 = full(words)
            words[j] = UInt16(new32 >> 16)
            words[j + 1] = UInt16(new32 & 0xFFFF)
            let updated32 = InternetChecksum.update(before32, old: old32, new: new32)
            let recomputed32 = full(words)
            XCTAssertTrue(updated32 == recomputed32 || (updated32 | recomputed32 == 0xFFFF && updated32 & recomputed32 == 0))
        }
    }

    /// The TTL decrement's checksum shortcut (RFC 1141) gives exactly the checksum computed
    /// afresh, for random headers and for every checksum value near the carry (the header's
    /// last word chosen so the checksum lands on each of 0xFE00...0xFFFE).
    func testTTLDecrementMatchesFullRecompute() {
        var rng = SystemRandomNumberGenerator()
        func check(_ header: inout [UInt8], _ note: String) {
            header.withUnsafeMutableBytes { raw in
                let p = raw.baseAddress!
                store16(p, 10, 0)
                store16(p, 10, InternetChecksum.checksum(p, 20))
                let ttl = p.load(fromByteOffset: 8, as: UInt8.self)
                XCTAssertTrue(Pipeline.decrementTTL(p, 0), note)
                XCTAssertEqual(p.load(fromByteOffset: 8, as: UInt8.self), ttl - 1, note)
                let shortcut = load16(p, 10)
                store16(p, 10, 0)
                XCTAssertEqual(shortcut, InternetChecksum.checksum(p, 20), note)
            }
        }
        for round in 0..<20_000 {
            var header = (0..<20).map { _ in UInt8.random(in: 0...255, using: &rng) }
            header[8] = UInt8.random(in: 2...255, using: &rng)
            check(&header, "random header \(round)")
        }
        for target in UInt16(0xFE00)...0xFFFE {
            var header: [UInt8] = [0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 10, 198, 18, 0, 100]
            // Solve for the destination's low word so that the checksum is `target`.
            header[18] = 0
            header[19] = 0
            let partial = header.withUnsafeBytes { InternetChecksum.sum($0.baseAddress!, 20) }
            let want = ~target
            let have = InternetChecksum.fold(partial)
            var low = UInt32(want) &+ UInt32(~have)
            low = (low & 0xFFFF) &+ (low >> 16)
            header[18] = UInt8(truncatingIfNeeded: low >> 8)
            header[19] = UInt8(truncatingIfNeeded: low)
            XCTAssertEqual(header.withUnsafeBytes { InternetChecksum.checksum($0.baseAddress!, 20) }, target)
            check(&header, "checksum \(target)")
        }
    }

    /// The two-word (IPv4 flow) and five-word (IPv6 flow) hashes against SipHash-1-3 written
    /// independently from the paper (Tests/fixtures/siphash13.py).
    func testSipHashAgainstAnIndependentImplementation() {
        XCTAssertEqual(SipHash.hash(1, 2, key: .defaultScheduling), 0x9fbb_b2ac_25bb_c3cd)
        XCTAssertEqual(SipHash.hash(0x2001_0db8_0000_0000, 0xa, 0x2001_0db8_0000_0000, 0x100, 0x9c40_0050_0000_0006,
                                    key: .defaultScheduling), 0xee1e_1a24_b540_4b4e)
    }

    /// SipHash-1-3 is deterministic for a key and differs across keys.
    func testSipHashKeyed() {
        let a = SipHash.hash(1, 2, key: .defaultScheduling)
        XCTAssertEqual(a, SipHash.hash(1, 2, key: .defaultScheduling))
        XCTAssertNotEqual(a, SipHash.hash(1, 2, key: HashKey(k0: 1, k1: 2)))
        XCTAssertNotEqual(a, SipHash.hash(1, 3, key: .defaultScheduling))
        XCTAssertEqual(HashKey(hex: "0x00000000000000010000000000000002"), HashKey(k0: 1, k1: 2))
        XCTAssertNil(HashKey(hex: "123"))
    }
}
