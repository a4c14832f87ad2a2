// The VRRP advert codec against golden bytes from the independent Python oracle and from a real
// keepalived (VRRPGoldenFixtures.swift): encoding gives the bytes, decoding gives the values back
// and tells the two version 3 checksum forms apart. The error cases are VRRPAdvertErrorTests'.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        out.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return out
}

extension VRRPGoldenFixture {
    /// The instance config this advert comes from, as the config reader would fill it.
    var instance: VRRPInstanceConfig {
        var config = VRRPInstanceConfig(name: name, location: SourceLocation(line: 1, column: 1))
        config.version = version
        config.virtualRouterID = virtualRouterID
        config.priority = priority
        config.advertInterval = interval
        config.virtualAddresses = addresses.map { .init(address: IPv4Address($0)!) }
        config.authPass = password
        config.v3ChecksumAsV2 = version == 3 && form == .messageOnly
        if destination != "224.0.0.18" { config.unicastPeers = [IPAddressBits(IPv4Address(destination)!)] }
        return config
    }

    var context: VRRPReceiveContext { VRRPReceiveContext(instance: instance) }
}

final class VRRPAdvertTests: XCTestCase {
    func testFixturesCoverTheCasesTheIssueAsksFor() {
        let f = vrrpGoldenFixtures
        XCTAssertGreaterThanOrEqual(f.count, 15)
        XCTAssertTrue(f.contains { $0.version == 2 && $0.password == nil })
        XCTAssertTrue(f.contains { $0.version == 2 && $0.password != nil })
        XCTAssertTrue(f.contains { $0.version == 3 && $0.form == .pseudoHeader })
        XCTAssertTrue(f.contains { $0.version == 3 && $0.form == .messageOnly })
        XCTAssertTrue(f.contains { $0.version == 3 && $0.interval < 100 })
        XCTAssertTrue(f.contains { $0.priority == 0 } && f.contains { $0.priority == 255 })
        XCTAssertTrue(f.contains { $0.addresses.count > 2 })
        XCTAssertEqual(f.filter(\.fromKeepalived).count, 3, "v2 PASS, v3 multicast, v3 unicast from keepalived 2.2.7")
    }

    func testEncodingAnInstanceGivesTheGoldenBytes() {
        for f in vrrpGoldenFixtures {
            let config = f.instance
            let advert = VRRPAdvert(instance: config)
            let form = VRRPChecksumForm.sending(config)
            XCTAssertEqual(form, f.form, f.name)
            let source = IPv4Address(f.source)!, destination = IPv4Address(f.destination)!
            XCTAssertEqual(advert.encodeMessage(source: source, destination: destination, checksum: form),
                           hexBytes(f.message), f.name)
            XCTAssertEqual(advert.encodePacket(source: source, destination: destination,
                                               identification: f.identification, checksum: form),
                           hexBytes(f.packet), f.name)
        }
    }

    func testDecodingTheGoldenBytesGivesTheValues() throws {
        for f in vrrpGoldenFixtures {
            let received = try VRRPAdvert.decode(hexBytes(f.packet), context: f.context)
            let a = received.advert
            XCTAssertEqual(a.version, f.version, f.name)
            XCTAssertEqual(a.virtualRouterID, f.virtualRouterID, f.name)
            XCTAssertEqual(a.priority, f.priority, f.name)
            XCTAssertEqual(a.advertInterval, f.decodedInterval, f.name)
            XCTAssertEqual(a.addresses.map(\.description), f.addresses, f.name)
            let auth: VRRPAuthentication = f.version == 2 ? f.password.map { .password(text: $0) } ?? .none : .none
            XCTAssertEqual(a.authentication, auth, f.name)
            XCTAssertEqual(received.source.description, f.source, f.name)
            XCTAssertEqual(received.destination.description, f.destination, f.name)
            XCTAssertEqual(received.ttl, 255, f.name)
            XCTAssertEqual(received.checksumForm, f.form, f.name)
            XCTAssertEqual(VRRPAdvert.peekVirtualRouterID(hexBytes(f.packet)), f.virtualRouterID, f.name)
        }
    }

    /// The same advert with and without the pseudo-header differs only in the checksum field, and
    /// the decoder accepts both and says which it saw: how a receiver learns what its peer sends.
    func testBothVersion3ChecksumFormsAreAcceptedAndToldApart() throws {
        let with = try XCTUnwrap(vrrpGoldenFixtures.first { $0.name == "v3 with pseudo-header, three addresses" })
        let without = try XCTUnwrap(vrrpGoldenFixtures.first { $0.name == "v3 without pseudo-header, three addresses" })
        let a = hexBytes(with.packet), b = hexBytes(without.packet)
        XCTAssertEqual(a.count, b.count)
        XCTAssertEqual((0..<a.count).filter { a[$0] != b[$0] }, [26, 27], "only the VRRP checksum differs")

        // Whatever the receiving instance is configured to send, it accepts either.
        for asV2 in [false, true] {
            var config = with.instance
            config.v3ChecksumAsV2 = asV2
            let context = VRRPReceiveContext(instance: config)
            XCTAssertEqual(try VRRPAdvert.decode(a, context: context).checksumForm, .pseudoHeader)
            XCTAssertEqual(try VRRPAdvert.decode(b, context: context).checksumForm, .messageOnly)
            XCTAssertEqual(try VRRPAdvert.decode(a, context: context).advert,
                           try VRRPAdvert.decode(b, context: context).advert)
        }
    }

    /// keepalived 1.3.6 and older put 224.0.0.18 in a unicast advert's pseudo-header; current
    /// keepalived still accepts that, and so do we, telling it apart.
    func testOldKeepalivedUnicastChecksumIsAccepted() throws {
        let advert = VRRPAdvert(version: 3, virtualRouterID: 9, priority: 100, advertInterval: 100,
                                addresses: [IPv4Address("198.18.0.100")!])
        let source = IPv4Address("198.18.0.1")!, peer = IPv4Address("198.18.0.2")!
        let old = advert.encodePacket(source: source, destination: peer, identification: 5, checksum: .pseudoHeaderToGroup)
        let current = advert.encodePacket(source: source, destination: peer, identification: 5, checksum: .pseudoHeader)
        XCTAssertNotEqual(old, current)
        let context = VRRPReceiveContext(delivery: .unicast)
        XCTAssertEqual(try VRRPAdvert.decode(old, context: context).checksumForm, .pseudoHeaderToGroup)
        XCTAssertEqual(try VRRPAdvert.decode(current, context: context).checksumForm, .pseudoHeader)
    }

    /// The keepalived captures are the strongest check: our encoder, fed the capture's config,
    /// gives keepalived's bytes exactly (IP header included).
    func testKeepalivedAdvertsAreReproducedExactly() throws {
        for f in vrrpGoldenFixtures where f.fromKeepalived {
            let packet = hexBytes(f.packet)
            let received = try VRRPAdvert.decode(packet, context: f.context)
            XCTAssertEqual(received.advert, VRRPAdvert(instance: f.instance), f.name)
            XCTAssertEqual(VRRPAdvert(instance: f.instance).encodePacket(
                source: received.source, destination: received.destination,
                identification: f.identification, checksum: received.checksumForm), packet, f.name)
        }
    }

    func testVersion2IntervalIsRoundedAsKeepalivedRoundsIt() {
        func wire(_ version: UInt8, _ centiseconds: UInt16) -> UInt16 {
            VRRPAdvert(version: version, virtualRouterID: 1, priority: 100, advertInterval: centiseconds, addresses: [IPAddressBits]()).wireInterval
        }
        XCTAssertEqual(wire(2, 100), 1)
        XCTAssertEqual(wire(2, 149), 1)
        XCTAssertEqual(wire(2, 150), 2, "half up")
        XCTAssertEqual(wire(2, 10), 1, "0.1 s cannot be said in version 2: at least 1 s")
        XCTAssertEqual(wire(2, 0), 1)
        XCTAssertEqual(wire(2, 25500), 255)
        XCTAssertEqual(wire(2, 30000), 255, "the field is 8 bits")
        XCTAssertEqual(wire(3, 10), 10, "version 3 keeps centiseconds")
        XCTAssertEqual(wire(3, 5000), 4095, "12 bits")
    }

    func testPasswordIsCutToEightBytesAndPadded() {
        XCTAssertEqual(VRRPAuthentication.password(text: "secret"), .password(Array("secret".utf8) + [0, 0]))
        XCTAssertEqual(VRRPAuthentication.password(text: "longpassword"), .password(Array("longpass".utf8)))
        XCTAssertEqual(VRRPAuthentication.password(text: "x").description, "PASS", "never logs the password")
        // Version 3 has no authentication: a configured password is not sent.
        var config = VRRPInstanceConfig(name: "v3", location: SourceLocation(line: 1, column: 1))
        config.version = 3
        config.authPass = "secret"
        XCTAssertEqual(VRRPAdvert(instance: config).authentication, .none)
    }

    func testPriorityOverrideAndIdentification() {
        var config = VRRPInstanceConfig(name: "i", location: SourceLocation(line: 1, column: 1))
        config.priority = 150
        XCTAssertEqual(VRRPAdvert(instance: config).priority, 150)
        XCTAssertEqual(VRRPAdvert(instance: config, priority: 0).priority, 0, "the stopping advert")
        XCTAssertEqual(VRRPAdvert.nextIdentification(after: 1), 2)
        XCTAssertEqual(VRRPAdvert.nextIdentification(after: 0xFFFF), 1, "0 is skipped: the kernel would fill its own")
    }

    /// More than 255 addresses cannot be counted: the encoder sends the first 255 and says so in
    /// the count, rather than stopping the daemon.
    func testAddressCountIsCappedAt255() throws {
        let many = (0..<300).map { IPv4Address(0xC612_0000 + UInt32($0)) }
        let advert = VRRPAdvert(version: 3, virtualRouterID: 1, priority: 100, advertInterval: 100, addresses: many)
        let packet = advert.encodePacket(source: IPv4Address("198.18.0.1")!, destination: VRRP.multicastGroup,
                                         identification: 1, checksum: .pseudoHeader)
        XCTAssertEqual(packet.count, 20 + 8 + 4 * 255)
        let decoded = try VRRPAdvert.decode(packet, context: VRRPReceiveContext())
        XCTAssertEqual(decoded.advert.addresses, many.prefix(255).map(IPAddressBits.init))
    }
}
