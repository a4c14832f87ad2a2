// The engine's pure rooms: interface resolution over made-up routes, the 1 Hz timer's
// schedule, what a start does about a killed predecessor's leftovers, and the ready line.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

final class InterfacePlanTests: XCTestCase {
    func config(_ text: String) throws -> Config { try Config.parse(text, path: "t.conf") }

    func testVIPsLeadThenTheRealServersOnLinkInterfaces() throws {
        let c = try config("""
            virtual_server 198.18.0.100 80 { lb_kind NAT
                real_server 198.19.0.5 8080 { weight 1 }
                real_server 198.18.0.11 8080 { weight 1 }
            }
            """)
        let plan = try InterfacePlan(config: c, given: nil, routes: fakeRoutes, lookup: fakeInterface)
        XCTAssertEqual(plan.interfaces.map(\.name), ["eth0", "lan1"])
        XCTAssertEqual(try plan.number(for: IPAddressBits(text: "198.18.0.100")!, vip: true), 0)
        XCTAssertEqual(plan.realInterface(IPAddressBits(text: "198.19.0.5")!), 1)
        XCTAssertNoThrow(try plan.admits(c))
    }

    func testAGivenInterfaceServesEveryVIP() throws {
        let c = try config("virtual_server 198.18.0.100 80 {\n lb_kind DR\n real_server 198.19.0.5 80 { weight 1 }\n}")
        let plan = try InterfacePlan(config: c, given: "lan1", routes: fakeRoutes, lookup: fakeInterface)
        XCTAssertEqual(plan.interfaces.map(\.name), ["lan1"])
        XCTAssertEqual(try plan.number(for: IPAddressBits(text: "198.18.0.100")!, vip: true), 0)
    }

    func testARealServerBehindAGatewayIsRefusedWithTheReason() throws {
        let c = try config("virtual_server 198.18.0.100 80 {\n lb_kind DR\n real_server 198.20.0.5 80 { weight 1 }\n}")
        XCTAssertThrowsError(try InterfacePlan(config: c, given: nil, routes: fakeRoutes, lookup: fakeInterface)) { error in
            XCTAssertTrue("\(error)".contains("real server 198.20.0.5 is not on a segment of this machine"), "\(error)")
        }
        XCTAssertThrowsError(try InterfacePlan(config: c, given: nil, routes: [], lookup: fakeInterface)) { error in
            XCTAssertTrue("\(error)".contains("no route to VIP 198.18.0.100"), "\(error)")
        }
    }
}

final class HousekeepingTests: XCTestCase {
    func testTheScheduleOfTheChores() {
        let always: Set<Chore> = [.refreshNeighbours, .refreshLocalAddresses, .readTrace]
        XCTAssertEqual(Housekeeping.chores(at: 1, statsInterval: 0), always)
        XCTAssertEqual(Housekeeping.chores(at: 2, statsInterval: 0), always.union([.updateRates]))
        XCTAssertEqual(Housekeeping.chores(at: 5, statsInterval: 0), always.union([.requestMissingNeighbours, .verifyAnnouncements]))
        XCTAssertEqual(Housekeeping.chores(at: 30, statsInterval: 10), Set(Chore.allCases))
        XCTAssertFalse(Housekeeping.chores(at: 10, statsInterval: 0).contains(.logStats), "0 = no stats lines")
        XCTAssertTrue(Housekeeping.chores(at: 10, statsInterval: 10).contains(.logStats))
    }
}

final class LeftoversTests: XCTestCase {
    /// A machine of made-up processes and tables that records what was undone.
    final class Machine {
        var running: Set<Int32> = []
        var tables: Set<String> = []
        var groRestored: [String] = []
        var machine: Leftovers.Machine {
            Leftovers.Machine(isRunning: { self.running.contains($0) }, tableExists: { self.tables.contains($0) },
                              deleteTable: { self.tables.remove($0) }, restoreGRO: { self.groRestored.append($0) })
        }
    }

    let record = RunRecord(pid: 4242, guardTable: "switchyard_eth0", groTurnedOff: ["eth0", "lan1"])

    func testTheRecordReadsBackAndRefusesAnythingElse() {
        XCTAssertEqual(RunRecord(text: record.text), record)
        XCTAssertEqual(RunRecord(text: "pid 7\nguard_table switchyard_x\ngro_off \n")?.groTurnedOff, [])
        XCTAssertNil(RunRecord(text: ""))
        XCTAssertNil(RunRecord(text: "pid 7\nguard_table filter\n"), "only a table of ours is ever deleted")
        XCTAssertNil(RunRecord(text: "pid x\nguard_table switchyard_eth0\n"))
        XCTAssertTrue(RunRecord.path(configPath: "/etc/switchyard/a.conf").hasSuffix(".run"))
        XCTAssertEqual(String(RunRecord.path(configPath: "/etc/switchyard/a.conf").dropLast(4)),
                       String(EngineOptions.defaultControlPath(configPath: "/etc/switchyard/a.conf").dropLast(5)))
    }

    func testAKilledRunIsUndoneAndSaidSo() {
        let m = Machine()
        m.tables = ["switchyard_eth0", "filter"]
        let outcome = Leftovers.clean(record: record, guardTable: "switchyard_eth0", machine: m.machine)
        XCTAssertEqual(outcome, .cleaned(["an earlier run of this config (pid 4242) did not stop cleanly: removed its kernel "
            + "guard table netdev switchyard_eth0; turned GRO back on for eth0; turned GRO back on for lan1"]))
        XCTAssertEqual(m.tables, ["filter"])
        XCTAssertEqual(m.groRestored, ["eth0", "lan1"])
    }

    func testARunStillGoingIsLeftAlone() {
        let m = Machine()
        m.running = [4242]
        m.tables = ["switchyard_eth0"]
        XCTAssertEqual(Leftovers.clean(record: record, guardTable: "switchyard_eth0", machine: m.machine), .stillRunning(4242))
        XCTAssertEqual(m.tables, ["switchyard_eth0"])
        XCTAssertEqual(m.groRestored, [])
    }

    func testAGuardTableWithoutARecordIsRemovedAndNothingElseTouched() {
        let m = Machine()
        m.tables = ["switchyard_eth0", "switchyard_lan1"]
        XCTAssertEqual(Leftovers.clean(record: nil, guardTable: "switchyard_eth0", machine: m.machine),
                       .cleaned(["removed the kernel guard table netdev switchyard_eth0 that an earlier run left"]))
        XCTAssertEqual(m.tables, ["switchyard_lan1"])
        XCTAssertEqual(Leftovers.clean(record: nil, guardTable: "switchyard_eth0", machine: m.machine), .clean)
    }
}

final class ReadyLineTests: XCTestCase {
    func sets(vips: [String], answered: [String]) -> AddressSets {
        var s = AddressSets()
        s.vips = vips.map { IPAddressBits(text: $0)! }
        s.answered = answered.map { IPAddressBits(text: $0)! }
        return s
    }

    func testTheARPPartSaysWhatIsAnsweredAndWhatVRRPHolds() {
        XCTAssertEqual(sets(vips: ["198.18.0.100"], answered: ["198.18.0.100"]).arpAnswerSummary,
                       "answering ARP for 198.18.0.100")
        // A backup: every VIP held by VRRP, not an empty list.
        XCTAssertEqual(sets(vips: ["198.19.10.100"], answered: []).arpAnswerSummary,
                       "answering ARP for none yet (198.19.10.100 held by VRRP, served while master)")
        XCTAssertEqual(sets(vips: ["198.18.0.100", "198.19.10.100"], answered: ["198.18.0.100"]).arpAnswerSummary,
                       "answering ARP for 198.18.0.100 (198.19.10.100 held by VRRP, served while master)")
        // IPv6 only: neighbour discovery leads.
        XCTAssertEqual(sets(vips: ["2001:db8::100"], answered: []).arpAnswerSummary,
                       "answering neighbour discovery for none yet (2001:db8::100 held by VRRP, served while master)")
        XCTAssertEqual(sets(vips: ["2001:db8::100", "198.18.0.100"], answered: ["2001:db8::100"]).arpAnswerSummary,
                       "answering ARP for none yet (198.18.0.100 held by VRRP, served while master); "
                           + "answering neighbour discovery for 2001:db8::100")
    }
}
