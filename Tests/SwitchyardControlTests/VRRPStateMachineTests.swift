// The VRRP state machine against itself on a virtual clock (VRRPLab): who is master when, to the
// microsecond keepalived's timer arithmetic gives, for election, death, graceful stop, preemption
// and its settings, the owner, split brain, version 2 timing and lost adverts.
import XCTest
@testable import SwitchyardControl
import SwitchyardCore

/// Master_Down_Interval for advert_int 0.1 s, version 3 (3 × 0.1 + skew): priority 150, 100.
let down150 = 0.341406, down100 = 0.360937, skew100 = 0.060937
let vrrpEps = 1e-9

final class VRRPTimingTests: XCTestCase {
    func testSkewAndDownIntervalAreKeepalivedsIntegerMicroseconds() {
        // Version 3: (256 − p) × cs × 625 / 16 µs, truncated.
        XCTAssertEqual(VRRPTiming.skewMicroseconds(version: 3, priority: 100, masterAdvertInterval: 10), 60_937)
        XCTAssertEqual(VRRPTiming.masterDownMicroseconds(version: 3, priority: 100, masterAdvertInterval: 10), 360_937)
        XCTAssertEqual(VRRPTiming.masterDownMicroseconds(version: 3, priority: 150, masterAdvertInterval: 10), 341_406)
        XCTAssertEqual(VRRPTiming.masterDownMicroseconds(version: 3, priority: 100, masterAdvertInterval: 100), 3_609_375)
        XCTAssertEqual(VRRPTiming.skewMicroseconds(version: 3, priority: 255, masterAdvertInterval: 10), 390)
        // Version 2: (256 − p) / 256 s whatever the interval.
        XCTAssertEqual(VRRPTiming.skewMicroseconds(version: 2, priority: 100, masterAdvertInterval: 100), 609_375)
        XCTAssertEqual(VRRPTiming.skewMicroseconds(version: 2, priority: 100, masterAdvertInterval: 300), 609_375)
        XCTAssertEqual(VRRPTiming.masterDownMicroseconds(version: 2, priority: 150, masterAdvertInterval: 100), 3_414_062)
        XCTAssertEqual(VRRPTiming.minimumSkewMicroseconds(version: 3, masterAdvertInterval: 10), 390)
        XCTAssertEqual(VRRPTiming.minimumSkewMicroseconds(version: 2, masterAdvertInterval: 100), 3_906)
    }
}

final class VRRPStateMachineTests: XCTestCase {
    /// A (priority 150) and B (100), advert_int 0.1, version 3, both starting BACKUP at 0.
    func pair(aPreempt: Bool = true, aDelay: Double = 0, bPreempt: Bool = true) -> VRRPLab {
        var lab = VRRPLab()
        lab.add("A", VRRPLab.config(priority: 150, preempt: aPreempt, preemptDelay: aDelay))
        lab.add("B", VRRPLab.config(priority: 100, preempt: bPreempt))
        lab.startAll()
        return lab
    }

    func testElectionAtStartTheHigherBecomesMasterAfterItsDownInterval() {
        var lab = pair()
        XCTAssertEqual(lab.state(0), .backup)
        XCTAssertEqual(lab.instance(0).nextDeadline!, down150, accuracy: vrrpEps)
        lab.run(until: 5)
        XCTAssertEqual(lab.entered(.master, box: 0), [down150])
        XCTAssertEqual(lab.entered(.master, box: 1), [], "B hears A before its own timer (0.360937) runs out")
        XCTAssertEqual(lab.masters(), ["A"])
        XCTAssertEqual(lab.instance(1).masterAddress, VRRPLab.address(0))
        XCTAssertEqual(lab.instance(1).masterPriority, 150)
        // A advertises every 0.1 s from the moment it became master, with its priority.
        let adverts = lab.adverts(box: 0)
        XCTAssertEqual(adverts.count, 47)
        for (k, t) in adverts.enumerated() { XCTAssertEqual(t, down150 + Double(k) * 0.1, accuracy: 1e-6) }
        // B's down timer is re-armed by each advert: due 0.360937 after the last one.
        XCTAssertEqual(lab.instance(1).nextDeadline!, adverts.last! + down100, accuracy: vrrpEps)
    }

    func testMasterDeathBackupTakesOverAfterExactlyTheDownInterval() {
        var lab = pair()
        lab.run(until: 1.0)
        lab.kill(0)
        let lastAdvert = lab.adverts(box: 0).last!
        XCTAssertEqual(lastAdvert, down150 + 0.6, accuracy: 1e-6)
        lab.run(until: 3)
        XCTAssertEqual(lab.entered(.master, box: 1).count, 1)
        XCTAssertEqual(lab.entered(.master, box: 1)[0], lastAdvert + down100, accuracy: vrrpEps, "0.3 + skew after A fell silent")
        XCTAssertEqual(lab.masters(), ["B"])
        let takeover = lab.actions(box: 1).first { if case .transition(_, .master, _) = $0.action { true } else { false } }!
        XCTAssertEqual(takeover.action, .transition(from: .backup, to: .master, cause: .masterDown))
        // The new master advertises at once and sends its first gratuitous ARP burst (5, keepalived's default).
        let atTakeover = lab.actions(box: 1).filter { $0.time == takeover.time }.map(\.action)
        XCTAssertEqual(atTakeover, [.sendAdvert(priority: 100), takeover.action, .gratuitousARP(count: 5),
                                    .notify(.master, priority: 100)])
    }

    func testGracefulStopSendsPriorityZeroAndTheBackupTakesOverAfterSkewTime() {
        var lab = pair()
        lab.run(until: 1.0)
        lab.send(.shutdown, to: 0)
        XCTAssertEqual(lab.adverts(box: 0, priority: 0), [1.0])
        XCTAssertEqual(lab.state(0), .stopped)
        XCTAssertEqual(lab.actions(box: 0).last!.action, .notify(.stopped, priority: 150))
        XCTAssertEqual(lab.instance(0).nextDeadline, nil)
        lab.run(until: 3)
        XCTAssertEqual(lab.entered(.master, box: 1), [1.0 + skew100])
        let takeover = lab.actions(box: 1).first { if case .transition(_, .master, _) = $0.action { true } else { false } }!
        XCTAssertEqual(takeover.action, .transition(from: .backup, to: .master, cause: .masterReleased))
    }

    func testPreemptionWhenTheHigherReturns() {
        var lab = pair()
        lab.run(until: 1.0)
        lab.kill(0)
        lab.run(until: 3.0)
        XCTAssertEqual(lab.masters(), ["B"])
        lab.restart(0)
        lab.run(until: 6)
        // A ignores B's lower adverts; its own down timer from the restart runs out.
        XCTAssertEqual(lab.entered(.master, box: 0).last!, 3.0 + down150, accuracy: vrrpEps)
        XCTAssertEqual(lab.entered(.backup, box: 1).last!, 3.0 + down150, accuracy: vrrpEps, "B yields the moment A advertises")
        XCTAssertEqual(lab.masters(), ["A"])
        let yielded = lab.actions(box: 1).last { if case .transition(.master, .backup, _) = $0.action { true } else { false } }!
        XCTAssertEqual(yielded.action, .transition(from: .master, to: .backup, cause: .higherPriority(VRRPLab.address(0), 150)))
    }

    func testNopreemptKeepsTheCurrentMaster() {
        var lab = pair(aPreempt: false, bPreempt: false)
        lab.run(until: 1.0)
        lab.kill(0)
        lab.run(until: 3.0)
        lab.restart(0)
        lab.run(until: 20)
        XCTAssertEqual(lab.masters(), ["B"])
        XCTAssertEqual(lab.entered(.master, box: 0), [down150], "only the first election")
        XCTAssertEqual(lab.state(0), .backup)
        XCTAssertEqual(lab.instance(0).nextDeadline!, lab.adverts(box: 1).last! + down150, accuracy: vrrpEps)
        // And when B goes, A takes over as usual.
        lab.kill(1)
        let last = lab.adverts(box: 1).last!
        lab.run(until: 22)
        XCTAssertEqual(lab.entered(.master, box: 0).last!, last + down150, accuracy: vrrpEps)
    }

    func testPreemptDelayHoldsOffThenTakesOver() {
        var lab = pair(aDelay: 2)
        lab.run(until: 1.0)
        lab.kill(0)
        lab.run(until: 3.0)
        lab.restart(0)
        lab.run(until: 10)
        let bAdverts = lab.adverts(box: 1)
        let firstHeard = bAdverts.first { $0 >= 3.0 }!
        // The delay starts with the first lower advert heard; adverts before its end are accepted.
        let lastAccepted = bAdverts.last { $0 < firstHeard + 2 }!
        let aMaster = lab.entered(.master, box: 0).last!
        XCTAssertEqual(aMaster, lastAccepted + down150, accuracy: vrrpEps)
        XCTAssertGreaterThan(aMaster, 3.0 + 2 + 0.2, "not before the delay")
        XCTAssertEqual(lab.masters(), ["A"])
        // Without the delay it would have been 3.0 + down150.
        var plain = pair()
        plain.run(until: 1.0); plain.kill(0); plain.run(until: 3.0); plain.restart(0); plain.run(until: 10)
        XCTAssertEqual(plain.entered(.master, box: 0).last!, 3.0 + down150, accuracy: vrrpEps)
    }

    /// Connection sync's hold (a restarted box not caught up yet): B's lower adverts are accepted
    /// until it is released, then A preempts one down interval after the last accepted; a master
    /// that dies meanwhile is taken over as usual.
    func testPreemptionHoldWaitsForReleaseButNotForADeadMaster() {
        var lab = pair()
        lab.run(until: 1.0); lab.kill(0); lab.run(until: 3.0); lab.restart(0)
        lab.send(.preemptionHold(true), to: 0)
        XCTAssertTrue(lab.instance(0).preemptionHeld)
        lab.run(until: 6.0)
        XCTAssertEqual(lab.masters(), ["B"], "held: no preemption")
        lab.send(.preemptionHold(false), to: 0)
        lab.run(until: 10)
        let lastAccepted = lab.adverts(box: 1).last { $0 <= 6.0 }!
        XCTAssertEqual(lab.entered(.master, box: 0).last!, lastAccepted + down150, accuracy: vrrpEps)
        XCTAssertEqual(lab.masters(), ["A"])

        var dead = pair()
        dead.run(until: 1.0); dead.kill(0); dead.run(until: 3.0); dead.restart(0)
        dead.send(.preemptionHold(true), to: 0)
        dead.run(until: 4.0)
        dead.kill(1)
        let lastB = dead.adverts(box: 1).last!
        dead.run(until: 6.0)
        XCTAssertEqual(dead.entered(.master, box: 0).last!, lastB + down150, accuracy: vrrpEps, "a dead master is no preemption")
    }

    func testPriority255OwnerConfiguredMasterTakesOverAtOnce() {
        var lab = VRRPLab()
        lab.add("owner", VRRPLab.config(priority: 255, state: .master))
        lab.add("B", VRRPLab.config(priority: 100))
        lab.startAll()
        XCTAssertEqual(lab.entered(.master, box: 0), [0])
        XCTAssertEqual(lab.actions(box: 0)[0].action, .sendAdvert(priority: 255))
        XCTAssertEqual(lab.actions(box: 0)[1].action, .transition(from: .initialize, to: .master, cause: .addressOwner))
        lab.run(until: 2)
        XCTAssertEqual(lab.masters(), ["owner"])
        // Owner restarting while B is master: master again at the instant it starts.
        lab.kill(0)
        lab.run(until: 4)
        XCTAssertEqual(lab.masters(), ["B"])
        lab.run(until: 4.05)
        lab.restart(0)
        XCTAssertEqual(lab.entered(.master, box: 0).last, 4.05)
        XCTAssertEqual(lab.entered(.backup, box: 1).last, 4.05)
        XCTAssertEqual(lab.masters(), ["owner"])
    }

    func testStateMasterWithoutOwnershipStartsBackupWithTheFullDownInterval() {
        // keepalived's vrrp_init_state: outside a sync group, `state MASTER` below 255 changes nothing.
        var lab = VRRPLab()
        lab.add("A", VRRPLab.config(priority: 150, state: .master))
        lab.startAll()
        XCTAssertEqual(lab.actions(box: 0).first!.action, .transition(from: .initialize, to: .backup, cause: .started))
        lab.run(until: 1)
        XCTAssertEqual(lab.entered(.master, box: 0), [down150])
    }

    func testSplitBrainHealsToOneMaster() {
        var lab = pair()
        lab.run(until: 1.0)
        lab.cut = [[0, 1]]
        let lastHeard = lab.adverts(box: 0).last!
        lab.run(until: 3.0)
        XCTAssertEqual(lab.entered(.master, box: 1), [lastHeard + down100])
        XCTAssertEqual(lab.masters(), ["A", "B"])
        lab.cut = []
        lab.run(until: 5)
        let firstAfterHeal = (lab.adverts(box: 0) + lab.adverts(box: 1)).filter { $0 > 3.0 }.min()!
        XCTAssertEqual(lab.entered(.backup, box: 1).last!, firstAfterHeal, accuracy: vrrpEps,
                       "the first advert across the healed link ends it")
        XCTAssertEqual(lab.masters(), ["A"])
        XCTAssertEqual(lab.entered(.backup, box: 0), [0], "A never stepped down")
    }

    func testSplitBrainWithEqualPrioritiesTheHigherAddressStays() {
        var lab = VRRPLab()
        lab.add("low", VRRPLab.config(priority: 100))
        lab.add("high", VRRPLab.config(priority: 100))
        lab.cut = [[0, 1]]
        lab.startAll()
        lab.run(until: 1)
        XCTAssertEqual(lab.entered(.master, box: 0), [down100])
        XCTAssertEqual(lab.entered(.master, box: 1), [down100])
        lab.cut = []
        lab.run(until: 3)
        XCTAssertEqual(lab.masters(), ["high"])
        XCTAssertEqual(lab.entered(.backup, box: 0).last!, down100 + 0.7, accuracy: 1e-6,
                       "at the first advert after the heal (both advertise at 0.360937 + k × 0.1)")
        XCTAssertEqual(lab.entered(.master, box: 1), [down100])
        XCTAssertTrue(lab.actions(box: 1).contains { $0.action == .heardLowerPriority(VRRPLab.address(0), priority: 100, answered: true) },
                      "high says it heard the other master and answered")
    }

    func testVersion3BackupAdoptsTheMastersAdvertisedInterval() {
        var lab = VRRPLab()
        lab.add("A", VRRPLab.config(priority: 150, advert: 10))
        lab.add("B", VRRPLab.config(priority: 100, advert: 100))
        lab.startAll()
        lab.run(until: 1)
        XCTAssertEqual(lab.instance(1).masterAdvertInterval, 10)
        lab.kill(0)
        let last = lab.adverts(box: 0).last!
        lab.run(until: 5)
        XCTAssertEqual(lab.entered(.master, box: 1), [last + down100], "0.360937, not B's own 3.609375")
        XCTAssertEqual(lab.instance(1).masterAdvertInterval, 100, "its own again as master")
    }

    // A version 3 advert saying Max Adver Int 0 (a broken or hostile peer): adopted, it would
    // make Master_Down_Interval 3 × 0 + a skew of 0, and the backup would take over at once on
    // every advert. It is not adopted: the backup keeps the interval it had.
    func testVersion3IntervalZeroIsNotAdopted() {
        var b = VRRPInstance(config: VRRPLab.config(priority: 100, advert: 100), localAddress: VRRPLab.address(1))
        _ = b.handle(.start, at: 0)
        let zero = VRRPInstance.Event.advert(ReceivedAdvert(priority: 150, maxAdvertInterval: 0, sourceAddress: VRRPLab.address(0)))
        XCTAssertEqual(b.handle(zero, at: 1), [])
        XCTAssertEqual(b.masterAdvertInterval, 100)
        XCTAssertEqual(b.nextDeadline!, 1 + 3.609375, accuracy: vrrpEps, "its own 3 × 1 s + skew, not 0")
        // Having followed a 0.1 s master, a 0 from it keeps the 0.1 s.
        let fast = VRRPInstance.Event.advert(ReceivedAdvert(priority: 150, maxAdvertInterval: 10, sourceAddress: VRRPLab.address(0)))
        _ = b.handle(fast, at: 2)
        _ = b.handle(zero, at: 2.1)
        XCTAssertEqual(b.masterAdvertInterval, 10)
        XCTAssertEqual(b.nextDeadline!, 2.1 + down100, accuracy: vrrpEps)
        // A master yielding to a higher one does not take its 0 either.
        var m = VRRPInstance(config: VRRPLab.config(priority: 255, advert: 100, state: .master), localAddress: VRRPLab.address(1))
        _ = m.handle(.start, at: 0)
        let higher = VRRPInstance.Event.advert(ReceivedAdvert(priority: 255, maxAdvertInterval: 0, sourceAddress: VRRPLab.address(2)))
        _ = m.handle(higher, at: 1)
        XCTAssertEqual(m.state, .backup)
        XCTAssertEqual(m.masterAdvertInterval, 100)
        XCTAssertEqual(m.nextDeadline!, 1 + 3.003906, accuracy: 1e-6)
    }

    func testVersion2CountsSkewInWholeSecondsAndDropsMismatchedIntervals() {
        var lab = VRRPLab()
        lab.add("A", VRRPLab.config(priority: 150, advert: 100, version: 2))
        lab.add("B", VRRPLab.config(priority: 100, advert: 100, version: 2))
        lab.startAll()
        lab.run(until: 10)
        XCTAssertEqual(lab.entered(.master, box: 0), [3.414062])
        lab.kill(0)
        let last = lab.adverts(box: 0).last!
        lab.run(until: 20)
        XCTAssertEqual(lab.entered(.master, box: 1), [last + 3.609375])
        // An advert with another interval is dropped (RFC 3768 section 7.1), so it does not hold B back.
        var b = VRRPInstance(config: VRRPLab.config(priority: 100, advert: 100, version: 2), localAddress: VRRPLab.address(1))
        _ = b.handle(.start, at: 0)
        _ = b.handle(.advert(ReceivedAdvert(priority: 200, maxAdvertInterval: 200, sourceAddress: VRRPLab.address(0))), at: 1)
        XCTAssertEqual(b.nextDeadline!, 3.609375, accuracy: vrrpEps)
    }

    func testLostAdvertsTwoInARowAreToleratedThreeAreNot() {
        var lab = pair()
        // Lose A's adverts sent in [1.0, 1.2): two (1.041406, 1.141406); B's timer (0.360937) survives.
        lab.drop = { from, _, _, t in from == 0 && t >= 1.0 && t < 1.2 }
        lab.run(until: 3)
        XCTAssertEqual(lab.masters(), ["A"])
        XCTAssertEqual(lab.entered(.master, box: 1), [])
        // Then four in [4.0, 4.35): B takes over 0.360937 after the last one it heard.
        lab.drop = { from, _, _, t in from == 0 && t >= 4.0 && t < 4.35 }
        lab.run(until: 5)
        let lastHeard = lab.adverts(box: 0).last { $0 < 4.0 }!
        XCTAssertEqual(lab.entered(.master, box: 1).count, 1)
        XCTAssertEqual(lab.entered(.master, box: 1)[0], lastHeard + down100, accuracy: vrrpEps)
        // B then advertises; A (higher) hears it, answers at once, and B yields at that instant.
        XCTAssertEqual(lab.entered(.backup, box: 1).last!, lab.adverts(box: 0).first { $0 >= 4.35 }!, accuracy: vrrpEps)
        XCTAssertEqual(lab.masters(), ["A"])
    }

    func testMasterAnswersALowerAdvertAtOnceUnlessLowerPriorityNoAdvert() {
        let lower = VRRPInstance.Event.advert(ReceivedAdvert(priority: 50, maxAdvertInterval: 10, sourceAddress: VRRPLab.address(1)))
        var m = VRRPInstance(config: VRRPLab.config(priority: 255, state: .master), localAddress: VRRPLab.address(0))
        _ = m.handle(.start, at: 0)
        XCTAssertEqual(m.handle(lower, at: 0.05), [.heardLowerPriority(VRRPLab.address(1), priority: 50, answered: true),
                                                   .sendAdvert(priority: 255)], "said (for the log), then answered")
        XCTAssertEqual(m.nextDeadline!, 0.15, accuracy: vrrpEps, "the advert timer restarts from the answer")
        var options = VRRPInstance.Options()
        options.lowerPriorityNoAdvert = true
        var quiet = VRRPInstance(config: VRRPLab.config(priority: 255, state: .master), localAddress: VRRPLab.address(0),
                                 options: options)
        _ = quiet.handle(.start, at: 0)
        XCTAssertEqual(quiet.handle(lower, at: 0.05), [.heardLowerPriority(VRRPLab.address(1), priority: 50, answered: false)])
        XCTAssertEqual(quiet.nextDeadline!, 0.1, accuracy: vrrpEps)
        // Priority 0 from another router is always answered (RFC 5798 section 6.4.3).
        let zero = VRRPInstance.Event.advert(ReceivedAdvert(priority: 0, maxAdvertInterval: 10, sourceAddress: VRRPLab.address(1)))
        XCTAssertEqual(quiet.handle(zero, at: 0.07), [.sendAdvert(priority: 255)])
    }

    func testGratuitousARPScheduleWhileMaster() {
        var c = VRRPLab.config(priority: 255, state: .master)
        c.garpMasterDelay = 5
        c.garpMasterRepeat = 3
        c.garpMasterRefresh = 10
        c.garpMasterRefreshRepeat = 2
        var lab = VRRPLab()
        lab.add("A", c)
        lab.startAll()
        lab.run(until: 36)
        let bursts = lab.actions(box: 0).compactMap { entry -> [Double]? in
            if case .gratuitousARP(let n) = entry.action { return [entry.time, Double(n)] } else { return nil }
        }
        XCTAssertEqual(bursts, [[0, 3], [5, 3], [15, 2], [25, 2], [35, 2]])
        lab.send(.shutdown, to: 0)
        XCTAssertEqual(lab.instance(0).nextDeadline, nil, "no more bursts once not master")
    }

    func testThreeRoutersTheNextBestTakesOverEachTime() {
        var lab = VRRPLab()
        lab.add("A", VRRPLab.config(priority: 150))
        lab.add("B", VRRPLab.config(priority: 120))
        lab.add("C", VRRPLab.config(priority: 100))
        lab.startAll()
        lab.run(until: 1.0)
        lab.kill(0)
        let lastA = lab.adverts(box: 0).last!
        lab.run(until: 2.0)
        // 120: 0.3 + 136 × 0.1 / 256 = 0.353125, before C's 0.360937.
        XCTAssertEqual(lab.entered(.master, box: 1), [lastA + 0.353125])
        XCTAssertEqual(lab.entered(.master, box: 2), [])
        lab.kill(1)
        let lastB = lab.adverts(box: 1).last!
        lab.run(until: 3.0)
        XCTAssertEqual(lab.entered(.master, box: 2), [lastB + down100])
        lab.restart(0)
        lab.run(until: 4.0)
        XCTAssertEqual(lab.entered(.master, box: 0).last!, 3.0 + down150, accuracy: vrrpEps)
        XCTAssertEqual(lab.entered(.backup, box: 2).last!, 3.0 + down150, accuracy: vrrpEps)
        XCTAssertEqual(lab.masters(), ["A"])
    }

    func testHigherPrioritySendAdvertAnswersBeforeYieldingAndEarlyTimersDoNothing() {
        var options = VRRPInstance.Options()
        options.higherPrioritySendAdvert = true
        var m = VRRPInstance(config: VRRPLab.config(priority: 100), localAddress: VRRPLab.address(0), options: options)
        _ = m.handle(.start, at: 0)
        XCTAssertEqual(m.handle(.timer, at: 0.2), [], "before the deadline a timer event changes nothing")
        XCTAssertEqual(m.nextDeadline!, down100, accuracy: vrrpEps)
        _ = m.handle(.timer, at: down100)
        XCTAssertEqual(m.state, .master)
        let higher = ReceivedAdvert(priority: 150, maxAdvertInterval: 10, sourceAddress: VRRPLab.address(1))
        XCTAssertEqual(m.handle(.advert(higher), at: 0.4), [
            .sendAdvert(priority: 100),
            .transition(from: .master, to: .backup, cause: .higherPriority(VRRPLab.address(1), 150)),
            .notify(.backup, priority: 100),
        ])
        XCTAssertEqual(m.nextDeadline!, 0.4 + down100, accuracy: vrrpEps)
        XCTAssertEqual(m.handle(.shutdown, at: 0.5), [.transition(from: .backup, to: .stopped, cause: .shutdown),
                                                       .notify(.stopped, priority: 100)], "a backup sends no priority 0")
        XCTAssertEqual(m.handle(.start, at: 0.6), [], "a stopped machine stays stopped")
        XCTAssertEqual(m.handle(.advert(higher), at: 0.7), [])
        XCTAssertNil(m.nextDeadline)
    }
}
