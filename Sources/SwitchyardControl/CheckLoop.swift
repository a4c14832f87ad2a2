// The checkers' event loop: one thread with epoll and a timer heap runs every checker of the
// daemon (keepalived's design), starting each probe when CheckSchedule says it is due and
// finishing it when its socket is ready or its deadline passes. Other threads talk to it by
// messages through an eventfd, so its state needs no lock.
import Glibc
import SwitchyardIO

final class CheckLoop: @unchecked Sendable {
    enum Message {
        case start(HealthMonitor.Target, [CheckerConfig], startUp: Bool)
        /// Stop a target's checkers, then signal (the caller waits for that).
        case stop(HealthMonitor.Target, Semaphore)
        case finished(CheckerID, ProbeResult)
        case shutdown
    }

    /// A probe on a socket; `serial` tells its deadline timer from an earlier probe's.
    private struct InFlight {
        let probe: (any SocketProbe)?
        let serial: UInt64
        var fd: Int32 = -1
    }

    let clock: any CheckClock
    let blockingProbe: HealthMonitor.Probe?
    let report: HealthMonitor.Report
    /// Hears every check's result and duration (the metrics count them, the status page shows them).
    let outcome: HealthMonitor.Outcome?
    let lateness: (@Sendable (Double) -> Void)?
    /// At most this many probes at once, so a burst of due checkers cannot run the process out
    /// of file descriptors: the rest wait (and show as lateness).
    let maxInFlight: Int

    private let epfd: Int32
    private let wakefd: Int32
    private let inbox = Locked<(messages: [Message], closed: Bool)>(([], false))
    private var thread: OSThread?
    private let loopThread = Locked<pthread_t?>(nil)

    // The loop thread's own state.
    private var schedule = CheckSchedule()
    private var inFlight: [CheckerID: InFlight] = [:]
    private var deadlines = TimerHeap<(CheckerID, UInt64)>()
    private var serials: UInt64 = 0
    /// When each probe in flight started (the outcome's duration).
    private var started: [CheckerID: Double] = [:]
    private let pool = ScriptPool()
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 8)
    private static let wakeToken = UInt64.max

    init(clock: any CheckClock, probe: HealthMonitor.Probe?, report: @escaping HealthMonitor.Report,
         lateness: (@Sendable (Double) -> Void)?, outcome: HealthMonitor.Outcome? = nil) throws {
        self.clock = clock
        self.blockingProbe = probe
        self.report = report
        self.lateness = lateness
        self.outcome = outcome
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        maxInFlight = max(64, min(Int(clamping: limit.rlim_cur) / 2, 16_384))
        epfd = Epoll.create()
        guard epfd >= 0 else { throw SystemError("epoll_create1", errno: errno) }
        wakefd = Epoll.eventFD()
        // From here every field is set, so a throw runs deinit, which closes what was opened.
        guard wakefd >= 0 else { throw SystemError("eventfd", errno: errno) }
        _ = Epoll.control(epfd, Epoll.add, wakefd, events: Epoll.readable, token: Self.wakeToken)
        thread = try OSThread(name: "sy-check-loop") { [self] in run() }
    }

    deinit {
        scratch.deallocate()
        if wakefd >= 0 { close(wakefd) }
        close(epfd)
    }

    /// Whether the caller is the loop thread (a report callback): it must not wait for itself.
    var isLoopThread: Bool { loopThread.withLock { $0.map { pthread_equal($0, pthread_self()) != 0 } ?? false } }

    /// Hands a message to the loop; false once it has shut down (nothing will handle it).
    @discardableResult
    func post(_ message: Message) -> Bool {
        let accepted = inbox.withLock { box -> Bool in
            if box.closed { return false }
            box.messages.append(message)
            return true
        }
        if accepted {
            var one: UInt64 = 1
            _ = write(wakefd, &one, 8)
        }
        return accepted
    }

    /// Ends the loop after the messages before this one; returns when the thread has.
    func shutdown() {
        post(.shutdown)
        thread?.join()
        thread = nil
    }

    // MARK: the loop thread

    private func run() {
        loopThread.withLock { $0 = pthread_self() }
        let events = Epoll.Events(capacity: 512)
        defer { events.deallocate() }
        while handleMessages() {
            startDue()
            expireProbes()
            let n = events.wait(epfd, milliseconds: waitMilliseconds())
            for i in 0..<n {
                let token = events.token(i)
                if token == Self.wakeToken {
                    var count: UInt64 = 0
                    _ = read(wakefd, &count, 8)
                } else {
                    socketReady(CheckerID(token), events.events(i))
                }
            }
        }
        for (_, f) in inFlight { f.probe?.cancel() }
        inFlight.removeAll()
        schedule.removeAll()
        pool.shutdown()
    }

    /// Handles the messages waiting; false on shutdown (after acknowledging every stop, so no
    /// caller waits for ever).
    private func handleMessages() -> Bool {
        let messages = inbox.withLock { box -> [Message] in
            defer { box.messages.removeAll(keepingCapacity: true) }
            return box.messages
        }
        for (i, message) in messages.enumerated() {
            switch message {
            case .start(let target, let checkers, let startUp):
                schedule.add(target, checkers: checkers, startUp: startUp, now: clock.now())
            case .stop(let target, let done):
                stopNow(target)
                done.signal()
            case .finished(let id, let result):
                if inFlight.removeValue(forKey: id) != nil { finish(id, result) }
            case .shutdown:
                let rest = inbox.withLock { box -> [Message] in
                    box.closed = true
                    defer { box.messages.removeAll() }
                    return box.messages
                }
                for case .stop(_, let done) in messages[(i + 1)...] + rest { done.signal() }
                return false
            }
        }
        return true
    }

    /// Forgets a target's checkers and closes their sockets (on the loop thread).
    func stopNow(_ target: HealthMonitor.Target) {
        for id in schedule.remove(target) {
            started[id] = nil
            inFlight.removeValue(forKey: id)?.probe?.cancel()
        }
    }

    private func startDue() {
        let now = clock.now()
        for (id, due) in schedule.takeDue(now: now, limit: maxInFlight - inFlight.count) {
            lateness?(now - due)
            guard let checker = schedule.checkers[id] else { continue }
            serials += 1
            started[id] = now
            let target = checker.target
            if blockingProbe == nil, let probe = SocketProbes.make(checker.config, target.address, target.port) {
                inFlight[id] = InFlight(probe: probe, serial: serials)
                step(id, probe.start(now: now))
                if inFlight[id] != nil { deadlines.push(probe.deadline, (id, serials)) }
            } else {
                inFlight[id] = InFlight(probe: nil, serial: serials)
                let config = checker.config
                let run = blockingProbe ?? { c, a, p in HealthProbes.run(c, address: a, port: p) }
                do {
                    try pool.submit { [self] in post(.finished(id, run(config, target.address, target.port))) }
                } catch {
                    inFlight[id] = nil
                    finish(id, .down("\(config.kind.name): cannot start a thread to run it: \(error)"))
                }
            }
        }
    }

    /// Finishes the probes whose deadline has passed; re-arms those whose deadline moved on.
    private func expireProbes() {
        let now = clock.now()
        while let (due, (id, serial)) = deadlines.first, due <= now {
            _ = deadlines.pop()
            guard let f = inFlight[id], f.serial == serial, let probe = f.probe else { continue }
            if probe.deadline > now {
                deadlines.push(probe.deadline, (id, serial))
                continue
            }
            inFlight[id] = nil
            finish(id, probe.expired())
        }
    }

    private func socketReady(_ id: CheckerID, _ events: UInt32) {
        guard let probe = inFlight[id]?.probe else { return }
        step(id, probe.ready(events: events, now: clock.now(), scratch: scratch))
    }

    /// Acts on what a probe needs next: watch its socket, or record its result.
    private func step(_ id: CheckerID, _ next: ProbeStep) {
        switch next {
        case .done(let result):
            inFlight[id] = nil
            finish(id, result)
        case .wait(let fd, let wanted):
            // A probe that opened a new socket (HTTP_GET's next URL) closed the old one, which
            // left epoll by itself; a reused descriptor number is added afresh.
            if inFlight[id]?.fd != fd || Epoll.control(epfd, Epoll.modify, fd, events: wanted, token: id) != 0 {
                if Epoll.control(epfd, Epoll.add, fd, events: wanted, token: id) != 0 {
                    let reason = String(cString: strerror(errno))
                    inFlight.removeValue(forKey: id)?.probe?.cancel()
                    return finish(id, .down("epoll: \(reason)"))
                }
            }
            inFlight[id]?.fd = fd
        }
    }

    private func finish(_ id: CheckerID, _ result: ProbeResult) {
        let began = started.removeValue(forKey: id)
        if let outcome, let checker = schedule.checkers[id] {
            outcome(checker.target, checker.index, result, began.map { max(0, clock.now() - $0) } ?? 0)
        }
        if let v = schedule.finish(id, result, at: clock.now()) { report(v.target, v.index, v.up, v.result) }
    }

    /// Until the next checker or deadline is due (rounded up: early wake-ups would only spin).
    /// With every probe slot taken only a deadline, a socket or a message can make room.
    private func waitMilliseconds() -> Int32 {
        let due = inFlight.count >= maxInFlight ? nil : schedule.nextDue()
        guard let next = [due, deadlines.first?.due].compactMap({ $0 }).min() else { return -1 }
        return Self.milliseconds(next - clock.now())
    }

    private static func milliseconds(_ seconds: Double) -> Int32 {
        seconds <= 0 ? 0 : Int32(min((seconds * 1000).rounded(.up), 60_000))
    }
}
