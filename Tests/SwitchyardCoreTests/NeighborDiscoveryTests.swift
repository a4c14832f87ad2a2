import XCTest
@testable import SwitchyardCore

/// Neighbour discovery for a VIP against make_nd_golden.py: which solicitations are valid
/// (RFC 4861 §7.1.1), and the advertisement that answers each, byte for byte.
final class NeighborDiscoveryTests: XCTestCase {
    let target = IPAddressBits(ipv6: "2001:db8::100")!

    func testEverySolicitation() {
        XCTAssertGreaterThanOrEqual(ndFixtures.count, 12)
        for fixture in ndFixtures {
            var frame = bytes(hex: fixture.input)
            let asked = frame.withUnsafeMutableBytes {
                NeighborDiscovery.solicitation($0.baseAddress!, length: $0.count)
            }
            guard let expected = fixture.asker else {
                XCTAssertNil(asked, fixture.name)
                continue
            }
            guard let asked else { return XCTFail("\(fixture.name): not taken for a solicitation") }
            XCTAssertEqual(asked.target, target, fixture.name)
            XCTAssertEqual(hex(octets(of: asked.source)), expected.source, fixture.name)
            XCTAssertEqual(hex(octets(of: asked.replyMAC)), expected.mac, fixture.name)
            var out = [UInt8](repeating: 0xEE, count: NeighborDiscovery.advertisementLength)
            out.withUnsafeMutableBytes {
                NeighborDiscovery.answer(asked, target: target, mac: lbMAC, into: $0.baseAddress!)
            }
            XCTAssertEqual(hex(out), fixture.answer, fixture.name)
        }
    }

    func testAnnouncement() {
        var out = [UInt8](repeating: 0xEE, count: NeighborDiscovery.advertisementLength)
        out.withUnsafeMutableBytes { NeighborDiscovery.announcement(target: target, mac: lbMAC, into: $0.baseAddress!) }
        XCTAssertEqual(hex(out), ndAnnouncement)
    }

    /// Every prefix of every fixture is read within its bytes (AddressSanitizer would catch an
    /// over-read of the exactly sized copy).
    func testEveryTruncation() {
        for fixture in ndFixtures {
            let full = bytes(hex: fixture.input)
            for length in 0...full.count {
                let p = UnsafeMutableRawPointer.allocate(byteCount: max(length, 1), alignment: 1)
                defer { p.deallocate() }
                full.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: length) }
                let asked = NeighborDiscovery.solicitation(p, length: length)
                if length < full.count { XCTAssertNil(asked, "\(fixture.name): \(length) bytes") }
            }
        }
    }

    private func octets(of address: IPAddressBits) -> [UInt8] {
        (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? address.high : address.low) >> (56 - 8 * (i % 8))) }
    }

    private func octets(of mac: MACAddress) -> [UInt8] {
        (0..<6).map { i in UInt8(truncatingIfNeeded: mac.bits >> (40 - 8 * i)) }
    }
}
