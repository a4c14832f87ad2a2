// global_defs `switchyard_sync_auth_key`: read into the sync daemon's config before or after
// lvs_sync_daemon, refused with its place when too short, repeated, or without a sync daemon,
// and never printed. Beside it, the sync defaults the config, the protocol and the socket share.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
import SwitchyardIO

final class SyncAuthConfigTests: XCTestCase {
    func parse(_ text: String) throws(ConfigDiagnostic) -> Config { try Config.parse(text, path: "ha.conf") }

    func error(_ text: String) -> String { configError(text, path: "ha.conf") }

    let instance = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n}\n"

    func testTheKeyIsReadBeforeOrAfterTheSyncDaemon() throws {
        let after = try parse("global_defs {\n lvs_sync_daemon eth1 VI_1\n switchyard_sync_auth_key \"0123456789abcdef\"\n}\n" + instance)
        XCTAssertEqual(after.failover.syncDaemon?.authKey, Array("0123456789abcdef".utf8))
        let before = try parse("global_defs {\n switchyard_sync_auth_key \"correct horse battery\"\n lvs_sync_daemon eth1 VI_1\n}\n" + instance)
        XCTAssertEqual(before.failover.syncDaemon?.authKey, Array("correct horse battery".utf8), "spaces inside the quotes count")
        let bare = try parse("global_defs {\n lvs_sync_daemon eth1 VI_1\n}\n" + instance)
        XCTAssertNil(bare.failover.syncDaemon?.authKey, "no key: bare messages, as a kernel master sends")
        // `check` says the envelope is on, and never prints the key.
        let listing = AdmRender.check(after)
        XCTAssertTrue(listing.contains("lvs_sync_daemon eth1 VI_1 id 51 port 8848 group 224.0.0.81 ttl 1 auth hmac-sha256\n"), listing)
        XCTAssertFalse(listing.contains("0123456789abcdef"), listing)
        XCTAssertFalse(AdmRender.check(bare).contains("auth"))
    }

    func testAShortKeyIsRefusedWithItsPlace() {
        XCTAssertEqual(error("global_defs {\n lvs_sync_daemon eth1 VI_1\n switchyard_sync_auth_key \"0123456789abcde\"\n}\n" + instance),
                       "ha.conf:3:27: switchyard_sync_auth_key must be at least 16 characters, not 15; "
                           + "the same secret on both balancers, e.g. the output of `openssl rand -hex 16`")
        XCTAssertEqual(error("global_defs {\n switchyard_sync_auth_key\n}\n"),
                       "ha.conf:2:2: switchyard_sync_auth_key takes exactly one value")
        XCTAssertEqual(error("global_defs {\n switchyard_sync_auth_key 0123456789abcdef 0123456789abcdef\n}\n"),
                       "ha.conf:2:2: switchyard_sync_auth_key takes exactly one value")
    }

    func testAKeyWithoutASyncDaemonOrTwiceIsAnError() {
        XCTAssertEqual(error("global_defs {\n router_id LB_A\n switchyard_sync_auth_key \"0123456789abcdef\"\n}\n" + instance),
                       "ha.conf:3:2: switchyard_sync_auth_key without lvs_sync_daemon: the key authenticates connection sync; "
                           + "add e.g. `lvs_sync_daemon eth1 VI_1` to global_defs, or remove the key")
        XCTAssertEqual(error("global_defs {\n switchyard_sync_auth_key 0123456789abcdef\n lvs_sync_daemon eth1 VI_1\n"
                                + " switchyard_sync_auth_key fedcba9876543210\n}\n" + instance),
                       "ha.conf:4:2: switchyard_sync_auth_key is already set at line 2")
    }

    func testSyncDefaultsAgreeAcrossConfigProtocolAndSocket() {
        let config = SyncDaemonConfig(interface: "eth1", instance: "VI_1", location: SourceLocation(line: 1, column: 1))
        XCTAssertEqual(config.group, SyncProtocol.defaultGroup)
        XCTAssertEqual(config.group, SyncSocketDefaults.group)
        XCTAssertEqual(config.port, SyncProtocol.defaultPort)
        XCTAssertEqual(config.port, SyncSocketDefaults.port)
        XCTAssertEqual(config.ttl, SyncSocketDefaults.ttl)
        XCTAssertNil(config.authKey)
    }
}
