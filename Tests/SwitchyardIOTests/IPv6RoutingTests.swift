// IPv6 in the I/O layer's pure parts: /proc/net/ipv6_route read into routes (down, unreachable
// and local-table entries left out) and the route the kernel would pick; an interface's
// link-local address; the capture filter taking IPv6 to an IPv6 VIP (untagged or tagged) and
// NAT66 replies, and nothing else, beside the IPv4 VIPs; the fanout program keeping an IPv6
// client's directions together; the kernel guard's ip6 rules.
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

    /// An Ethernet frame (tagged with VLAN 7 if asked) carrying IPv6 from `source` to
    /// `destination`: TCP from `sourcePort`, or (proto 58) an ICMPv6 error quoting a packet to
    /// `quoted`.
    func frame(_ source: String, _ destination: String, tagged: Bool = false, proto: UInt8 = 6,
               sourcePort: UInt16 = 40000, quoted: String = "::") -> [UInt8] {
        var f = [UInt8](repeating: 0, count: 14 + 40 + 8 + 40 + 8)
        f[12] = 0x86; f[13] = 0xDD
        f[14] = 0x60
        f[18] = 0; f[19] = 56
        f[20] = proto
        f[21] = 64
        f[54] = UInt8(sourcePort >> 8); f[55] = UInt8(truncatingIfNeeded: sourcePort)
        if proto == 58 { f[54] = 1; f[55] = 0 }
        for (offset, text) in [(22, source), (38, destination), (14 + 40 + 8 + 24, quoted)] {
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
        let f = try PacketFilter.forVIPs([IPAddressBits(IPv4Address("198.18.0.100")!), a("2001:db8:1::100")])
        XCTAssertTrue(f.matches(frame("2001:db8:5::9", "2001:db8:1::100")))
        XCTAssertTrue(f.matches(frame("2001:db8:5::9", "2001:db8:1::100", tagged: true)))
        XCTAssertFalse(f.matches(frame("2001:db8:5::9", "2001:db8:1::101")))
        XCTAssertFalse(f.matches(frame("2001:db8:1::100", "2001:db8:5::9")), "from the VIP is not to it")
        let only6 = try PacketFilter.forVIPs([a("2001:db8:1::100")])
        XCTAssertTrue(only6.matches(frame("2001:db8:5::9", "2001:db8:1::100")))
        // An IPv4 frame to the IPv4 VIP still passes the mixed filter, and not the IPv6-only one.
        var four = [UInt8](repeating: 0, count: 54)
        four[12] = 0x08; four[14] = 0x45; four[17] = 40; four[22] = 64; four[23] = 6
        four.replaceSubrange(30..<34, with: [198, 18, 0, 100])
        XCTAssertTrue(f.matches(four))
        XCTAssertFalse(only6.matches(four))
    }

    func testTheFilterTakesNAT66RepliesFromTheServicePortOnly() throws {
        let real = a("2001:db8:2::11")
        let f = try PacketFilter.forVIPs([a("2001:db8:1::100")], natEndpoints: [
            KernelGuard.Endpoint(address: real, proto: IPProtocol.tcp, port: 8080)])
        XCTAssertTrue(f.matches(frame("2001:db8:2::11", "2001:db8:5::9", sourcePort: 8080)))
        XCTAssertTrue(f.matches(frame("2001:db8:2::11", "2001:db8:5::9", tagged: true, sourcePort: 8080)))
        XCTAssertFalse(f.matches(frame("2001:db8:2::11", "2001:db8:5::9", sourcePort: 22)), "another port stays the kernel's")
        XCTAssertFalse(f.matches(frame("2001:db8:2::12", "2001:db8:5::9", sourcePort: 8080)))
        XCTAssertTrue(f.matches(frame("2001:db8:2::11", "2001:db8:5::9", proto: 58, quoted: "2001:db8:5::9")),
                      "an ICMPv6 error from the server")
    }

    /// Both directions of an IPv6 client's NAT66 flow, and an ICMPv6 error about it, meet one
    /// worker; clients spread; IPv4 VIPs in the same program keep working.
    func testTheFanoutProgramKeepsAnIPv6ClientsDirectionsTogether() {
        let program = FanoutProgram.build(vips: [IPAddressBits(IPv4Address("198.18.0.100")!), a("2001:db8:1::100"),
                                                 a("2001:db8:1::101")], workers: 4)
        var seen = Set<UInt32>()
        for c in 0..<64 {
            let client = "2001:db8:5::\(String(c * 7 + 1, radix: 16))"
            let inbound = FanoutProgram.run(program, on: frame(client, "2001:db8:1::101"))
            let reply = FanoutProgram.run(program, on: frame("2001:db8:2::11", client, sourcePort: 8080))
            let error = FanoutProgram.run(program, on: frame("2001:db8:9::1", "2001:db8:1::100", proto: 58, quoted: client))
            XCTAssertEqual(inbound, reply, client)
            XCTAssertEqual(inbound, error, client)
            XCTAssertEqual(Int(inbound), FanoutProgram.worker(for6: a(client), workers: 4),
                           "\(client): the worker connection sync installs its flows on")
            XCTAssertLessThan(inbound, 4)
            seen.insert(inbound)
        }
        XCTAssertEqual(seen.count, 4, "64 clients use all 4 workers")
        // A VIP that differs in one word only is not taken for a VIP: hashed by the destination.
        let near = FanoutProgram.run(program, on: frame("2001:db8:5::1", "2001:db8:1:0:1::100"))
        XCTAssertEqual(near, FanoutProgram.run(program, on: frame("2001:db8:5::1", "2001:db8:9::100")))
        XCTAssertNotEqual(near, FanoutProgram.run(program, on: frame("2001:db8:5::1", "2001:db8:1::100")),
                          "to the VIP itself: hashed by the source (1, not 0x100)")
        XCTAssertEqual(FanoutProgram.run(program, on: [UInt8](repeating: 0, count: 60)), 0, "neither family: worker 0")
    }

    /// With persistence by a /56, every client of one /56 meets one worker in both directions
    /// (the program hashes the address's second word, masked to 24 bits), and /56s spread.
    func testTheFanoutProgramKeepsAPersistentIPv6ClientNetworkTogether() {
        let program = FanoutProgram.build(vips: [a("2001:db8:1::100")], workers: 4, clientPrefix6: 56)
        var seen = Set<UInt32>()
        for n in 0..<32 {
            let network = "2001:db8:5:\(String(n * 256 + 7, radix: 16))"
            let workers = Set(["\(network)::1", "\(network):ffff:1:2:3", "2001:db8:5:\(String(n * 256 + 0x42, radix: 16))::9"]
                .flatMap { client in
                    [FanoutProgram.run(program, on: frame(client, "2001:db8:1::100")),
                     FanoutProgram.run(program, on: frame("2001:db8:2::11", client, sourcePort: 8080))]
                })
            XCTAssertEqual(workers.count, 1, "the /56 of \(network)")
            XCTAssertEqual(workers.first.map(Int.init), FanoutProgram.worker(for6: a("\(network)::1"), workers: 4, clientPrefix6: 56),
                           "connection sync's choice for the /56 of \(network)")
            seen.formUnion(workers)
        }
        XCTAssertEqual(seen.count, 4, "32 networks use all 4 workers")
    }

    func testTheGuardDropsIPv6VIPsAndNAT66Replies() {
        let g = KernelGuard(interface: "lan0")
        let s = g.script(KernelGuard.Rules(vips: ["lan0": [a("2001:db8:1::100"), IPAddressBits(IPv4Address("198.18.0.100")!)]],
                                           natRealServers: ["lan0": [KernelGuard.Endpoint(address: a("2001:db8:2::11"),
                                                                                          proto: IPProtocol.tcp, port: 8080)]]))
        XCTAssertEqual(s, """
            table netdev switchyard_lan0 {
                chain ingress_lan0 {
                    type filter hook ingress device "lan0" priority 0; policy accept;
                    ip daddr { 198.18.0.100 } counter drop comment "forwarded by switchyard"
                    ip6 daddr { 2001:db8:1::100 } icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept comment "answered by switchyard"
                    ip6 daddr { 2001:db8:1::100 } counter drop comment "forwarded by switchyard"
                    ip6 saddr . meta l4proto . th sport { 2001:db8:2::11 . tcp . 8080 } fib daddr type != local counter drop comment "NAT replies translated by switchyard"
                }
            }
            """)
    }

    func testTheLinkLocalAddressOfAnInterface() {
        let text = """
            20010db8000100000000000000000002 02 40 00 80     eth0
            fe800000000000000000000000000001 02 40 20 82     eth0
            fe800000000000000000000000000099 03 40 20 c0     eth1
            fe800000000000000000000000000002 02 40 20 80     eth0
            fe800000000000000000000000000007 03 40 20 80     eth1
            """
        XCTAssertEqual(InterfaceAddresses6.linkLocal(in: text, of: "eth0"), a("fe80::2"),
                       "one added without duplicate address detection (a VRRP master's fe80::1) is skipped")
        XCTAssertEqual(InterfaceAddresses6.linkLocal(in: text, of: "eth1"), a("fe80::7"), "a tentative one is skipped")
        XCTAssertNil(InterfaceAddresses6.linkLocal(in: text, of: "eth2"))
        XCTAssertEqual(InterfaceAddresses6.linkLocal(in: "fe800000000000000000000000000005 04 40 20 82     eth3", of: "eth3"),
                       a("fe80::5"), "one added without DAD when it is the only one")
    }
    /// The neighbour table's netlink dump, read without a socket: entries of the interface in a
    /// known state with a 16-byte destination and a 6-byte MAC are kept; another interface's, an
    /// incomplete one, one without a MAC and a cut-off message are not.
    func testTheKernelsIPv6NeighboursFromANetlinkDump() {
        func native<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }
        func attribute(_ kind: UInt16, _ payload: [UInt8]) -> [UInt8] {
            let bytes = native(UInt16(4 + payload.count)) + native(kind) + payload
            return bytes + [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4)
        }
        func message(index: Int32, state: UInt16, _ address: String?, _ mac: [UInt8]?) -> [UInt8] {
            var body = [10, 0, 0, 0] + native(index) + native(state) + [0, 0]  // ndmsg: AF_INET6, ifindex, state
            if let address { body += attribute(1, a(address).octets) }
            if let mac { body += attribute(2, mac) }
            return native(UInt32(16 + body.count)) + native(UInt16(28)) + native(UInt16(2)) + native(UInt32(1)) + native(UInt32(0)) + body
        }
        let done = native(UInt32(20)) + native(UInt16(3)) + native(UInt16(2)) + native(UInt32(1)) + native(UInt32(0)) + native(Int32(0))
        let dump = message(index: 7, state: 0x02, "2001:db8:62::13", [2, 0, 0, 0, 0, 0x13])
            + message(index: 7, state: 0x80, "2001:db8:62::14", [2, 0, 0, 0, 0, 0x14])
            + message(index: 8, state: 0x02, "2001:db8:62::15", [2, 0, 0, 0, 0, 0x15])
            + message(index: 7, state: 0x01, "2001:db8:62::16", nil)
            + message(index: 7, state: 0x20, "2001:db8:62::17", [2, 0, 0, 0, 0, 0x17])
            + message(index: 7, state: 0x04, "2001:db8:62::18", nil)
            + done
        let table = NeighbourTable6.parse(dump[...], interfaceIndex: 7)
        XCTAssertEqual(table, [a("2001:db8:62::13"): MACAddress(bits: 0x0200_0000_0013),
                               a("2001:db8:62::14"): MACAddress(bits: 0x0200_0000_0014)])
        let cut = message(index: 7, state: 0x02, "2001:db8:62::13", [2, 0, 0, 0, 0, 0x13])
        XCTAssertEqual(NeighbourTable6.parse(cut.dropLast(3), interfaceIndex: 7), [:], "a message cut short is not read")
        XCTAssertEqual(NeighbourTable6.parse([][...], interfaceIndex: 7), [:])
    }
}
