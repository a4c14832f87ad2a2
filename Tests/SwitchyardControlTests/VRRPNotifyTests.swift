// The notify command lines for VRRP transitions: the state's own script bare, the generic one with
// keepalived's four arguments (INSTANCE|GROUP, name, state, priority; 0 for a group), names quoted.
import XCTest
@testable import SwitchyardControl
import SwitchyardCore

final class VRRPNotifyTests: XCTestCase {
    func testInstanceLinesCarryKeepalivedsArguments() {
        var c = VRRPLab.config("VI_1", priority: 100)
        c.notifyMaster = "/etc/sy/master.sh"
        c.notify = "/etc/sy/notify.sh"
        XCTAssertEqual(VRRPNotify.commands(for: c, state: .master, priority: 110),
                       ["/etc/sy/master.sh", "/etc/sy/notify.sh INSTANCE VI_1 MASTER 110"])
        XCTAssertEqual(VRRPNotify.commands(for: c, state: .fault, priority: 100), ["/etc/sy/notify.sh INSTANCE VI_1 FAULT 100"])
        XCTAssertEqual(VRRPNotify.commands(for: c, state: .stopped, priority: 100), ["/etc/sy/notify.sh INSTANCE VI_1 STOP 100"])
        XCTAssertEqual(VRRPNotify.commands(for: c, state: .initialize, priority: 100), [])
        c.name = "it's web"
        XCTAssertEqual(VRRPNotify.commands(for: c, state: .backup, priority: 100),
                       ["/etc/sy/notify.sh INSTANCE 'it'\\''s web' BACKUP 100"])
    }

    func testGroupLinesSayGroupAndPriorityZero() {
        var g = VRRPSyncGroupConfig(name: "G1", location: SourceLocation(line: 1, column: 1))
        g.notifyFault = "/etc/sy/gfault.sh"
        g.notify = "/etc/sy/notify.sh"
        XCTAssertEqual(VRRPNotify.commands(for: g, state: .fault), ["/etc/sy/gfault.sh", "/etc/sy/notify.sh GROUP G1 FAULT 0"])
        XCTAssertEqual(VRRPNotify.commands(for: g, state: .master), ["/etc/sy/notify.sh GROUP G1 MASTER 0"])
    }
}
