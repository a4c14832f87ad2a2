// IPv6 in the I/O layer's pure parts: /proc/net/ipv6_route read into routes (down, unreachable
// and local-table entries left out) and the route the kernel would pick; the capture filter
// taking IPv6 to an IPv6 VIP, untagged or tagged, and nothing else, beside the IPv4 VIPs.
import XCTest
@testable import SwitchyardIO
import SwitchyardCore

final class IPv6RoutingTests: XCTestCase {
    // A lab box's table: its own prefix on eth0, a /48 through a router, a default route, the
    // local table's entries for its address and ::1, and an unreachable catch-all on lo.
    static let table = """
        20010db8000100000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
        20010db8000900000000000000000000 30 00000000000000000000000000000000 00 20010db80001000000000000000000fe 00000032 00000001 00000000 00000003     eth0
        20010db8000900000000000000000000 30 00000000000000000000000000000000 00 20010db80002000000000000000000fe 00000064 00000001 00000000 00000003     eth1
        20010db8000200000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1
        00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db80001000000000000000000fe 00000400 00000003 00000000 00000003     eth0
        20010db8000100000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001     eth0
        00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001       lo
        00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
        fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000000     eth9
        """

    func a(_ text: String) -> IPAddressBits { IPAddressBits(ipv6: text)! }

    func testTheRoutesAndTheKernelsPick() {
        let routes = Route6.parse(Self.table)
        XCTAssertEqual(routes.count, 5, "the local table's two, the unreachable one and a route that is down are out")
        XCTAssertEqual(routes[0], Route6(interface: "eth0", destination: a("2001:db8:1::"), prefixLength: 64, gateway: nil,
                                         metric: 256))
        XCTAssertEqual(routes[1].gateway, a("2001:db8:1::fe"))
        XCTAssertEqual(routes[1].metric, 50)
        // On-link, through the lower metric of two /48s, the longer prefix over the default.
        XCTAssertEqual(Route6.best(to: a("2001:db8:1::21"), in: routes)?.interface, "eth0")
        XCTAssertNil(Route6.best(to: a("2001:db8:1::21"), in: routes)?.gateway)
        XCTAssertEqual(Route6.best(to: a("2001:db8:9::100"), in: routes)?.gateway, a("2001:db8:1::fe"))
        XCTAssertEqual(Route6.best(to: a("2001:db8:2::7"), in: routes)?.interface, "eth1")
        XCTAssertEqual(Route6.best(to: a("2001:db8:77::1"), in: routes)?.prefixLength, 0, "the default route")
        XCTAssertNil(Route6.best(to: a("2001:db8:1::1"), in: Route6.parse(Self.table.split(separator: "\n").suffix(4)
            .joined(separator: "\n"))), "no route")
        XCTAssertEqual(Route6.parse("garbage\n\n12 34"), [])
    }

    /// An Ethernet frame (tagged with VLAN 7 if asked) carrying IPv6 TCP from `source` to `destination`.
    func frame(_ source: String, _ destination: String, tagged: Bool = false) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: 14 + 40 + 20)
        f[12] = 0x86; f[13] = 0xDD
        f[14] = 0x60
        f[18] = 0; f[19] = 20
        f[20] = 6
        f[21] = 64
        for (offset, text) in [(22, source), (38, destination)] {
            let x = a(text)
            for i in 0..<8 {
                f[offset + i] = UInt8(truncatingIfNeeded: x.high >> (56 - 8 * UInt64(i)))
                f[offset + 8 + i] = UInt8(truncatingIfNeeded: x.low >> (56 - 8 * UInt64(i)))
            }
        }
        if tagged { f.insert(contentsOf: [0x81, 0x00, 0x00, 0x07], at: 12) }
        return f
    }

    func testTheFilterTakesIPv6ToTheIPv6VIPs() throws {
        let f = try PacketFilter.forVIPs([IPv4Address("198.18.0.100")!], vips6: [a("2001:db8:1::100")])
        XCTAssertTrue(f.matches(frame("2001:db8:5::9", "2001:db8:1::100")))
        XCTAssertTrue(f.matches(frame("2001:db8:5::9", "2001:db8:1::100", tagged: true)))
        XCTAssertFalse(f.matches(frame("2001:db8:5::9", "2001:db8:1::101")))
        XCTAssertFalse(f.matches(frame("2001:db8:1::100", "2001:db8:5::9")), "from the VIP is not to it")
        let only6 = try PacketFilter.forVIPs([], vips6: [a("2001:db8:1::100")])
        XCTAssertTrue(only6.matches(frame("2001:db8:5::9", "2001:db8:1::100")))
        // An IPv4 frame to the IPv4 VIP still passes the mixed filter, and not the IPv6-only one.
        var four = [UInt8](repeating: 0, count: 54)
        four[12] = 0x08; four[14] = 0x45; four[17] = 40; four[22] = 64; four[23] = 6
        four.replaceSubrange(30..<34, with: [198, 18, 0, 100])
        XCTAssertTrue(f.matches(four))
        XCTAssertFalse(only6.matches(four))
    }
}
