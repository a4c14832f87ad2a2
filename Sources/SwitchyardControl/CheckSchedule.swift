// The checkers' schedule as pure logic: which checker runs when, and what each finished probe
// means (keepalived's rules, by CheckProgress). Times come in as numbers; nothing here waits or
// touches a socket, so tests drive it with virtual time.

/// A checker's number in the schedule: never reused, so a late timer or a late result for a
/// stopped checker finds nothing and is dropped.
typealias CheckerID = UInt64

struct CheckSchedule {
    struct Checker {
        let target: HealthMonitor.Target
        let index: Int
        let config: CheckerConfig
        var progress: CheckProgress
        /// A probe is in flight: its timer is not in the heap until it finishes.
        var running = false
    }

    /// A checker changed its verdict: what HealthMonitor reports.
    struct Verdict: Equatable {
        let target: HealthMonitor.Target
        let index: Int
        let up: Bool
        let result: ProbeResult
    }

    private(set) var checkers: [CheckerID: Checker] = [:]
    private var byTarget: [HealthMonitor.Target: [CheckerID]] = [:]
    private var timers = TimerHeap<CheckerID>()
    private var lastID: CheckerID = 0

    /// Adds a real server's checkers, the first run of each after its warmup delay (a random
    /// share of `warmup`, chosen by `warmupDelay`, as the thread-per-checker loop did).
    @discardableResult
    mutating func add(_ target: HealthMonitor.Target, checkers configs: [CheckerConfig], startUp: Bool, now: Double,
                      warmupDelay: (Double) -> Double = { $0 > 0 ? Double.random(in: 0...$0) : 0 }) -> [CheckerID] {
        let ids = configs.enumerated().map { index, config -> CheckerID in
            lastID += 1
            let progress = CheckProgress(timing: config.timing, startUp: startUp, start: now,
                                         warmupDelay: warmupDelay(config.timing.warmup))
            checkers[lastID] = Checker(target: target, index: index, config: config, progress: progress)
            timers.push(progress.nextRun, lastID)
            return lastID
        }
        byTarget[target, default: []] += ids
        return ids
    }

    /// Forgets a real server's checkers; the ids, so the caller can cancel their probes.
    @discardableResult
    mutating func remove(_ target: HealthMonitor.Target) -> [CheckerID] {
        let ids = byTarget.removeValue(forKey: target) ?? []
        for id in ids { checkers[id] = nil }
        return ids
    }

    mutating func removeAll() {
        checkers.removeAll()
        byTarget.removeAll()
        timers.removeAll()
    }

    /// When the earliest checker is due (stale timers at the head are dropped on the way).
    mutating func nextDue() -> Double? {
        while let (due, id) = timers.first {
            if stands(due, id) { return due }
            _ = timers.pop()
        }
        return nil
    }

    /// Takes up to `limit` checkers due by `now` and marks them running; each with the time it
    /// was due, so the caller can measure how late it starts.
    mutating func takeDue(now: Double, limit: Int = .max) -> [(id: CheckerID, due: Double)] {
        var due: [(id: CheckerID, due: Double)] = []
        while due.count < limit, let next = nextDue(), next <= now, let (time, id) = timers.pop() {
            checkers[id]?.running = true
            due.append((id, time))
        }
        return due
    }

    /// A probe of `id` finished at `now`: records it, schedules the next attempt, and returns
    /// the verdict if it changed. Nil too for a checker that was removed meanwhile.
    mutating func finish(_ id: CheckerID, _ result: ProbeResult, at now: Double) -> Verdict? {
        guard var checker = checkers[id], checker.running else { return nil }
        checker.running = false
        let changed = checker.progress.record(result, at: now)
        checkers[id] = checker
        timers.push(checker.progress.nextRun, id)
        return changed.map { Verdict(target: checker.target, index: checker.index, up: $0, result: result) }
    }

    /// Whether a timer entry is still the checker's next run.
    private func stands(_ due: Double, _ id: CheckerID) -> Bool {
        guard let c = checkers[id] else { return false }
        return !c.running && c.progress.nextRun == due
    }
}
