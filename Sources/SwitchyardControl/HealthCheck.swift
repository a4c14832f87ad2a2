// Checker timing and the monitor: keepalived's retry and delay rules (CheckProgress), the clock
// they run on, and HealthMonitor, the door the engine starts and stops checkers through.
import Glibc
import Synchronization
import SwitchyardCore
import SwitchyardIO

/// Time for the checkers: the monotonic clock, or a virtual one in tests (no waiting).
public protocol CheckClock: Sendable {
    /// Seconds.
    func now() -> Double
    /// Waits until `time`; false if `stop` was raised first.
    func sleep(until time: Double, stop: StopFlag) -> Bool
}

/// A flag a checker thread polls while it waits.
public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func raise() { flag.store(true, ordering: .relaxed) }
    public var isRaised: Bool { flag.load(ordering: .relaxed) }
}

/// The monotonic clock; waits in slices of at most 100 ms so a stop is noticed quickly.
public struct SystemCheckClock: CheckClock {
    public init() {}
    public func now() -> Double { HealthProbes.monotonicSeconds() }
    public func sleep(until time: Double, stop: StopFlag) -> Bool {
        while !stop.isRaised {
            let left = time - now()
            if left <= 0 { return true }
            Glibc.usleep(UInt32(min(left, 0.1) * 1_000_000))
        }
        return false
    }
}


/// One checker's state, keepalived's rules: every delay_loop a check; a failed attempt is
/// retried `retry` times, delay_before_retry apart; when every attempt failed the checker says
/// down, and the first success says up again. Pure: times come in, nothing waits here.
public struct CheckProgress: Sendable, Equatable {
    public private(set) var up: Bool
    /// Failed attempts in the current check.
    public private(set) var failures = 0
    /// When the next attempt is due.
    public private(set) var nextRun: Double
    /// The weight the last up verdict set (misc_dynamic), nil for the configured one.
    public private(set) var weight: Int?
    let timing: CheckTiming

    /// `startUp` false for alpha services (a real server must pass once first); the first
    /// check waits `warmupDelay` (a random share of warmup, chosen by the caller).
    public init(timing: CheckTiming, startUp: Bool, start: Double, warmupDelay: Double = 0) {
        self.timing = timing
        self.up = startUp
        self.nextRun = start + warmupDelay
    }

    /// Records an attempt that finished at `time`; returns the new state if it changed, or
    /// true again when an up verdict changed the weight (misc_dynamic) while up.
    public mutating func record(_ result: ProbeResult, at time: Double) -> Bool? {
        if result.isUp {
            failures = 0
            nextRun = time + timing.delayLoop
            let weightChanged = result.dynamicWeight != weight
            weight = result.dynamicWeight
            if up && !weightChanged { return nil }
            up = true
            return true
        }
        failures += 1
        if failures <= timing.retry {
            nextRun = time + timing.delayBeforeRetry
            return nil
        }
        failures = 0
        nextRun = time + timing.delayLoop
        if !up { return nil }
        up = false
        return false
    }
}

/// Runs the checkers of every real server on one event loop (CheckLoop: one thread, epoll and a
/// timer heap; MISC_CHECK's scripts watched through pidfds), reporting every change of state
/// with its reason. Reports come from the loop thread: the callback must not block for long, as every
/// checker waits while it runs.
public final class HealthMonitor: @unchecked Sendable {
    /// Which real server, and which of its checkers.
    public struct Target: Hashable, Sendable {
        public var serviceID: UInt32
        public var realID: UInt32
        public var address: IPAddressBits
        public var port: UInt16

        public init(serviceID: UInt32, realID: UInt32, address: IPAddressBits, port: UInt16) {
            (self.serviceID, self.realID, self.address, self.port) = (serviceID, realID, address, port)
        }
    }

    public typealias Probe = @Sendable (CheckerConfig, IPAddressBits, UInt16) -> ProbeResult
    public typealias Report = @Sendable (Target, Int, Bool, ProbeResult) -> Void
    /// Every finished check: the target, the checker's index, its result and how many seconds it took.
    public typealias Outcome = @Sendable (Target, Int, ProbeResult, Double) -> Void

    let clock: any CheckClock
    let probe: Probe?
    let report: Report
    let lateness: (@Sendable (Double) -> Void)?
    let outcome: Outcome?
    /// Started with the first checker, ended by stopAll.
    private let loop = Locked<CheckLoop?>(nil)

    /// `probe`, if given, replaces the built-in probes and runs (blocking) on the script pool;
    /// `lateness`, if given, hears on the loop thread how many seconds late each check started.
    /// `clock` must follow real time (the loop waits in epoll): virtual time is for
    /// CheckSchedule and `loop`, which tests drive without waiting. `outcome`, if given, hears
    /// every check's result on the loop thread, changed or not.
    public init(clock: any CheckClock = SystemCheckClock(), probe: Probe? = nil, report: @escaping Report,
                lateness: (@Sendable (Double) -> Void)? = nil, outcome: Outcome? = nil) {
        self.clock = clock
        self.probe = probe
        self.report = report
        self.lateness = lateness
        self.outcome = outcome
    }

    deinit { stopAll() }

    /// The loop of one checker on its own thread, as the checkers ran before the event loop:
    /// kept as the reference the tests hold CheckSchedule's timing to. Returns when `stop` is raised.
    public static func loop(_ checker: CheckerConfig, target: Target, index: Int, startUp: Bool, clock: any CheckClock,
                            stop: StopFlag, probe: Probe, report: Report) {
        var progress = CheckProgress(timing: checker.timing, startUp: startUp, start: clock.now(),
                                     warmupDelay: checker.timing.warmup > 0 ? Double.random(in: 0...checker.timing.warmup) : 0)
        while clock.sleep(until: progress.nextRun, stop: stop) {
            let result = probe(checker, target.address, target.port)
            if stop.isRaised { return }
            if let up = progress.record(result, at: clock.now()) { report(target, index, up, result) }
        }
    }

    /// Starts the checkers of a real server (replacing any it had). Throws if the loop's thread
    /// cannot be started.
    public func start(_ target: Target, checkers: [CheckerConfig], startUp: Bool) throws {
        stop(target)
        try loop.withLock { l in
            if l == nil { l = try CheckLoop(clock: clock, probe: probe, report: report, lateness: lateness, outcome: outcome) }
            l!.post(.start(target, checkers, startUp: startUp))
        }
    }

    /// Stops a real server's checkers; when it returns they will never report again. Waits only
    /// for the loop to take the message (a report in progress), not for probes in flight.
    public func stop(_ target: Target) {
        guard let l = loop.withLock({ $0 }) else { return }
        if l.isLoopThread { return l.stopNow(target) }
        let done = Semaphore()
        if l.post(.stop(target, done)) { done.wait() }
    }

    /// Stops every checker and the loop's threads (a later start begins a new loop).
    public func stopAll() {
        guard let l = loop.withLock({ l -> CheckLoop? in defer { l = nil }; return l }) else { return }
        precondition(!l.isLoopThread, "stopAll from a health report would wait for itself")
        l.shutdown()
    }
}
