// Sync groups in the lab: two boxes with two instances each (VRID 1 and 2) moving together to
// MASTER, to FAULT and back, following a better master down, and keepalived's refusal to move a
// group while one member still hears its master; with the times of each move.
import XCTest
@testable import SwitchyardControl
import SwitchyardCore

final class VRRPSyncGroupTests: XCTestCase {
    func members(priority: UInt8, trackOn1: String? = nil) -> [VRRPInstanceConfig] {
        var one = VRRPLab.config("VI_1", vrid: 1, priority: priority)
        if let trackOn1 { one.trackInterfaces = [.init(name: trackOn1)] }
        return [one, VRRPLab.config("VI_2", vrid: 2, priority: priority)]
    }

    func groupStates(_ lab: VRRPLab, box: String) -> [(Double, VRRPInstance.State)] {
        lab.groupLog.compactMap { entry in
            guard entry.box == box, case .transition(_, let to) = entry.action else { return nil }
            return (entry.time, to)
        }
    }

    func testTheGroupBecomesMasterTogetherAndTakesOverTogether() {
        var lab = VRRPLab()
        lab.addGroup("A", members(priority: 150))
        lab.addGroup("B", members(priority: 100))
        lab.startAll()
        lab.run(until: 1.0)
        XCTAssertEqual(lab.entered(.master, box: 0, "VI_1"), [down150])
        XCTAssertEqual(lab.entered(.master, box: 0, "VI_2"), [down150])
        XCTAssertEqual(groupStates(lab, box: "A").map(\.1), [.backup, .master])
        XCTAssertEqual(groupStates(lab, box: "A").map(\.0), [0, down150])
        XCTAssertTrue(lab.groupLog.contains { $0.box == "A" && $0.action == .notify(.master) })
        lab.kill(0)
        let last = lab.adverts(box: 0, "VI_1").last!
        lab.run(until: 3)
        XCTAssertEqual(lab.entered(.master, box: 1, "VI_1"), [last + down100])
        XCTAssertEqual(lab.entered(.master, box: 1, "VI_2"), [last + down100])
        XCTAssertEqual(lab.masters("VI_1"), ["B"])
        XCTAssertEqual(lab.masters("VI_2"), ["B"])
    }

    func testOneMemberInFaultTakesTheGroupToFaultAndRecoveryBringsItBackToBackup() {
        var lab = VRRPLab()
        lab.addGroup("A", members(priority: 150, trackOn1: "eth1"))
        lab.addGroup("B", members(priority: 100))
        lab.startAll()
        lab.run(until: 1.0)
        lab.send(.interface("eth1", up: false), to: 0)
        XCTAssertEqual(lab.state(0, "VI_1"), .fault)
        XCTAssertEqual(lab.state(0, "VI_2"), .fault)
        XCTAssertEqual(lab.adverts(box: 0, "VI_2", priority: 0), [1.0], "the dragged member also releases with priority 0")
        XCTAssertEqual(lab.actions(box: 0, "VI_2").last { if case .transition = $0.action { true } else { false } }!.action,
                       .transition(from: .master, to: .fault, cause: .syncGroup))
        lab.run(until: 2.0)
        XCTAssertEqual(lab.entered(.master, box: 1, "VI_1"), [1.0 + skew100])
        XCTAssertEqual(lab.entered(.master, box: 1, "VI_2"), [1.0 + skew100])
        lab.send(.interface("eth1", up: true), to: 0)
        XCTAssertEqual(lab.entered(.backup, box: 0, "VI_1").last, 2.0)
        XCTAssertEqual(lab.entered(.backup, box: 0, "VI_2").last, 2.0)
        XCTAssertEqual(groupStates(lab, box: "A").map(\.1), [.backup, .master, .fault, .backup])
        XCTAssertEqual(groupStates(lab, box: "A").map(\.0), [0, down150, 1.0, 2.0])
        lab.run(until: 4)
        XCTAssertEqual(lab.entered(.master, box: 0, "VI_1").last!, 2.0 + down150, accuracy: vrrpEps)
        XCTAssertEqual(lab.entered(.master, box: 0, "VI_2").last!, 2.0 + down150, accuracy: vrrpEps)
        XCTAssertEqual(lab.masters("VI_1"), ["A"])
        XCTAssertEqual(lab.masters("VI_2"), ["A"])
    }

    func testAMemberWhoseMasterVanishedWaitsWhileTheOtherStillHearsItsOwn() {
        var lab = VRRPLab()
        lab.addGroup("A", members(priority: 150))
        lab.addGroup("B", members(priority: 100))
        lab.startAll()
        lab.run(until: 1.0)
        lab.drop = { from, _, vrid, _ in from == 0 && vrid == 1 }
        let last = lab.adverts(box: 0, "VI_1").last!
        lab.run(until: 5)
        XCTAssertEqual(lab.masters("VI_1"), ["A"], "keepalived prefers BACKUP to moving a half-willing group")
        XCTAssertEqual(lab.state(1, "VI_1"), .backup)
        XCTAssertTrue(lab.instance(1, "VI_1").wantsMaster)
        let asks = lab.actions(box: 1, "VI_1").filter { $0.action == .wantsMaster }.map(\.time)
        XCTAssertEqual(asks.first!, last + down100, accuracy: vrrpEps)
        for (k, t) in asks.enumerated() { XCTAssertEqual(t, last + Double(k + 1) * down100, accuracy: 1e-6) }
    }

    func testAMemberHearingABetterMasterTakesTheGroupToBackup() {
        var lab = VRRPLab()
        lab.addGroup("A", members(priority: 150))
        lab.startAll()
        lab.run(until: 3.0)
        lab.addGroup("B", members(priority: 200))
        lab.send(.start, to: 1)
        lab.run(until: 5)
        let down200 = 0.321875
        XCTAssertEqual(lab.entered(.master, box: 1, "VI_1"), [3.0 + down200])
        XCTAssertEqual(lab.entered(.backup, box: 0, "VI_1").last, 3.0 + down200)
        XCTAssertEqual(lab.entered(.backup, box: 0, "VI_2").last, 3.0 + down200)
        // B's VI_2 asked last, so it goes master first (keepalived's order); its advert moves
        // A's VI_2, and A's group drags VI_1 along before B's VI_1 advert arrives.
        let moves = ["VI_1", "VI_2"].map { name in
            lab.actions(box: 0, name).last { if case .transition = $0.action { true } else { false } }!.action
        }
        XCTAssertEqual(moves, [.transition(from: .master, to: .backup, cause: .syncGroup),
                               .transition(from: .master, to: .backup, cause: .higherPriority(VRRPLab.address(1), 200))])
        XCTAssertEqual(groupStates(lab, box: "A").map(\.1), [.backup, .master, .backup])
        XCTAssertEqual(lab.masters("VI_1"), ["B"])
        XCTAssertEqual(lab.masters("VI_2"), ["B"])
    }

    /// The cause `name` on `box` gave when it last became master.
    func masterCause(_ lab: VRRPLab, box: Int, _ name: String) -> VRRPInstance.Cause? {
        lab.actions(box: box, name).compactMap { entry -> VRRPInstance.Cause? in
            guard case .transition(_, .master, let cause) = entry.action else { return nil }
            return cause
        }.last
    }

    // The member whose down timer moved the group names its own reason; the members the group
    // took along say so (keepalived: vrrp_sync_master moves every member but the one that asked).
    func testTheMemberThatMovesTheGroupNamesItsCauseAndTheOthersFollow() {
        var lab = VRRPLab()
        lab.addGroup("B", members(priority: 100))
        lab.startAll()
        lab.run(until: 1.0)
        // Both timers run out together; VI_2 asks last, so it is the one that moves the group.
        XCTAssertEqual(masterCause(lab, box: 0, "VI_2"), .masterDown)
        XCTAssertEqual(masterCause(lab, box: 0, "VI_1"), .syncGroup)
        lab.addGroup("A", members(priority: 150))
        lab.send(.start, to: 1)
        lab.run(until: 3.0)
        XCTAssertEqual(lab.masters("VI_1"), ["A"])
        XCTAssertEqual(lab.masters("VI_2"), ["A"])
        XCTAssertEqual(masterCause(lab, box: 1, "VI_2"), .preempted, "it preempted B, and the group with it")
        XCTAssertEqual(masterCause(lab, box: 1, "VI_1"), .syncGroup)
    }

    func testShutdownStopsEveryMemberAndTheGroup() {
        var lab = VRRPLab()
        lab.addGroup("A", members(priority: 150))
        lab.startAll()
        lab.run(until: 1)
        lab.send(.shutdown, to: 0)
        XCTAssertEqual(lab.adverts(box: 0, "VI_1", priority: 0), [1])
        XCTAssertEqual(lab.adverts(box: 0, "VI_2", priority: 0), [1])
        XCTAssertEqual(groupStates(lab, box: "A").map(\.1), [.backup, .master, .stopped])
        XCTAssertTrue(lab.groupLog.contains { $0.box == "A" && $0.action == .notify(.stopped) })
    }

    func testMembersConfiguredMasterAskAfterOneIntervalAndAGroupOfOwnersStartsMaster() {
        var lab = VRRPLab()
        lab.addGroup("A", members(priority: 150).map { var c = $0; c.initialState = .master; return c })
        var owners = VRRPLab()
        owners.addGroup("O", members(priority: 255).map { var c = $0; c.initialState = .master; return c })
        lab.startAll()
        owners.startAll()
        lab.run(until: 1)
        // keepalived: one advert interval plus the smallest skew (1 × 0.1 / 256 s, 390 µs).
        XCTAssertEqual(lab.entered(.master, box: 0, "VI_1"), [0.1 + 0.000390])
        XCTAssertEqual(lab.entered(.master, box: 0, "VI_2"), [0.1 + 0.000390])
        XCTAssertEqual(owners.entered(.master, box: 0, "VI_1"), [0])
        XCTAssertEqual(owners.entered(.master, box: 0, "VI_2"), [0])
        XCTAssertEqual(groupStates(owners, box: "O").map(\.1), [.master])
        XCTAssertEqual(groupStates(owners, box: "O").map(\.0), [0])
    }
}
