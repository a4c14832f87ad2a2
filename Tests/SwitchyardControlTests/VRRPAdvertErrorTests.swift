// The advert decoder's checks: each golden advert mutated the way a broken or hostile peer would,
// and the typed error it must give (the socket layer counts and logs these; none may crash).
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class VRRPAdvertErrorTests: XCTestCase {
    func fixture(_ name: String) -> VRRPGoldenFixture {
        vrrpGoldenFixtures.first { $0.name == name }!
    }

    var v2Pass: VRRPGoldenFixture { fixture("v2 PASS auth, two addresses") }
    var v3Plain: VRRPGoldenFixture { fixture("v3 without pseudo-header, three addresses") }
    var v3Pseudo: VRRPGoldenFixture { fixture("v3 with pseudo-header, three addresses") }

    func decodeError(_ packet: [UInt8], _ context: VRRPReceiveContext,
                     file: StaticString = #filePath, line: UInt = #line) -> VRRPAdvertError? {
        do {
            let advert = try VRRPAdvert.decode(packet, context: context)
            XCTFail("decoded \(advert)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// RFC 1071 done here again, plainly, so a mutated message can be given a valid checksum
    /// (messages without the pseudo-header, IHL 5).
    func resum(_ packet: [UInt8]) -> [UInt8] {
        var p = packet
        p[26] = 0
        p[27] = 0
        var sum = 0
        var i = 20
        while i < p.count {
            sum += Int(p[i]) << 8 | (i + 1 < p.count ? Int(p[i + 1]) : 0)
            i += 2
        }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        p[26] = UInt8((~sum & 0xFFFF) >> 8)
        p[27] = UInt8(~sum & 0xFF)
        return p
    }

    func testCorruptedBytesFailTheChecksum() {
        for f in [v2Pass, v3Plain, v3Pseudo] {
            var p = hexBytes(f.packet)
            p[29] ^= 0x01  // a bit of the first address
            XCTAssertEqual(decodeError(p, f.context), .badChecksum(version: f.version, received: UInt16(p[26]) << 8 | UInt16(p[27])), f.name)
        }
        // A version 3 checksum made with the pseudo-header of another source is wrong in both forms.
        var p = hexBytes(v3Pseudo.packet)
        p[15] ^= 0x01
        XCTAssertEqual(decodeError(p, v3Pseudo.context)?.counterName, "checksum")
    }

    func testMulticastTTLMustBe255ButUnicastNeedNot() throws {
        var p = hexBytes(v3Pseudo.packet)
        p[8] = 254  // the IP header checksum is the kernel's to check; the decoder reads the TTL
        XCTAssertEqual(decodeError(p, v3Pseudo.context), .ttl(254))
        XCTAssertEqual(VRRPAdvertError.ttl(254).description, "TTL 254, must be 255")

        let unicast = fixture("v3 unicast to a peer, with pseudo-header")
        var u = hexBytes(unicast.packet)
        u[8] = 64
        XCTAssertEqual(try VRRPAdvert.decode(u, context: unicast.context).ttl, 64,
                       "keepalived does not require 255 from unicast peers")
    }

    func testDestinationMustFitTheDelivery() {
        let unicast = fixture("v3 unicast to a peer, with pseudo-header")
        XCTAssertEqual(decodeError(hexBytes(unicast.packet), VRRPReceiveContext(delivery: .multicast)),
                       .unexpectedDestination(IPAddressBits(IPv4Address("198.18.0.2")!), expectedMulticast: true))
        XCTAssertEqual(decodeError(hexBytes(v3Pseudo.packet), VRRPReceiveContext(delivery: .unicast)),
                       .unexpectedDestination(IPAddressBits(VRRP.multicastGroup), expectedMulticast: false))
    }

    func testWrongVRRPVersionAndType() {
        var p = hexBytes(v3Plain.packet)
        p[20] = 0x41
        XCTAssertEqual(decodeError(resum(p), v3Plain.context), .unsupportedVersion(4))
        p[20] = 0x11
        XCTAssertEqual(decodeError(resum(p), v3Plain.context), .unsupportedVersion(1))
        p[20] = 0x32
        XCTAssertEqual(decodeError(resum(p), v3Plain.context), .notAdvertisement(type: 2))
    }

    func testShortBuffersAreTruncatedNotCrashes() {
        let p = hexBytes(v2Pass.packet)
        for length in 0..<p.count {
            let error = decodeError(Array(p.prefix(length)), v2Pass.context)
            XCTAssertEqual(error?.counterName, "truncated", "length \(length): \(String(describing: error))")
        }
        XCTAssertNil(VRRPAdvert.peekVirtualRouterID(Array(p.prefix(21))))
    }

    func testCountMustFitTheLength() {
        var p = hexBytes(v3Plain.packet)
        p[23] = 4  // four addresses said, three sent
        XCTAssertEqual(decodeError(resum(p), v3Plain.context), .lengthMismatch(addressCount: 4, expected: 24, received: 20))
        p[23] = 2
        XCTAssertEqual(decodeError(resum(p), v3Plain.context), .lengthMismatch(addressCount: 2, expected: 16, received: 20))
        // Version 2 counts its 8 authentication bytes too.
        var v2 = hexBytes(v2Pass.packet)
        v2[23] = 4
        XCTAssertEqual(decodeError(resum(v2), v2Pass.context), .lengthMismatch(addressCount: 4, expected: 32, received: 24))
    }

    func testVersion2Authentication() throws {
        let p = hexBytes(v2Pass.packet)
        XCTAssertEqual(decodeError(p, VRRPReceiveContext(authentication: .password(text: "secreT"))), .wrongPassword)
        XCTAssertEqual(decodeError(p, VRRPReceiveContext(authentication: .password(text: "secret1"))), .wrongPassword,
                       "all 8 bytes count, padding included")
        XCTAssertEqual(decodeError(p, VRRPReceiveContext(authentication: .none)), .authTypeMismatch(expected: 0, received: 1))
        let none = fixture("v2 no auth, one address")
        XCTAssertEqual(decodeError(hexBytes(none.packet), VRRPReceiveContext(authentication: .password(text: "secret"))),
                       .authTypeMismatch(expected: 1, received: 0))
        var ah = p
        ah[24] = 2  // IPsec AH: not supported
        XCTAssertEqual(decodeError(resum(ah), v2Pass.context), .unknownAuthType(2))
        XCTAssertFalse(VRRPAdvertError.wrongPassword.description.contains("secret"))
        // Version 3 has no authentication: a configured password does not stop it.
        XCTAssertNoThrow(try VRRPAdvert.decode(hexBytes(v3Plain.packet),
                                               context: VRRPReceiveContext(authentication: .password(text: "secret"))))
    }

    func testIPHeaderChecks() {
        var p = hexBytes(v3Plain.packet)
        p[0] = 0x65
        XCTAssertEqual(decodeError(p, v3Plain.context), .notIPv4(version: 6))
        p[0] = 0x44
        XCTAssertEqual(decodeError(p, v3Plain.context), .badHeaderLength(words: 4))
        p = hexBytes(v3Plain.packet)
        p[9] = 17
        XCTAssertEqual(decodeError(p, v3Plain.context), .notVRRP(protocol: 17))
        p = hexBytes(v3Plain.packet)
        p[3] += 4  // the header says 4 more bytes than arrived
        XCTAssertEqual(decodeError(p, v3Plain.context), .truncated(received: 40, needed: 44))
    }

    /// A short frame's Ethernet padding may follow the packet (up to 46 bytes of payload); longer
    /// tails are an IP length mismatch.
    func testPaddingOfShortFramesIsAcceptedButNothingElse() throws {
        let one = fixture("v3 sub-second 10 cs, without pseudo-header")
        let p = hexBytes(one.packet)
        XCTAssertEqual(p.count, 32)
        let padded = p + Array(repeating: 0, count: 46 - p.count)
        XCTAssertEqual(try VRRPAdvert.decode(padded, context: one.context).advert.addresses.count, 1)
        let long = hexBytes(v3Plain.packet) + Array(repeating: 0, count: 16)
        XCTAssertEqual(decodeError(long, v3Plain.context), .totalLengthMismatch(header: 40, received: 56))
    }

    /// IP options (IHL above 5) move the VRRP message; the decoder follows the IHL.
    func testIPOptionsAreSkipped() throws {
        let p = hexBytes(v3Plain.packet)
        var withOptions = [UInt8(0x46)] + Array(p[1..<20]) + [1, 1, 1, 0] + Array(p[20...])  // NOP NOP NOP EOL
        withOptions[3] += 4
        let received = try VRRPAdvert.decode(withOptions, context: v3Plain.context)
        XCTAssertEqual(received.advert.addresses.count, 3)
        XCTAssertEqual(received.checksumForm, .messageOnly)
        XCTAssertEqual(VRRPAdvert.peekVirtualRouterID(withOptions), 51)
    }

    /// The 4 reserved bits before version 3's interval are ignored on receive (RFC 5798 §5.2.5).
    func testVersion3ReservedBitsAreIgnored() throws {
        var p = hexBytes(v3Plain.packet)
        p[24] |= 0xF0
        XCTAssertEqual(try VRRPAdvert.decode(resum(p), context: v3Plain.context).advert.advertInterval, 100)
    }

    func testEveryErrorHasItsOwnCounter() {
        let errors: [VRRPAdvertError] = [
            .truncated(received: 1, needed: 2), .notIPv4(version: 6), .badHeaderLength(words: 4),
            .totalLengthMismatch(header: 1, received: 2), .notVRRP(protocol: 6), .ttl(1),
            .unexpectedDestination(IPAddressBits(VRRP.multicastGroup), expectedMulticast: false), .unsupportedVersion(4),
            .notAdvertisement(type: 2), .lengthMismatch(addressCount: 1, expected: 2, received: 3),
            .badChecksum(version: 3, received: 0), .unknownAuthType(2), .authTypeMismatch(expected: 0, received: 1),
            .wrongPassword,
        ]
        XCTAssertEqual(Set(errors.map(\.counterName)).count, errors.count)
        XCTAssertTrue(errors.allSatisfy { !$0.description.isEmpty })
    }
}
