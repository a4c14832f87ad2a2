// A small fixed pool of threads for the probes that block: a probe a caller injects, and
// MISC_CHECK on a kernel without pidfd. The event loop hands them over and gets the result back
// as a message, so a slow one never holds up the other checkers.
import SwitchyardIO

final class ScriptPool: @unchecked Sendable {
    /// keepalived forks one process per MISC_CHECK; a few threads waiting on those processes
    /// are enough, and more would defeat the point of the loop.
    static let defaultSize = 4

    private let size: Int
    private let jobs = Locked<(queue: [@Sendable () -> Void], closing: Bool)>(([], false))
    private let waiting = Semaphore()
    private var threads: [OSThread] = []

    init(size: Int = ScriptPool.defaultSize) {
        self.size = size
    }

    /// Queues a job; the threads start with the first one (most daemons never need them).
    /// Called from the loop thread only.
    func submit(_ job: @escaping @Sendable () -> Void) throws {
        if threads.isEmpty {
            threads = try (0..<size).map { _ in try OSThread(name: "sy-check-pool") { [self] in work() } }
        }
        jobs.withLock { $0.queue.append(job) }
        waiting.signal()
    }

    private func work() {
        while true {
            waiting.wait()
            let job = jobs.withLock { j -> (@Sendable () -> Void)? in j.queue.isEmpty ? nil : j.queue.removeFirst() }
            guard let job else {
                if jobs.withLock({ $0.closing }) { return }
                continue
            }
            job()
        }
    }

    /// Drops queued jobs, waits for running ones (each ends within its probe's timeout) and
    /// ends the threads.
    func shutdown() {
        jobs.withLock { $0 = ([], true) }
        threads.forEach { _ in waiting.signal() }
        threads.forEach { $0.join() }
        threads = []
    }
}
