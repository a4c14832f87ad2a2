// Notify scripts as keepalived's notify_script_init reads them: the script (quoted if it has
// arguments), then maybe the user and group it runs as, for notify_up/down, quorum_up/down and
// the VRRP notify scripts alike; the generic VRRP `notify` keeps its user with its arguments.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class NotifyScriptTests: XCTestCase {
    func parse(_ text: String) throws -> Config { try Config.parse(text, path: "n.conf") }

    func testUserAndGroupFollowTheScript() throws {
        let c = try parse("""
            virtual_server 198.18.0.1 80 {
                lb_kind DR
                quorum_up "/usr/bin/page up" daemon
                quorum_down /usr/bin/page-down
                real_server 198.18.0.2 80 {
                    notify_up "/usr/bin/tell up" nobody nogroup
                }
            }
            vrrp_instance VI_1 {
                interface eth0
                virtual_router_id 7
                priority 100
                virtual_ipaddress { 198.18.0.1 }
                notify_master "/usr/bin/ha master" nobody
                notify /usr/bin/ha-all daemon daemon
            }
            """)
        let s = c.services[0]
        XCTAssertEqual(s.quorumUp, ScriptUse(command: "/usr/bin/page up", user: "daemon"))
        XCTAssertEqual(s.quorumDown, ScriptUse(command: "/usr/bin/page-down"))
        XCTAssertEqual(s.reals[0].notifyUp, ScriptUse(command: "/usr/bin/tell up", user: "nobody", group: "nogroup"))
        let i = c.failover.instances[0]
        XCTAssertEqual(i.notifyMaster, ScriptUse(command: "/usr/bin/ha master", user: "nobody"))
        XCTAssertEqual(VRRPNotify.commands(for: i, state: .master, priority: 100), [
            ScriptUse(command: "/usr/bin/ha master", user: "nobody"),
            ScriptUse(command: "/usr/bin/ha-all INSTANCE VI_1 MASTER 100", user: "daemon", group: "daemon"),
        ])
        XCTAssertTrue(c.scriptUses.contains(ScriptUse(command: "/usr/bin/tell up", user: "nobody", group: "nogroup")))
    }

    func testMoreThanUserAndGroupIsRefused() {
        let text = "virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 {\n"
            + "  notify_up /usr/bin/tell up nobody nogroup\n }\n}\n"
        XCTAssertThrowsError(try parse(text)) { e in
            XCTAssertEqual((e as? ConfigDiagnostic)?.description,
                           "n.conf:4:37: notify_up takes a script, quoted if it has arguments, then maybe a user and a group: "
                           + "notify_up \"/path/to/script args\" [USER [GROUP]]")
        }
    }
}
