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
    let timing: CheckTiming

    /// `startUp` false for alpha services (a real server must pass once first); the first
    /// check waits `warmupDelay` (a random share of warmup, chosen by the caller).
    public init(timing: CheckTiming, startUp: Bool, start: Double, warmupDelay: Double = 0) {
        self.timing = timing
        self.up = startUp
        self.nextRun = start + warmupDelay
    }

    /// Records an attempt that finished at `time`; returns the new state if it changed.
    public mutating func record(_ result: ProbeResult, at time: Double) -> Bool? {
        if result.isUp {
            failures = 0
            nextRun = time + timing.delayLoop
            if up { return nil }
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

/// Runs the checkers: one thread per checker, each looping sleep → probe → record, and
/// reporting every change of state with its reason.
public final class HealthMonitor: @unchecked Sendable {
    /// Which real server, and which of its checkers.
    public struct Target: Hashable, Sendable {
        public var serviceID: UInt32
        public var realID: UInt32
        public var address: IPv4Address
        public var port: UInt16
    }

    public typealias Probe = @Sendable (CheckerConfig, IPv4Address, UInt16) -> ProbeResult
    public typealias Report = @Sendable (Target, Int, Bool, ProbeResult) -> Void

    let clock: any CheckClock
    let probe: Probe
    let report: Report
    private let running = Locked<[Target: (StopFlag, [OSThread])]>([:])

    public init(clock: any CheckClock = SystemCheckClock(), probe: @escaping Probe = HealthProbes.run,
                report: @escaping Report) {
        self.clock = clock
        self.probe = probe
        self.report = report
    }

    /// The loop of one checker; returns when `stop` is raised (also called directly by tests).
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

    /// Starts the checkers of a real server (replacing any it had).
    public func start(_ target: Target, checkers: [CheckerConfig], startUp: Bool) throws {
        stop(target)
        let flag = StopFlag()
        let threads = try checkers.enumerated().map { i, c in
            try OSThread(name: "sy-check") { [clock, probe, report] in
                HealthMonitor.loop(c, target: target, index: i, startUp: startUp, clock: clock, stop: flag,
                                   probe: probe, report: report)
            }
        }
        running.withLock { $0[target] = (flag, threads) }
    }

    /// Stops a real server's checkers (waits for them: at most one probe's timeout).
    public func stop(_ target: Target) {
        guard let (flag, threads) = running.withLock({ $0.removeValue(forKey: target) }) else { return }
        flag.raise()
        threads.forEach { $0.join() }
    }

    public func stopAll() {
        let all = running.withLock { r -> [(StopFlag, [OSThread])] in
            defer { r.removeAll() }
            return Array(r.values)
        }
        all.forEach { $0.0.raise() }
        all.forEach { $0.1.forEach { $0.join() } }
    }
}
