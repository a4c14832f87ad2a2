// Route announcements for a routing daemon: the config keywords, the rule (quorum, VRRP standby,
// every service of a VIP), the order on stop, a reload that moves the table, and a failed route
// change tried again; the kernel replaced by a fake that records what it was asked.
import Glibc
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

/// Stands in for the announce link: the routes it holds, every call, and failures on demand.
final class FakeRoutes: RoutePort, @unchecked Sendable {
    struct Record {
        var routes: Set<String> = []
        var calls: [String] = []
        var failAdds = 0
        var failRemoves = 0
        var closed = false
    }
    let record = Locked(Record())
    let name = "fake0"

    func add(_ vip: IPAddressBits, table: UInt32) -> String? {
        record.withLock { r in
            r.calls.append("add \(vip) \(table)")
            if r.failAdds > 0 {
                r.failAdds -= 1
                return "RTNETLINK answers: No such device"
            }
            r.routes.insert("\(vip) \(table)")
            return nil
        }
    }
    func remove(_ vip: IPAddressBits, table: UInt32) -> String? {
        record.withLock { r in
            r.calls.append("remove \(vip) \(table)")
            if r.failRemoves > 0 {
                r.failRemoves -= 1
                return "RTNETLINK answers: Operation not permitted"
            }
            r.routes.remove("\(vip) \(table)")
            return nil
        }
    }
    func standing(table: UInt32) -> Set<IPAddressBits>? {
        record.withLock { r in
            Set(r.routes.compactMap { route in
                let parts = route.split(separator: " ")
                return parts[1] == "\(table)" ? IPAddressBits(text: String(parts[0])) : nil
            })
        }
    }
    func clearStale(_ vip: IPAddressBits, table: UInt32) {
        record.withLock { $0.calls.append("clear \(vip) \(table)") }
    }
    /// The device goes, and every route through it.
    func close() {
        record.withLock { r in
            r.closed = true
            r.routes = []
        }
    }
    var routes: [String] { record.withLock { $0.routes.sorted() } }
}

final class AnnounceTests: XCTestCase {
    func config(table: String = "switchyard_announce_table 100", drain: String = "") -> String {
        """
        global_defs {
            \(table)
            \(drain)
        }
        virtual_server 198.18.0.100 80 {
            lb_algo mh
            lb_kind DR
            real_server 198.18.0.11 80 {
                TCP_CHECK {
                    connect_timeout 1
                }
            }
            real_server 198.18.0.12 80 {
                TCP_CHECK {
                    connect_timeout 1
                }
            }
        }
        virtual_server 198.18.0.100 443 {
            lb_algo mh
            lb_kind DR
            real_server 198.18.0.11 443 {
            }
        }
        virtual_server 198.18.0.101 80 {
            lb_kind DR
            real_server 198.18.0.12 80 {
            }
        }
        """
    }
    var path = ""
    var fake = FakeParts()
    var routes = FakeRoutes()

    override func setUp() {
        path = "/tmp/switchyard-announce-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).conf"
        fake = FakeParts()
        routes = FakeRoutes()
        fake.kernel = [IPAddressBits(text: "198.18.0.11")!: MACAddress(bits: 0x11),
                       IPAddressBits(text: "198.18.0.12")!: MACAddress(bits: 0x12)]
    }

    override func tearDown() { unlink(path) }

    func started(_ text: String) throws -> ControlPlane {
        let routes = self.routes
        return try startedPlane(text, path: path, fake: fake, routes: { routes })
    }

    func testConfigKeywordsAndTheirMistakes() throws {
        let c = try Config.parse(config(drain: "switchyard_announce_drain 2.5"), path: "test.conf")
        XCTAssertEqual(c.announce.table, 100)
        XCTAssertEqual(c.announce.drainSeconds, 2.5)
        XCTAssertTrue(c.warnings.isEmpty, "\(c.warnings)")
        XCTAssertEqual(try Config.parse(config(table: ""), path: "test.conf").announce, AnnounceSettings())
        XCTAssertEqual(AnnounceSettings().drainSeconds, 5)

        XCTAssertEqual(configError(config(table: "switchyard_announce_table 254"), path: "test.conf"),
                       "test.conf:2:31: switchyard_announce_table 254 is the kernel's main table; give a table of its own (e.g. 100) that the routing daemon reads")
        XCTAssertEqual(configError(config(table: "switchyard_announce_table 0"), path: "test.conf"),
                       "test.conf:2:31: switchyard_announce_table must be a routing table number from 1 to 4294967295, not \"0\"")
        XCTAssertEqual(configError(config(table: "switchyard_announce_table lo"), path: "test.conf"),
                       "test.conf:2:31: switchyard_announce_table must be a routing table number from 1 to 4294967295, not \"lo\"")
        XCTAssertEqual(configError(config(drain: "switchyard_announce_drain -1"), path: "test.conf"),
                       "test.conf:3:31: switchyard_announce_drain must be seconds from 0.0 to 3600.0, not \"-1\"")
        let alone = try Config.parse(config(table: "", drain: "switchyard_announce_drain 3"), path: "test.conf")
        XCTAssertEqual(alone.warnings.map(\.description),
                       ["test.conf:3:5: warning: switchyard_announce_drain has no effect without switchyard_announce_table"])
    }

    func testRoutesFollowEveryServiceOfTheVIPAndStopWithdrawsThemAll() throws {
        let plane = try started(config())
        XCTAssertEqual(routes.routes, [], "nothing is announced before the engine forwards")
        plane.startAnnouncing()
        XCTAssertEqual(routes.routes, ["198.18.0.100 100", "198.18.0.101 100"])

        // One real server down: port 80 keeps its quorum. Both down: 198.18.0.100 goes, although
        // its port 443 still has a real server (the router cannot send port 80 elsewhere).
        let targets = fake.record.withLock { $0.started }
        plane.healthReport(targets[0], 0, false, .down("connection refused"))
        XCTAssertEqual(routes.routes, ["198.18.0.100 100", "198.18.0.101 100"])
        plane.healthReport(targets[1], 0, false, .down("connection refused"))
        XCTAssertEqual(routes.routes, ["198.18.0.101 100"])
        let metrics = plane.metricsText()
        XCTAssertTrue(metrics.contains("switchyard_vip_announced{vip=\"198.18.0.100\"} 0\n"), metrics)
        XCTAssertTrue(metrics.contains("switchyard_vip_announced{vip=\"198.18.0.101\"} 1\n"), metrics)
        plane.healthReport(targets[1], 0, true, .up)
        XCTAssertEqual(routes.routes, ["198.18.0.100 100", "198.18.0.101 100"])

        // A VIP whose VRRP instance is not master here is not forwarded here: not announced.
        try plane.setServed([IPAddressBits(text: "198.18.0.101")!], false)
        XCTAssertEqual(routes.routes, ["198.18.0.100 100"])
        try plane.setServed([IPAddressBits(text: "198.18.0.101")!], true)
        XCTAssertEqual(routes.routes, ["198.18.0.100 100", "198.18.0.101 100"])

        // adm takes a service away: its VIP's route goes with the last service on it.
        XCTAssertTrue(plane.control(["-D", "-t", "198.18.0.101:80"], "").ok)
        XCTAssertEqual(routes.routes, ["198.18.0.100 100"])

        let stop = plane.stopAnnouncing()
        XCTAssertEqual(stop?.table, 100)
        XCTAssertEqual(stop?.withdrawn, [IPAddressBits(text: "198.18.0.100")!])
        XCTAssertEqual(stop?.drainSeconds, 5)
        XCTAssertEqual(routes.routes, [])
        plane.healthReport(targets[0], 0, true, .up)
        plane.refreshAnnouncements()
        XCTAssertEqual(routes.routes, [], "nothing is announced once stopping")
        XCTAssertNil(plane.stopAnnouncing())
    }

    func testAReloadMovesTheRoutesAndAFailedAddIsTriedAgain() throws {
        routes.record.withLock { $0.failAdds = 1 }
        let plane = try started(config())
        plane.startAnnouncing()
        XCTAssertEqual(routes.routes, ["198.18.0.101 100"], "the first add failed")
        plane.refreshAnnouncements()
        XCTAssertEqual(routes.routes, ["198.18.0.100 100", "198.18.0.101 100"], "the next refresh tries again")

        XCTAssertEqual(routes.record.withLock { $0.calls.filter { $0.hasPrefix("clear") } },
                       ["clear 198.18.0.100 100", "clear 198.18.0.101 100"], "a new device clears what a killed run left")
        XCTAssertTrue(createFile(path, config(table: "switchyard_announce_table 200")))
        routes.record.withLock { $0.calls = [] }
        XCTAssertTrue(plane.reload().ok)
        XCTAssertEqual(routes.routes, ["198.18.0.100 200", "198.18.0.101 200"])
        XCTAssertEqual(routes.record.withLock { $0.calls.filter { !$0.hasPrefix("add") } },
                       ["remove 198.18.0.100 100", "remove 198.18.0.101 100", "clear 198.18.0.100 200", "clear 198.18.0.101 200"],
                       "each route leaves the old table before the device goes")
        XCTAssertTrue(createFile(path, config(table: "")))
        XCTAssertTrue(plane.reload().ok)
        XCTAssertEqual(routes.routes, [])
        XCTAssertTrue(routes.record.withLock { $0.closed }, "with no table the link is given up")
    }

    func testAFlushedRouteIsPutBackAndAFailedWithdrawStillEndsWithTheDevice() throws {
        let plane = try started(config())
        plane.startAnnouncing()
        XCTAssertEqual(routes.routes, ["198.18.0.100 100", "198.18.0.101 100"])
        // Someone flushes the table: the next verify notices, the next refresh puts them back.
        routes.record.withLock { $0.routes = [] }
        plane.refreshAnnouncements()
        XCTAssertEqual(routes.routes, [], "the books still say they stand")
        plane.announcer.verify()
        plane.refreshAnnouncements()
        XCTAssertEqual(routes.routes, ["198.18.0.100 100", "198.18.0.101 100"])

        // A withdraw that fails leaves the route in the books (tried again next time)...
        routes.record.withLock { $0.failRemoves = 1 }
        try plane.setServed([IPAddressBits(text: "198.18.0.101")!], false)
        XCTAssertEqual(routes.routes, ["198.18.0.100 100", "198.18.0.101 100"])
        plane.refreshAnnouncements()
        XCTAssertEqual(routes.routes, ["198.18.0.100 100"])
        // ...and on stop the device goes anyway, with any route a failed withdraw left.
        routes.record.withLock { $0.failRemoves = 1 }
        XCTAssertEqual(plane.stopAnnouncing()?.withdrawn, [IPAddressBits(text: "198.18.0.100")!])
        XCTAssertEqual(routes.routes, [])
        XCTAssertTrue(routes.record.withLock { $0.closed })
    }

    func testASorryServerKeepsTheRouteAndAnUnknownMACHoldsItBack() throws {
        let sorry = config().replacingOccurrences(of: "virtual_server 198.18.0.100 80 {\n",
                                                  with: "virtual_server 198.18.0.100 80 {\n    sorry_server 198.18.0.13 80\n")
        fake.kernel[IPAddressBits(text: "198.18.0.13")!] = MACAddress(bits: 0x13)
        let plane = try started(sorry)
        plane.startAnnouncing()
        let targets = fake.record.withLock { $0.started }
        for t in targets { plane.healthReport(t, 0, false, .down("connection refused")) }
        XCTAssertEqual(routes.routes, ["198.18.0.100 100", "198.18.0.101 100"],
                       "the quorum is lost, the sorry server answers: still served here")

        // 198.18.0.101's only real server has no known MAC: nothing would forward its packets.
        fake.kernel[IPAddressBits(text: "198.18.0.12")!] = nil
        let plane2Path = path + ".2"
        defer { unlink(plane2Path) }
        let plane2 = try startedPlane(config(), path: plane2Path, fake: fake, routes: { [routes] in routes })
        routes.record.withLock { $0.routes = [] }
        plane2.startAnnouncing()
        XCTAssertEqual(routes.routes, ["198.18.0.100 100"])
    }

    func testWithoutATableNothingIsAnnouncedAndNoLinkIsMade() throws {
        var made = 0
        XCTAssertTrue(createFile(path, config(table: "")))
        let plane = try startedPlane(config(table: ""), path: path, fake: fake, routes: {
            made += 1
            return FakeRoutes()
        })
        plane.startAnnouncing()
        plane.refreshAnnouncements()
        XCTAssertEqual(made, 0)
        XCTAssertNil(plane.stopAnnouncing())
    }
}
