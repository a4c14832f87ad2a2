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

    func testSolicitationForARealServer() {
        var out = [UInt8](repeating: 0xEE, count: NeighborDiscovery.advertisementLength)
        out.withUnsafeMutableBytes {
            NeighborDiscovery.solicit(target: IPAddressBits(ipv6: "2001:db8::11")!, source: IPAddressBits(ipv6: "fe80::2")!,
                                      mac: lbMAC, into: $0.baseAddress!)
        }
        XCTAssertEqual(hex(out), ndSolicitation)
        // What we send is a solicitation our own check takes.
        let asked = out.withUnsafeMutableBytes { NeighborDiscovery.solicitation($0.baseAddress!, length: $0.count) }
        XCTAssertEqual(asked?.target, IPAddressBits(ipv6: "2001:db8::11"))
        XCTAssertEqual(asked?.replyMAC, lbMAC)
    }

    func testAdvertisementsLearned() {
        XCTAssertEqual(ndAdvertisements.count, 6)
        for fixture in ndAdvertisements {
            var frame = bytes(hex: fixture.input)
            let heard = frame.withUnsafeMutableBytes { NeighborDiscovery.advertisement($0.baseAddress!, length: $0.count) }
            guard let mac = fixture.mac else {
                XCTAssertNil(heard, fixture.name)
                continue
            }
            XCTAssertEqual(heard?.target, IPAddressBits(ipv6: "2001:db8::11"), fixture.name)
            XCTAssertEqual(heard.map { hex(octets(of: $0.mac)) }, mac, fixture.name)
            for length in 0..<frame.count {
                let p = UnsafeMutableRawPointer.allocate(byteCount: max(length, 1), alignment: 1)
                defer { p.deallocate() }
                frame.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: length) }
                XCTAssertNil(NeighborDiscovery.advertisement(p, length: length), "\(fixture.name): \(length) bytes")
            }
        }
        // A solicitation is not an advertisement, nor the other way round.
        var ask = bytes(hex: ndSolicitation)
        XCTAssertNil(ask.withUnsafeMutableBytes { NeighborDiscovery.advertisement($0.baseAddress!, length: $0.count) })
        var answer = bytes(hex: ndAdvertisements[0].input)
        XCTAssertNil(answer.withUnsafeMutableBytes { NeighborDiscovery.solicitation($0.baseAddress!, length: $0.count) })
    }

    func testSolicitedNodeAddress() {
        let group = NeighborDiscovery.solicitedNode(IPAddressBits(ipv6: "2001:db8::1:2345:6789")!)
        XCTAssertEqual(group, IPAddressBits(ipv6: "ff02::1:ff45:6789"))
        XCTAssertEqual(NeighborDiscovery.multicastMAC(group), MACAddress("33:33:ff:45:67:89"))
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
