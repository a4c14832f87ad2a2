// A dual-stack config through the control plane: IPv6 VIPs and real servers placed on
// interfaces by the kernel's IPv6 routes, the address sets the I/O parts get (filter, fanout,
// guard, neighbour discovery), real servers asked for and their MACs in the snapshot.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

final class IPv6PlaneTests: XCTestCase {
    let fake = FakeParts()
    let path = "/tmp/switchyard-v6plane-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).conf"
    override func tearDown() { unlink(path) }

    func a(_ text: String) -> IPAddressBits { IPAddressBits(text: text)! }

    let dualStack = """
        virtual_server 198.18.0.100 80 {
            lb_kind DR
            real_server 198.18.0.11 80 { weight 1 }
        }
        virtual_server 2001:db8::100 80 {
            lb_kind NAT
            real_server 2001:db8:2::11 8080 { weight 1 }
            real_server 2001:db8::12 8080 { weight 1 }
        }
        """

    func testInterfacesComeFromTheIPv6Routes() throws {
        let c = try Config.parse(dualStack, path: "t.conf")
        let plan = try InterfacePlan(config: c, given: nil, routes: fakeRoutes, routes6: fakeRoutes6, lookup: fakeInterface)
        XCTAssertEqual(plan.interfaces.map(\.name), ["eth0", "lan1"])
        XCTAssertEqual(try plan.number(for: a("2001:db8::100"), vip: true), 0)
        XCTAssertEqual(plan.realInterface(a("2001:db8:2::11")), 1)
        XCTAssertEqual(plan.realInterface(a("2001:db8::12")), 0)
        let routed = try Config.parse("virtual_server 2001:db8::100 80 {\n real_server 2001:db8:7::1 80\n}", path: "t.conf")
        XCTAssertThrowsError(try InterfacePlan(config: routed, given: nil, routes: fakeRoutes, routes6: fakeRoutes6,
                                               lookup: fakeInterface)) { e in
            XCTAssertTrue("\(e)".hasPrefix("real server 2001:db8:7::1 is not on a segment of this machine"), "\(e)")
        }
        XCTAssertThrowsError(try InterfacePlan(config: c, given: nil, routes: fakeRoutes, routes6: [], lookup: fakeInterface)) { e in
            XCTAssertTrue("\(e)".hasPrefix("no route to VIP 2001:db8::100"), "\(e)")
        }
    }

    func testTheAddressSetsAndTheSnapshotCarryBothFamilies() throws {
        fake.kernel = [a("198.18.0.11"): MACAddress(bits: 0x11)]
        let plane = try startedPlane(dualStack, path: path, fake: fake)
        let sets = fake.record.withLock { $0.applied.last! }
        XCTAssertEqual(sets.vips, [a("198.18.0.100"), a("2001:db8::100")])
        XCTAssertEqual(sets.answered, sets.vips)
        XCTAssertEqual(sets.vipInterface[a("2001:db8::100")], 0)
        XCTAssertEqual(sets.natEndpoints.map(\.address), [a("2001:db8::12"), a("2001:db8:2::11")])
        XCTAssertEqual(sets.natInterface[a("2001:db8:2::11")], 1)
        XCTAssertEqual(sets.arpAnswerSummary,
                       "answering ARP for 198.18.0.100; answering neighbour discovery for 2001:db8::100")
        // The IPv6 servers' MACs are unknown: they are asked for, and take no flows yet.
        XCTAssertEqual(plane.unresolvedNeighbours, [a("2001:db8::12"), a("2001:db8:2::11")])
        plane.requestNeighbours(all: false)
        XCTAssertEqual(fake.record.withLock { $0.requested }, [a("2001:db8::12"), a("2001:db8:2::11")])
        XCTAssertNil(fake.last.services[1].reals[0].mac)
        // Once one answers, its MAC and interface reach the snapshot.
        fake.kernel[a("2001:db8:2::11")] = MACAddress(bits: 0x2011)
        XCTAssertTrue(plane.refreshNeighbours())
        plane.republish()
        let real = fake.last.services[1].reals.first { $0.address == a("2001:db8:2::11") }
        XCTAssertEqual(real?.mac, MACAddress(bits: 0x2011))
        XCTAssertEqual(real?.interface, 1)
        XCTAssertEqual(sets.clientPrefix6, 128, "no persistent IPv6 service")
        // VRRP holds IPv4 VIPs only: an IPv4 VIP on standby leaves the IPv6 one answered.
        try plane.setServed([IPAddressBits(IPv4Address("198.18.0.100")!)], false)
        XCTAssertEqual(fake.record.withLock { $0.applied.last!.answered }, [a("2001:db8::100")])
    }

    func testPersistentIPv6ServicesKeepTheirClientNetworkOnOneWorker() throws {
        _ = try startedPlane(dualStack + """

            virtual_server 2001:db8::100 443 {
                lb_kind DR
                persistence_granularity 56
                real_server 2001:db8::12 443 { weight 1 }
            }
            virtual_server 2001:db8::100 444 {
                lb_kind DR
                persistence_timeout 60
                real_server 2001:db8::12 444 { weight 1 }
            }
            """, path: path, fake: fake)
        let sets = fake.record.withLock { $0.applied.last! }
        XCTAssertEqual(sets.clientPrefix6, 56, "the shortest prefix of the persistent IPv6 services")
        XCTAssertEqual(sets.clientMask, .max, "IPv4 clients are not grouped by an IPv6 service")
    }

    /// More IPv6 VIPs than the fanout program holds are refused with a message (at start and
    /// reload by the plan, on adm -A by the address sets), never built.
    func testThirtyIPv6VIPsAreRefusedNotBuilt() throws {
        let many = (1...30).map { "virtual_server 2001:db8::\(String($0, radix: 16)) 80 {\n real_server 2001:db8::ff 80\n}" }
            .joined(separator: "\n")
        let c = try Config.parse(many, path: "t.conf")
        XCTAssertThrowsError(try InterfacePlan(config: c, given: nil, routes: fakeRoutes, routes6: fakeRoutes6,
                                               lookup: fakeInterface)) { e in
            XCTAssertEqual("\(e)", "0 IPv4 and 30 IPv6 VIPs: the fanout program holds at most 199 IPv4 and 29 IPv6 VIPs")
        }
        let plane = try startedPlane(dualStack, path: path, fake: fake)
        let before = fake.record.withLock { $0.applied.count }
        for i in 1...28 {
            XCTAssertTrue(plane.control(["-A", "-t", "[2001:db8::\(String(0x200 + i, radix: 16))]:80"], "").ok)
        }
        let refused = plane.control(["-A", "-t", "[2001:db8::300]:80"], "")
        XCTAssertEqual(refused.status, 255)
        XCTAssertEqual(refused.text, "1 IPv4 and 30 IPv6 VIPs: the fanout program holds at most 199 IPv4 and 29 IPv6 VIPs\n")
        XCTAssertFalse(plane.control(["-Ln"], "").text.contains("[2001:db8::300]:80"), "the table is as it was")
        XCTAssertEqual(fake.record.withLock { $0.applied.count }, before + 28)
        XCTAssertTrue(plane.control(["-A", "-t", "[2001:db8::201]:81"], "").ok, "another port of a VIP it has")
    }
}
