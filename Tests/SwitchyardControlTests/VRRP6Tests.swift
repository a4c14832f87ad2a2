// VRRP version 3 over IPv6 (RFC 5798): the advert codec against the oracle's and keepalived's
// bytes (VRRPGoldenFixtures.swift, vrrp6GoldenFixtures), what it refuses, and how the config
// reader reads an IPv6 vrrp_instance as keepalived does.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

extension VRRP6GoldenFixture {
    var sourceAddress: IPAddressBits { IPAddressBits(text: source)! }
    var destinationAddress: IPAddressBits { IPAddressBits(text: destination)! }

    /// The instance config this advert comes from, as the config reader would fill it.
    var instance: VRRPInstanceConfig {
        var config = VRRPInstanceConfig(name: name, location: SourceLocation(line: 1, column: 1))
        config.version = 3
        config.nativeIPv6 = true
        config.virtualRouterID = virtualRouterID
        config.priority = priority
        config.advertInterval = interval
        config.virtualAddresses = addresses.map { .init(address: IPAddressBits(text: $0)!) }
        if destination != "ff02::12" { config.unicastPeers = [destinationAddress] }
        return config
    }

    func decode(hopLimit: UInt8 = 255) throws(VRRPAdvertError) -> VRRPReceivedAdvert {
        try VRRPAdvert.decode6(hexBytes(message), source: sourceAddress, destination: destinationAddress, hopLimit: hopLimit,
                               context: VRRPReceiveContext(instance: instance))
    }
}

final class VRRP6Tests: XCTestCase {
    func testFixturesIncludeKeepalivedsOwnIPv6Advert() {
        XCTAssertEqual(vrrp6GoldenFixtures.filter(\.fromKeepalived).count, 1)
        XCTAssertTrue(vrrp6GoldenFixtures.contains { $0.destination != "ff02::12" }, "a unicast one")
    }

    func testEncodingAnInstanceGivesTheGoldenBytes() {
        for f in vrrp6GoldenFixtures {
            let config = f.instance
            XCTAssertTrue(config.isIPv6)
            XCTAssertEqual(VRRPChecksumForm.sending(config), .pseudoHeader, f.name)
            XCTAssertEqual(VRRPAdvert(instance: config).encodeMessage(source: f.sourceAddress, destination: f.destinationAddress,
                                                                      checksum: .pseudoHeader),
                           hexBytes(f.message), f.name)
        }
    }

    func testDecodingGivesTheValuesBack() throws {
        for f in vrrp6GoldenFixtures {
            let received = try f.decode()
            XCTAssertEqual(received.advert, VRRPAdvert(instance: f.instance), f.name)
            XCTAssertTrue(received.advert.isIPv6 || f.addresses.isEmpty, f.name)
            XCTAssertEqual(received.source, f.sourceAddress, f.name)
            XCTAssertEqual(received.checksumForm, .pseudoHeader, f.name)
            XCTAssertEqual(received.advert.verdict(for: f.instance), .take(differences: []), f.name)
        }
    }

    func testWhatAnIPv6AdvertIsRefusedFor() {
        let f = vrrp6GoldenFixtures.first { $0.fromKeepalived }!
        XCTAssertThrowsError(try f.decode(hopLimit: 254)) { XCTAssertEqual($0 as? VRRPAdvertError, .ttl(254)) }
        XCTAssertEqual(VRRPAdvertError.ttl(254).counterName, "ttl")

        var bytes = hexBytes(f.message)
        bytes[7] ^= 1
        XCTAssertThrowsError(try VRRPAdvert.decode6(bytes, source: f.sourceAddress, destination: f.destinationAddress,
                                                    hopLimit: 255, context: VRRPReceiveContext())) {
            XCTAssertEqual(($0 as? VRRPAdvertError)?.counterName, "checksum")
        }
        // The same message from another source: the pseudo-header no longer sums to zero.
        XCTAssertThrowsError(try VRRPAdvert.decode6(hexBytes(f.message), source: IPAddressBits(text: "fe80::2")!,
                                                    destination: f.destinationAddress, hopLimit: 255, context: VRRPReceiveContext())) {
            XCTAssertEqual(($0 as? VRRPAdvertError)?.counterName, "checksum")
        }

        // Version 2 over IPv6: keepalived sends it outside strict mode; RFC 5798 defines none.
        var v2 = hexBytes(f.message)
        v2[0] = 0x21
        XCTAssertThrowsError(try VRRPAdvert.decode6(v2, source: f.sourceAddress, destination: f.destinationAddress,
                                                    hopLimit: 255, context: VRRPReceiveContext())) {
            XCTAssertEqual($0 as? VRRPAdvertError, .notVersion3OverIPv6(2))
            XCTAssertEqual(($0 as? VRRPAdvertError)?.description, "VRRP version 2 over IPv6, where only version 3 is defined")
        }

        // Two addresses counted but IPv4-sized: the length does not fit.
        let short = Array(hexBytes(f.message).prefix(16))
        XCTAssertThrowsError(try VRRPAdvert.decode6(short, source: f.sourceAddress, destination: f.destinationAddress,
                                                    hopLimit: 255, context: VRRPReceiveContext())) {
            XCTAssertEqual($0 as? VRRPAdvertError, .lengthMismatch(addressCount: 2, expected: 40, received: 16))
        }
        XCTAssertThrowsError(try VRRPAdvert.decode6([0x31], source: f.sourceAddress, destination: f.destinationAddress,
                                                    hopLimit: 255, context: VRRPReceiveContext())) {
            XCTAssertEqual($0 as? VRRPAdvertError, .truncated(received: 1, needed: 8))
        }

        // A multicast instance hears a unicast advert, and the other way round.
        let unicast = vrrp6GoldenFixtures.first { $0.destination != "ff02::12" }!
        XCTAssertThrowsError(try VRRPAdvert.decode6(hexBytes(unicast.message), source: unicast.sourceAddress,
                                                    destination: unicast.destinationAddress, hopLimit: 255,
                                                    context: VRRPReceiveContext(delivery: .multicast))) {
            XCTAssertEqual($0 as? VRRPAdvertError, .unexpectedDestination(unicast.destinationAddress, expectedMulticast: true))
        }
        XCTAssertThrowsError(try VRRPAdvert.decode6(hexBytes(f.message), source: f.sourceAddress, destination: f.destinationAddress,
                                                    hopLimit: 255, context: VRRPReceiveContext(delivery: .unicast))) {
            XCTAssertEqual(($0 as? VRRPAdvertError)?.counterName, "destination")
        }
    }

    func testAnAdvertWithAnotherAddressListIsTakenAndSaid() throws {
        let f = vrrp6GoldenFixtures.first { $0.fromKeepalived }!
        var ours = f.instance
        ours.virtualAddresses[1] = .init(address: IPAddressBits(text: "2001:db8:50::200")!)
        XCTAssertEqual(try f.decode().advert.verdict(for: ours),
                       .take(differences: [.missingAddress(IPAddressBits(text: "2001:db8:50::200")!)]))
    }

    // MARK: config

    let header = "vrrp_instance V6 {\n interface eth0\n virtual_router_id 61\n"

    func testAnIPv6InstanceIsReadAsKeepalivedReadsIt() throws {
        let c = try Config.parse(header + " virtual_ipaddress {\n  fe80::1/64\n  2001:db8::100\n }\n}\n", path: "ha.conf")
        let i = c.failover.instances[0]
        XCTAssertTrue(i.isIPv6)
        XCTAssertEqual(i.version, 3, "IPv6 instances are version 3 without being told")
        XCTAssertEqual(i.virtualAddresses.map(\.prefixLength), [64, 128])
        XCTAssertEqual(i.virtualAddresses.map(\.address.description), ["fe80::1", "2001:db8::100"])
        XCTAssertEqual(c.warnings.map(\.description), [])
        XCTAssertEqual(VRRPService.addressCommand("add", i.virtualAddresses[0], "eth0"),
                       ["ip", "-6", "addr", "add", "fe80::1/64", "dev", "eth0", "nodad"])
        XCTAssertEqual(VRRPService.addressCommand("del", i.virtualAddresses[0], "eth0"),
                       ["ip", "-6", "addr", "del", "fe80::1/64", "dev", "eth0"])
    }

    func testWhatAnIPv6InstanceWarnsAbout() throws {
        let c = try Config.parse("global_defs {\n vrrp_version 2\n}\n" + header
            + " version 2\n virtual_ipaddress {\n  2001:db8::100\n  198.18.0.100\n }\n}\n", path: "ha.conf")
        let i = c.failover.instances[0]
        XCTAssertEqual(i.version, 3)
        XCTAssertEqual(i.virtualAddresses.map(\.address.description), ["2001:db8::100"])
        XCTAssertEqual(c.warnings.map(\.description), [
            "ha.conf:10:3: warning: vrrp_instance V6: virtual_ipaddress 198.18.0.100 is IPv4 but the instance is IPv6 (its first address); it is ignored, "
                + "as keepalived. Put it in a vrrp_instance of its own",
            "ha.conf:4:1: warning: vrrp_instance V6: VRRP version 2 cannot carry IPv6; version 3 is used (as keepalived does in strict mode). "
                + "A keepalived peer outside strict mode sends version 2 over IPv6, which this box refuses: give the peer version 3 too",
            "ha.conf:4:1: warning: vrrp_instance V6: the first IPv6 virtual_ipaddress should be link-local (RFC 5798: the virtual "
                + "router's own address, e.g. fe80::1/64 first), as keepalived says too",
        ])
        // global_defs' vrrp_version is for IPv4 instances (keepalived's rule): no word about it.
        let quiet = try Config.parse("global_defs {\n vrrp_version 2\n}\n" + header
            + " virtual_ipaddress {\n  fe80::1/64\n }\n}\n", path: "ha.conf")
        XCTAssertEqual(quiet.failover.instances[0].version, 3)
        XCTAssertEqual(quiet.warnings.map(\.description), [])
    }

    func testNativeIPv6AndUnicastPeers() throws {
        let c = try Config.parse(header + " native_ipv6\n unicast_src_ip 2001:db8::1\n unicast_peer {\n  2001:db8::2\n }\n"
            + " virtual_ipaddress {\n  2001:db8::100\n }\n}\n", path: "ha.conf")
        let i = c.failover.instances[0]
        XCTAssertTrue(i.nativeIPv6 && i.isIPv6)
        XCTAssertEqual(i.unicastPeers, [IPAddressBits(text: "2001:db8::2")!])
        XCTAssertEqual(VRRPReceiveContext(instance: i).delivery, .unicast)
        XCTAssertEqual(c.warnings.map(\.description), [], "unicast instances need no link-local first address")

        XCTAssertEqual(configError(header + " virtual_ipaddress {\n  fe80::1/64\n }\n unicast_peer {\n  198.18.0.2\n }\n}\n",
                                   path: "ha.conf"),
                       "ha.conf:1:1: vrrp_instance V6 is IPv6 but its unicast address 198.18.0.2 is not; an instance's adverts "
                           + "and addresses are of one family")
        XCTAssertEqual(configError(header + " virtual_ipaddress {\n  ff02::1\n }\n}\n", path: "ha.conf"),
                       "ha.conf:5:3: ff02::1 cannot be a virtual_ipaddress (multicast)")
    }

    func testHeldVIPsIncludeIPv6() throws {
        let text = """
            vrrp_instance V6 {
             interface eth0
             virtual_router_id 61
             virtual_ipaddress {
              fe80::1/64
              2001:db8::100
             }
            }
            virtual_server 2001:db8::100 80 {
             lb_kind DR
             protocol TCP
             real_server 2001:db8::11 80 {
             }
            }
            virtual_server 2001:db8::200 80 {
             lb_kind DR
             protocol TCP
             real_server 2001:db8::11 80 {
             }
            }
            """
        let c = try Config.parse(text, path: "ha.conf")
        XCTAssertEqual(VRRPService.heldVIPs(c.failover, engineVIPs: c.allVIPs), [IPAddressBits(text: "2001:db8::100")!])
        XCTAssertEqual(c.warnings.map(\.description), [],
                       "an IPv6 VIP outside every instance is served always, as an IPv4 one (and as keepalived's)")
    }
}
