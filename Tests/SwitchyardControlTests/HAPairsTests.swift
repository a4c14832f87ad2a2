// Tutorial-style keepalived HA pairs (Tests/fixtures/ha-pairs): each file passes `check` with
// exactly the warnings an operator would see, and the two halves of a pair agree on services
// and VRRP routers, differing only where a pair must (state, priority, who is whose peer).
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class HAPairsTests: XCTestCase {
    static let directory = fixturesDirectory("ha-pairs")

    func load(_ name: String) throws -> (Config, [String]) {
        let path = "\(Self.directory)/\(name).conf"
        let c = try Config.load(path: path)
        return (c, c.warnings.map { $0.description.replacingOccurrences(of: "\(Self.directory)/", with: "") })
    }

    /// The pair's halves, with what may differ set equal.
    func assertPair(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> (Config, Config) {
        let (master, _) = try load("\(name)-master")
        let (backup, _) = try load("\(name)-backup")
        // The halves differ in words only, so even the lines match.
        XCTAssertEqual(master.services, backup.services, "\(name): the same services", file: file, line: line)
        XCTAssertEqual(master.failover.instances.count, backup.failover.instances.count, file: file, line: line)
        for (m, b) in zip(master.failover.instances, backup.failover.instances) {
            XCTAssertEqual(m.virtualRouterID, b.virtualRouterID, "\(name) \(m.name): same VRID", file: file, line: line)
            XCTAssertEqual(m.authPass, b.authPass, "\(name) \(m.name): same password", file: file, line: line)
            XCTAssertEqual(m.virtualAddresses, b.virtualAddresses, "\(name) \(m.name): same addresses", file: file, line: line)
            XCTAssertGreaterThan(m.priority, b.priority, "\(name) \(m.name): the master outranks", file: file, line: line)
        }
        return (master, backup)
    }

    func testDRPair() throws {
        let (_, warnings) = try load("dr-master")
        XCTAssertEqual(warnings, [
            "dr-master.conf:4:4: warning: notification_email { … } is ignored (keepalived: sends email alerts on state changes)",
            "dr-master.conf:7:4: warning: notification_email_from is ignored (keepalived: sends email alerts on state changes)",
            "dr-master.conf:8:4: warning: smtp_server is ignored (keepalived: sends email alerts on state changes)",
            "dr-master.conf:9:4: warning: smtp_connect_timeout is ignored (keepalived: sends email alerts on state changes)",
            "dr-master.conf:10:4: warning: router_id is ignored (keepalived: names this box in its email alerts and SNMP)",
            "dr-master.conf:32:5: warning: nat_mask is ignored (keepalived: an option of keepalived 1.x that never had any effect)",
        ])
        let (master, backup) = try assertPair("dr")
        XCTAssertEqual(master.services[0].reals.map(\.weight), [3, 1])
        XCTAssertEqual(master.services[0].reals[0].checkers[0].timing.retry, 3, "nb_get_retry is retry")
        XCTAssertEqual(master.failover.instances[0].initialState, .master)
        XCTAssertEqual(backup.failover.instances[0].initialState, .backup)
    }

    func testNATPairWithSyncGroupAndConnectionSync() throws {
        let (_, masterWarnings) = try load("nat-master")
        XCTAssertEqual(masterWarnings, [
            "nat-master.conf:4:5: warning: router_id is ignored (keepalived: names this box in its email alerts and SNMP)",
            "nat-master.conf:16:1: warning: vrrp_instance VI_EXT: nopreempt does not work with state MASTER; it is cleared, as keepalived",
            "nat-master.conf:35:1: warning: vrrp_instance VI_INT: nopreempt does not work with state MASTER; it is cleared, as keepalived",
            "nat-master.conf:9:1: warning: vrrp_sync_group VG1: its instances start as BACKUP, as keepalived starts a group as "
                + "MASTER only when every member says MASTER with priority 255",
        ])
        let (_, backupWarnings) = try load("nat-backup")
        XCTAssertEqual(backupWarnings, [
            "nat-backup.conf:4:5: warning: router_id is ignored (keepalived: names this box in its email alerts and SNMP)",
        ])
        let (master, backup) = try assertPair("nat")
        XCTAssertEqual(master.services.map(\.name), ["TCP 198.18.20.100:80", "TCP 198.18.20.100:443"])
        XCTAssertEqual(master.services[1].reals[0].checkers.map(\.kind.name), ["SSL_GET"])
        XCTAssertEqual(master.failover.syncGroups.map(\.instances), [["VI_EXT", "VI_INT"]])
        XCTAssertEqual(master.failover.instances[0].notifyMaster, ScriptUse(command: "/usr/local/sbin/lb-notify master"))
        XCTAssertEqual(master.failover.syncDaemon, backup.failover.syncDaemon, "both boxes sync on eth1 as VI_INT")
        XCTAssertNotNil(master.failover.syncDaemon)
    }

    func testUnicastPairWithTrackedScript() throws {
        let (_, warnings) = try load("unicast-master")
        XCTAssertEqual(warnings, [
            "unicast-master.conf:5:5: warning: router_id is ignored (keepalived: names this box in its email alerts and SNMP)",
        ])
        let (master, backup) = try assertPair("unicast")
        XCTAssertEqual(master.failover.instances[0].unicastPeers, backup.failover.instances[0].unicastSource.map { [$0] })
        XCTAssertEqual(backup.failover.instances[0].unicastPeers, master.failover.instances[0].unicastSource.map { [$0] })
        XCTAssertEqual(master.services.map(\.name), ["UDP 198.18.30.53:53", "TCP 198.18.30.53:53"])
        XCTAssertEqual(master.services[0].reals.map { $0.checkers.map(\.kind) },
                       [[.dns(type: .soa, name: "example.org")], [.dns(type: .soa, name: "example.org")]])
        XCTAssertEqual(master.scripts.user, "nobody")
        XCTAssertTrue(master.scripts.enforcing)
    }
}
