// A decoded advert against its instance's config: what differs, and which differences make
// keepalived drop the advert.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class VRRPAdvertMatchTests: XCTestCase {
    func fixture(_ name: String) -> VRRPGoldenFixture {
        vrrpGoldenFixtures.first { $0.name == name }!
    }

    func testEveryGoldenAdvertMatchesTheInstanceItCameFrom() throws {
        for f in vrrpGoldenFixtures {
            let advert = try VRRPAdvert.decode(hexBytes(f.packet), context: f.context).advert
            XCTAssertEqual(advert.mismatches(with: f.instance), [], f.name)
        }
    }

    func testVersionMismatchIsDropped() throws {
        let f = fixture("v3 with pseudo-header, three addresses")
        var v2 = f.instance
        v2.version = 2
        let found = try VRRPAdvert.decode(hexBytes(f.packet), context: f.context).advert.mismatches(with: v2)
        XCTAssertEqual(found, [.version(expected: 2, received: 3)])
        XCTAssertTrue(found[0].dropsAdvert)
    }

    func testIntervalMismatchDropsVersion2OnlyAndComparesWhatIsSent() throws {
        let v2 = fixture("v2 no auth, one address")
        let advert = try VRRPAdvert.decode(hexBytes(v2.packet), context: v2.context).advert
        var instance = v2.instance
        instance.advertInterval = 120  // 1.2 s goes out as 1 s: no mismatch with a 1 s peer
        XCTAssertEqual(advert.mismatches(with: instance), [])
        instance.advertInterval = 200
        let found = advert.mismatches(with: instance)
        XCTAssertEqual(found, [.interval(version: 2, expected: 200, received: 100)])
        XCTAssertTrue(found[0].dropsAdvert)
        XCTAssertEqual(found[0].description, "advert interval 1.00 s, this instance uses 2.00 s")

        let v3 = fixture("v3 sub-second 10 cs, with pseudo-header")
        var v3Instance = v3.instance
        v3Instance.advertInterval = 100
        let v3Found = try VRRPAdvert.decode(hexBytes(v3.packet), context: v3.context).advert.mismatches(with: v3Instance)
        XCTAssertEqual(v3Found, [.interval(version: 3, expected: 100, received: 10)])
        XCTAssertFalse(v3Found[0].dropsAdvert, "version 3: the backup follows the master's interval")
    }

    func testAddressDifferencesAreReportedButNotDropped() throws {
        let f = fixture("v3 without pseudo-header, three addresses")
        let advert = try VRRPAdvert.decode(hexBytes(f.packet), context: f.context).advert
        var fewer = f.instance
        fewer.virtualAddresses.removeLast()
        XCTAssertEqual(advert.mismatches(with: fewer), [.addressCount(expected: 2, received: 3)])
        var other = f.instance
        other.virtualAddresses[1] = .init(address: IPv4Address("198.18.9.9")!)
        let found = advert.mismatches(with: other)
        XCTAssertEqual(found, [.missingAddress(IPAddressBits(IPv4Address("198.18.9.9")!))])
        XCTAssertFalse(found[0].dropsAdvert)
        // The order of the addresses does not matter.
        var reordered = f.instance
        reordered.virtualAddresses.reverse()
        XCTAssertEqual(advert.mismatches(with: reordered), [])
    }

    // keepalived 2.2.7 drops an advert whose addresses differ from its own, so against it the
    // backup becomes master too; we take such adverts (as later keepalived does) but must say so,
    // or nothing on our side tells why there are two masters.
    func testTakenDifferencesAreInTheVerdictWithWhatTheyMean() throws {
        let f = fixture("v3 with pseudo-header, three addresses")
        let advert = try VRRPAdvert.decode(hexBytes(f.packet), context: f.context).advert
        XCTAssertEqual(advert.verdict(for: f.instance), .take(differences: []))

        var fewer = f.instance
        fewer.virtualAddresses.removeLast()
        XCTAssertEqual(advert.verdict(for: fewer), .take(differences: [.addressCount(expected: 2, received: 3)]))
        XCTAssertEqual(VRRPAdvertMismatch.addressCount(expected: 2, received: 3).consequence,
                       "keepalived 2.2.7 and older drop such adverts: a keepalived peer may be master at the same time")
        XCTAssertNotNil(VRRPAdvertMismatch.missingAddress(IPAddressBits(IPv4Address("198.18.9.9")!)).consequence)

        var slower = f.instance
        slower.advertInterval = f.instance.advertInterval * 2
        guard case .take(let differences) = advert.verdict(for: slower), let interval = differences.first else {
            return XCTFail("a version 3 interval difference is taken")
        }
        XCTAssertEqual(interval.consequence, "a backup follows the master's interval")
        // A 0 is taken (the peer is still a live master) but not followed, and the line says so.
        XCTAssertEqual(VRRPAdvertMismatch.interval(version: 3, expected: 100, received: 0).consequence,
                       "not followed: a backup keeps the interval it has (with 0 it would take over at once, every time)")

        var v2 = f.instance
        v2.version = 2
        XCTAssertEqual(advert.verdict(for: v2), .drop(.version(expected: 2, received: 3)))
    }
}
