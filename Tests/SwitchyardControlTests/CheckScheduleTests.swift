// The checker event loop's pure parts on virtual time: the timer heap's order, and the schedule
// (next run after success, failure, retry; stop; the in-flight limit) held to the rules of the
// thread-per-checker loop it replaced.
import Synchronization
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class TimerHeapTests: XCTestCase {
    func testPopsInTimeOrderAndTiesInInsertionOrder() {
        var heap = TimerHeap<Int>()
        var rng = SystemRandomNumberGenerator()
        var expected: [(Double, Int)] = []
        for i in 0..<1_000 {
            let due = Double(Int.random(in: 0..<50, using: &rng))
            heap.push(due, i)
            expected.append((due, i))
        }
        expected.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        var got: [(Double, Int)] = []
        while let (due, i) = heap.pop() { got.append((due, i)) }
        XCTAssertEqual(got.map(\.0), expected.map(\.0))
        XCTAssertEqual(got.map(\.1), expected.map(\.1), "equal times leave first-in first-out")
        XCTAssertTrue(heap.isEmpty)
    }

    func testFirstIsTheEarliest() {
        var heap = TimerHeap<String>()
        heap.push(5, "b")
        heap.push(1, "a")
        heap.push(9, "c")
        XCTAssertEqual(heap.first?.payload, "a")
        XCTAssertEqual(heap.count, 3)
    }
}

final class CheckScheduleTests: XCTestCase {
    let timing = CheckTiming(delayLoop: 5, connectTimeout: 1, retry: 2, delayBeforeRetry: 1, warmup: 0)
    let target = HealthMonitor.Target(serviceID: 1, realID: 2, address: IPAddressBits(text: "127.0.0.1")!, port: 80)

    func checker(_ t: CheckTiming? = nil) -> CheckerConfig {
        CheckerConfig(kind: .tcp, timing: t ?? timing, connectIP: nil, connectPort: nil, location: SourceLocation(line: 1, column: 1))
    }

    /// The scenario of testLoopOnVirtualClock, step by step: each probe takes 1 s.
    func testNextRunAfterSuccessFailureAndRetry() {
        var s = CheckSchedule()
        let id = s.add(target, checkers: [checker()], startUp: true, now: 0)[0]
        XCTAssertEqual(s.nextDue(), 0)
        XCTAssertEqual(s.takeDue(now: 0).map(\.id), [id])
        XCTAssertNil(s.nextDue(), "a running checker has no timer")
        XCTAssertNil(s.finish(id, .up, at: 1))
        XCTAssertEqual(s.nextDue(), 6, "delay_loop after a success")
        XCTAssertTrue(s.takeDue(now: 5.9).isEmpty, "not due yet")
        XCTAssertEqual(s.takeDue(now: 6).count, 1)
        XCTAssertNil(s.finish(id, .down("refused"), at: 7))
        XCTAssertEqual(s.nextDue(), 8, "delay_before_retry after a failed attempt")
        _ = s.takeDue(now: 8)
        XCTAssertNil(s.finish(id, .down("refused"), at: 9))
        XCTAssertEqual(s.nextDue(), 10)
        _ = s.takeDue(now: 10)
        XCTAssertEqual(s.finish(id, .down("refused"), at: 11),
                       CheckSchedule.Verdict(target: target, index: 0, up: false, result: .down("refused")))
        XCTAssertEqual(s.nextDue(), 16, "back to delay_loop once declared down")
        _ = s.takeDue(now: 16)
        XCTAssertEqual(s.finish(id, .up, at: 17)?.up, true)
    }

    func testLatenessIsMeasuredFromTheDueTime() {
        var s = CheckSchedule()
        s.add(target, checkers: [checker(), checker()], startUp: true, now: 10)
        let due = s.takeDue(now: 10.25)
        XCTAssertEqual(due.map(\.due), [10, 10])
        XCTAssertEqual(due.map { $0.id }, due.map { $0.id }.sorted(), "in the order they were added")
    }

    func testWarmupDelaysTheFirstRun() {
        var s = CheckSchedule()
        var t = timing
        t.warmup = 4
        s.add(target, checkers: [checker(t)], startUp: false, now: 100, warmupDelay: { $0 / 2 })
        XCTAssertEqual(s.nextDue(), 102)
    }

    /// A stopped checker's timer and its probe's late result are dropped; a restart gets new ids.
    func testRemovedCheckersNeverRunOrReport() {
        var s = CheckSchedule()
        let first = s.add(target, checkers: [checker(), checker()], startUp: true, now: 0)
        _ = s.takeDue(now: 0, limit: 1)
        XCTAssertEqual(s.remove(target), first)
        XCTAssertNil(s.finish(first[0], .down("late"), at: 1), "the result of a probe in flight is dropped")
        XCTAssertNil(s.nextDue(), "the waiting checker's timer is stale")
        XCTAssertTrue(s.takeDue(now: 100).isEmpty)
        let again = s.add(target, checkers: [checker()], startUp: true, now: 100)
        XCTAssertTrue(Set(again).isDisjoint(with: first))
        XCTAssertEqual(s.takeDue(now: 100).map(\.id), again)
    }

    func testTakeDueHonoursTheLimit() {
        var s = CheckSchedule()
        s.add(target, checkers: Array(repeating: checker(), count: 10), startUp: true, now: 0)
        XCTAssertEqual(s.takeDue(now: 0, limit: 3).count, 3)
        XCTAssertEqual(s.takeDue(now: 0, limit: 0).count, 0)
        XCTAssertEqual(s.takeDue(now: 0).count, 7, "the rest stay due")
    }

    /// Random probe outcomes and durations: the schedule reports the same transitions at the same
    /// virtual times as HealthMonitor.loop, the thread-per-checker loop it replaced.
    func testMatchesTheThreadPerCheckerLoop() {
        for seed in 0..<20 {
            var rng = SplitMix(seed: UInt64(seed))
            let outcomes: [(ProbeResult, Double)] = (0..<60).map { _ in
                (rng.next() % 3 == 0 ? .down("x") : .up, Double(rng.next() % 4) * 0.5)
            }
            XCTAssertEqual(viaSchedule(outcomes), viaLoop(outcomes), "seed \(seed)")
        }
    }

    struct Event: Equatable {
        let time: Double
        let up: Bool
    }

    func viaLoop(_ outcomes: [(ProbeResult, Double)]) -> [Event] {
        let clock = VirtualClock()
        let stop = StopFlag()
        let script = Mutex(outcomes)
        let events = Mutex<[Event]>([])
        HealthMonitor.loop(checker(), target: target, index: 0, startUp: true, clock: clock, stop: stop,
                           probe: { _, _, _ in
                               let (result, takes) = script.withLock { $0.removeFirst() }
                               clock.advance(takes)
                               if script.withLock({ $0.isEmpty }) { stop.raise() }
                               return result
                           },
                           report: { _, _, up, _ in events.withLock { $0.append(Event(time: clock.now(), up: up)) } })
        return events.withLock { $0 }
    }

    func viaSchedule(_ outcomes: [(ProbeResult, Double)]) -> [Event] {
        var s = CheckSchedule()
        let id = s.add(target, checkers: [checker()], startUp: true, now: 0)[0]
        var events: [Event] = []
        for (i, (result, takes)) in outcomes.enumerated() {
            guard let due = s.nextDue() else { break }
            XCTAssertEqual(s.takeDue(now: due).map(\.id), [id])
            // The loop stops before recording its last probe.
            if i == outcomes.count - 1 { break }
            if let v = s.finish(id, result, at: due + takes) { events.append(Event(time: due + takes, up: v.up)) }
        }
        return events
    }
}

/// A small seeded generator, so a failing case can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
