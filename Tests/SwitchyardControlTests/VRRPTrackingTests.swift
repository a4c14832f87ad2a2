// Tracked interfaces and scripts: the rise/fall counter, the effective priority (weights, clamping,
// the owner), and in the lab, weights changing an election and a weightless failure putting an
// instance in FAULT and back to BACKUP, with the times each happens.
import XCTest
@testable import SwitchyardControl
import SwitchyardCore

final class VRRPTrackingTests: XCTestCase {
    func testRiseAndFallCountLikeKeepalived() {
        var c = VRRPScriptCounter(rise: 2, fall: 3)
        XCTAssertNil(c.isOK)
        XCTAssertEqual(c.record(success: true), true, "the first result decides at once")
        XCTAssertNil(c.record(success: false))
        XCTAssertNil(c.record(success: true), "a success while falling refills the counter")
        XCTAssertNil(c.record(success: false))
        XCTAssertNil(c.record(success: false))
        XCTAssertEqual(c.record(success: false), false, "fall 3: the third failure in a row")
        XCTAssertNil(c.record(success: true))
        XCTAssertNil(c.record(success: false), "a failure while rising starts the count again")
        XCTAssertNil(c.record(success: true))
        XCTAssertEqual(c.record(success: true), true, "rise 2")
        XCTAssertEqual(c.isOK, true)

        var first = VRRPScriptCounter(rise: 5, fall: 5)
        XCTAssertEqual(first.record(success: false), false, "a first failure also decides at once")
    }

    func testEffectivePriorityAddsWeightsAndClamps() {
        var c = VRRPLab.config(priority: 100)
        c.trackInterfaces = [.init(name: "eth1", weight: 10), .init(name: "eth2", weight: -20)]
        c.trackScripts = [.init(name: "chk1"), .init(name: "chk2", weight: -50)]
        var s1 = VRRPScriptConfig(name: "chk1", location: SourceLocation(line: 1, column: 1))
        s1.weight = 30
        let s2 = VRRPScriptConfig(name: "chk2", location: SourceLocation(line: 2, column: 1))
        var t = VRRPTracking(config: c, scripts: [s1, s2])
        XCTAssertEqual(t.effectivePriority(base: 100), 110, "interfaces up; scripts not yet run count neither way")
        XCTAssertTrue(t.recordScript("chk1", success: true))
        XCTAssertEqual(t.effectivePriority(base: 100), 140, "the vrrp_script's own weight when track_script gives none")
        XCTAssertTrue(t.recordScript("chk2", success: false))
        XCTAssertEqual(t.effectivePriority(base: 100), 90)
        XCTAssertTrue(t.setInterface("eth2", up: false))
        XCTAssertFalse(t.setInterface("eth2", up: false))
        XCTAssertEqual(t.effectivePriority(base: 100), 70)
        XCTAssertTrue(t.setInterface("eth1", up: false))
        XCTAssertEqual(t.effectivePriority(base: 100), 60)
        XCTAssertEqual(t.effectivePriority(base: 10), 1, "never below 1")
        XCTAssertTrue(t.setInterface("eth1", up: true))
        XCTAssertTrue(t.recordScript("chk2", success: true))
        XCTAssertEqual(t.effectivePriority(base: 250), 254, "never 255 unless configured")
        XCTAssertEqual(t.effectivePriority(base: 255), 255, "the owner is never changed")
        XCTAssertNil(t.fault)
        XCTAssertTrue(t.setInterface("eth0", up: false))
        XCTAssertEqual(t.fault?.name, "eth0", "the instance's own interface is tracked without weight")
    }

    func testWeightsChangeTheElection() {
        var a = VRRPLab.config(priority: 100)
        a.trackScripts = [.init(name: "chk", weight: 60)]
        let chk = VRRPScriptConfig(name: "chk", location: SourceLocation(line: 1, column: 1))
        var lab = VRRPLab()
        lab.add("A", a, scripts: [chk])
        lab.add("B", VRRPLab.config(priority: 150))
        lab.send(.scriptResult("chk", success: true), to: 0)
        lab.startAll()
        lab.run(until: 1.0)
        XCTAssertEqual(lab.entered(.master, box: 0), [0.3375], "160: 0.3 + 96 × 0.1 / 256")
        lab.send(.scriptResult("chk", success: false), to: 0)
        XCTAssertEqual(lab.actions(box: 0).last!.action, .priorityChanged(from: 160, to: 100))
        XCTAssertEqual(lab.state(0), .master, "a master only advertises the new priority")
        lab.run(until: 2.0)
        let lastAt160 = lab.adverts(box: 0).last { $0 < 1.0 }!
        XCTAssertEqual(lab.entered(.master, box: 1)[0], lastAt160 + down150, accuracy: vrrpEps,
                       "B ignores the 100s and its timer from the last 160 runs out")
        XCTAssertEqual(lab.entered(.backup, box: 0).last!, lab.entered(.master, box: 1)[0])
        lab.send(.scriptResult("chk", success: true), to: 0)
        // A backup's running down timer moves by the change in its down interval (keepalived).
        let lastFromB = lab.adverts(box: 1).last!
        XCTAssertEqual(lab.instance(0).nextDeadline!, lastFromB + 0.3375, accuracy: 1e-6)
        lab.run(until: 4)
        XCTAssertEqual(lab.entered(.master, box: 0).last!, lastFromB + 0.3375, accuracy: 1e-6)
        XCTAssertEqual(lab.masters(), ["A"])
    }

    func testAWeightlessTrackFailingMeansFaultAndRecoveryMeansBackup() {
        var a = VRRPLab.config(priority: 150)
        a.trackInterfaces = [.init(name: "eth1")]
        var lab = VRRPLab()
        lab.add("A", a)
        lab.add("B", VRRPLab.config(priority: 100))
        lab.startAll()
        lab.run(until: 1.0)
        lab.send(.interface("eth1", up: false), to: 0)
        XCTAssertEqual(lab.actions(box: 0).suffix(3).map(\.action), [
            .sendAdvert(priority: 0),
            .transition(from: .master, to: .fault, cause: .trackingFailed("eth1")),
            .notify(.fault, priority: 150),
        ])
        XCTAssertNil(lab.instance(0).nextDeadline)
        lab.run(until: 2.0)
        XCTAssertEqual(lab.entered(.master, box: 1), [1.0 + skew100], "priority 0: B waits only its skew")
        XCTAssertEqual(lab.entered(.fault, box: 0), [1.0])
        lab.send(.interface("eth1", up: true), to: 0)
        XCTAssertEqual(lab.entered(.backup, box: 0).last, 2.0, "back to BACKUP, not straight to MASTER")
        XCTAssertEqual(lab.actions(box: 0).last!.action, .notify(.backup, priority: 150))
        lab.run(until: 4)
        XCTAssertEqual(lab.entered(.master, box: 0).last!, 2.0 + down150, accuracy: vrrpEps, "then preempts as usual")
        XCTAssertEqual(lab.masters(), ["A"])
    }

    func testAWeightlessScriptHoldsTheInstanceInInitUntilItsFirstResult() {
        var c = VRRPLab.config(priority: 150)
        c.trackScripts = [.init(name: "chk")]
        let chk = VRRPScriptConfig(name: "chk", location: SourceLocation(line: 1, column: 1))
        var i = VRRPInstance(config: c, scripts: [chk], localAddress: VRRPLab.address(0))
        XCTAssertEqual(i.handle(.start, at: 0), [])
        XCTAssertEqual(i.state, .initialize)
        XCTAssertNil(i.nextDeadline)
        XCTAssertEqual(i.handle(.scriptResult("chk", success: true), at: 0.5), [
            .transition(from: .initialize, to: .backup, cause: .started), .notify(.backup, priority: 150),
        ])
        XCTAssertEqual(i.nextDeadline!, 0.5 + down150, accuracy: vrrpEps)

        var failing = VRRPInstance(config: c, scripts: [chk], localAddress: VRRPLab.address(0))
        _ = failing.handle(.start, at: 0)
        XCTAssertEqual(failing.handle(.scriptResult("chk", success: false), at: 0.5), [
            .transition(from: .initialize, to: .fault, cause: .trackingFailed("chk")), .notify(.fault, priority: 150),
        ])
        XCTAssertEqual(failing.handle(.advert(ReceivedAdvert(priority: 0, maxAdvertInterval: 10, sourceAddress: VRRPLab.address(1))), at: 1), [],
                       "FAULT ignores adverts")
    }
}
