// The router that the socket layer drives: built from a FailoverConfig, it groups instances as the
// sync groups say, routes adverts by interface and VRID, and gives one deadline for them all.
import XCTest
@testable import SwitchyardControl
import SwitchyardCore

final class VRRPRouterTests: XCTestCase {
    func testBuildsGroupsRoutesAdvertsAndKeepsOneDeadline() {
        var config = FailoverConfig()
        config.instances = [
            VRRPLab.config("VI_1", vrid: 1, priority: 150),
            VRRPLab.config("VI_2", vrid: 2, priority: 150),
            VRRPLab.config("VI_3", vrid: 3, priority: 100, interface: "eth1"),
        ]
        var group = VRRPSyncGroupConfig(name: "G1", location: SourceLocation(line: 1, column: 1))
        group.instances = ["VI_1", "VI_2", "missing"]
        config.syncGroups = [group]
        var router = VRRPRouter(config: config) { _ in VRRPLab.address(0) }
        XCTAssertEqual(router.instances.map(\.config.name), ["VI_1", "VI_2", "VI_3"])
        XCTAssertTrue(router.instance("VI_1")!.inSyncGroup)
        XCTAssertFalse(router.instance("VI_3")!.inSyncGroup)

        let started = router.handle(.start, at: 0)
        XCTAssertEqual(started.first, .groupTransition("G1", from: .initialize, to: .backup))
        XCTAssertTrue(started.contains(.instance("VI_3", .transition(from: .initialize, to: .backup, cause: .started))))
        XCTAssertEqual(router.nextDeadline!, down150, accuracy: vrrpEps)

        // A better master for VRID 3 on eth1 holds VI_3 back; the same VRID elsewhere reaches nobody.
        let better = ReceivedAdvert(priority: 200, maxAdvertInterval: 10, sourceAddress: VRRPLab.address(1))
        XCTAssertEqual(router.receive(better, interface: "eth0", virtualRouterID: 3, at: 0.2), [])
        XCTAssertEqual(router.receive(better, interface: "eth1", virtualRouterID: 3, at: 0.2), [])
        XCTAssertEqual(router.instance("VI_3")!.masterAddress, VRRPLab.address(1))

        let fired = router.handle(.timer, at: down150)
        XCTAssertTrue(fired.contains(.groupTransition("G1", from: .backup, to: .master)))
        XCTAssertEqual(router.instance("VI_1")!.state, .master)
        XCTAssertEqual(router.instance("VI_2")!.state, .master)
        XCTAssertEqual(router.instance("VI_3")!.state, .backup)
        XCTAssertEqual(router.nextDeadline!, down150 + 0.1, accuracy: vrrpEps, "the masters' next adverts")
    }
    /// An IPv4 and an IPv6 instance with one VRID on one interface (RFC 5798 counts the families
    /// apart): each family's adverts reach its own instance only.
    func testOneVRIDPerFamilyOnOneInterface() {
        var config = FailoverConfig()
        var v6 = VRRPLab.config("VI_6", vrid: 7, priority: 100)
        v6.virtualAddresses = [.init(address: IPAddressBits(ipv6: "fe80::1")!, prefixLength: 64)]
        config.instances = [VRRPLab.config("VI_4", vrid: 7, priority: 100), v6]
        var router = VRRPRouter(config: config) { _ in VRRPLab.address(0) }
        _ = router.handle(.start, at: 0)
        let six = ReceivedAdvert(priority: 200, maxAdvertInterval: 10, sourceAddress: IPAddressBits(ipv6: "fe80::9")!)
        _ = router.receive(six, interface: "eth0", virtualRouterID: 7, ipv6: true, at: 0.2)
        XCTAssertEqual(router.instance("VI_6")!.masterAddress, IPAddressBits(ipv6: "fe80::9"))
        XCTAssertNil(router.instance("VI_4")!.masterAddress, "the IPv4 instance heard nothing")
        let four = ReceivedAdvert(priority: 200, maxAdvertInterval: 10, sourceAddress: VRRPLab.address(5))
        _ = router.receive(four, interface: "eth0", virtualRouterID: 7, at: 0.3)
        XCTAssertEqual(router.instance("VI_4")!.masterAddress, VRRPLab.address(5))
        XCTAssertEqual(router.instance("VI_6")!.masterAddress, IPAddressBits(ipv6: "fe80::9"))
    }
}
