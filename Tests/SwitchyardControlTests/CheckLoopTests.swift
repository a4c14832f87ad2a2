// HealthMonitor on its event loop against sockets on 127.0.0.1: up, refused, an HTTP server that
// never answers, MISC_CHECK on the script pool, stop semantics and the thread count. Timeouts
// are generous; no test depends on the machine's speed beyond them.
import Glibc
import Synchronization
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

final class CheckLoopTests: XCTestCase {
    /// Reports as they arrive, with a way to wait for them.
    final class Reports: @unchecked Sendable {
        let all = Locked<[(HealthMonitor.Target, Int, Bool, ProbeResult)]>([])
        var count: Int { all.withLock { $0.count } }

        func add(_ t: HealthMonitor.Target, _ i: Int, _ up: Bool, _ r: ProbeResult) { all.withLock { $0.append((t, i, up, r)) } }

        /// Waits up to `seconds` for `n` reports.
        func wait(for n: Int, seconds: Double = 10) -> [(HealthMonitor.Target, Int, Bool, ProbeResult)] {
            let end = HealthProbes.monotonicSeconds() + seconds
            while count < n && HealthProbes.monotonicSeconds() < end { usleep(10_000) }
            return all.withLock { $0 }
        }
    }

    func target(_ port: UInt16, real: UInt32 = 1) -> HealthMonitor.Target {
        HealthMonitor.Target(serviceID: 1, realID: real, address: loopback, port: port)
    }

    func checker(_ kind: CheckKind, delay: Double = 0.2, timeout: Double = 1, retry: Int = 0) -> CheckerConfig {
        CheckerConfig(kind: kind, timing: CheckTiming(delayLoop: delay, connectTimeout: timeout, retry: retry, delayBeforeRetry: 0.1),
                      connectIP: nil, connectPort: nil, location: SourceLocation(line: 1, column: 1))
    }

    /// A listening socket that never accepts: the kernel completes up to `backlog` connections
    /// on its own, and nobody ever answers on them.
    func silentListener(backlog: Int32 = 16) -> (Int32, UInt16) {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(s, backlog)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &length) } }
        return (s, UInt16(bigEndian: sin.sin_port))
    }

    /// A port nothing listens on (bound, then closed).
    func closedPort() throws -> UInt16 {
        let l = try LocalListener()
        l.close()
        return l.port
    }

    func testListeningPortIsUpAndClosedPortIsDown() throws {
        let listener = try LocalListener()
        defer { listener.close() }
        let reports = Reports()
        let monitor = HealthMonitor(report: reports.add)
        defer { monitor.stopAll() }
        let down = try closedPort()
        try monitor.start(target(listener.port, real: 1), checkers: [checker(.tcp)], startUp: false)
        try monitor.start(target(down, real: 2), checkers: [checker(.tcp)], startUp: true)
        let got = reports.wait(for: 2)
        XCTAssertEqual(got.count, 2)
        let up = got.first { $0.0.realID == 1 }
        XCTAssertEqual(up?.2, true)
        XCTAssertEqual(up?.3, .up)
        guard let refused = got.first(where: { $0.0.realID == 2 }), case .down(let why) = refused.3 else {
            return XCTFail("the closed port was not reported down")
        }
        XCTAssertFalse(refused.2)
        XCTAssertTrue(why.contains("Connection refused"), why)
    }

    /// `outcome` hears every check, with its target, checker and duration, not only the changes
    /// `report` hears: an up server checked every 0.1 s reports once and is counted each time.
    func testOutcomeHearsEveryCheck() throws {
        let listener = try LocalListener()
        defer { listener.close() }
        let reports = Reports()
        let counted = Atomic<Int>(0)
        let slow = Atomic<Int>(0)
        let port = listener.port
        let monitor = HealthMonitor(report: reports.add, outcome: { target, index, result, seconds in
            guard target.port == port, index == 0 else { return }
            if result.isUp { counted.add(1, ordering: .relaxed) }
            // A connect on loopback: well under the checker's timeout, and never negative.
            if !(0..<3).contains(seconds) { slow.add(1, ordering: .relaxed) }
        })
        defer { monitor.stopAll() }
        try monitor.start(target(listener.port), checkers: [checker(.tcp, delay: 0.1)], startUp: false)
        let end = HealthProbes.monotonicSeconds() + 10
        while counted.load(ordering: .relaxed) < 4 && HealthProbes.monotonicSeconds() < end { usleep(10_000) }
        XCTAssertGreaterThanOrEqual(counted.load(ordering: .relaxed), 4)
        XCTAssertEqual(slow.load(ordering: .relaxed), 0, "each check's duration is from its start to its result")
        XCTAssertEqual(reports.count, 1, "one change (down to up), four checks or more")
    }

    /// A server that takes the connection (the kernel completes it in the backlog) but never
    /// answers: HTTP_GET says down once connect_timeout has passed, not before.
    func testHTTPServerThatNeverAnswersIsDownAfterTheTimeout() throws {
        let (s, port) = silentListener()
        defer { close(s) }
        let reports = Reports()
        let monitor = HealthMonitor(report: reports.add)
        defer { monitor.stopAll() }
        let started = HealthProbes.monotonicSeconds()
        try monitor.start(target(port), checkers: [checker(.http(urls: [URLCheck()], virtualHost: nil), timeout: 0.5)],
                          startUp: true)
        let got = reports.wait(for: 1)
        XCTAssertEqual(got.first?.2, false)
        XCTAssertEqual(got.first?.3, .down("HTTP_GET /: no complete answer within 0.5 s"))
        XCTAssertGreaterThanOrEqual(HealthProbes.monotonicSeconds() - started, 0.5)
    }

    func testHTTPStatusAndDigestThroughTheLoop() throws {
        let ok = try LocalListener(body: "fine")
        defer { ok.close() }
        let wrong = try LocalListener(status: 503)
        defer { wrong.close() }
        let reports = Reports()
        let monitor = HealthMonitor(report: reports.add)
        defer { monitor.stopAll() }
        let digest = MD5.hex(Array("fine".utf8))
        let urls = [URLCheck(path: "/a", digest: digest), URLCheck(path: "/b", regex: "^fi")]
        try monitor.start(target(ok.port, real: 1), checkers: [checker(.http(urls: urls, virtualHost: "example"))], startUp: false)
        try monitor.start(target(wrong.port, real: 2), checkers: [checker(.http(urls: [URLCheck()], virtualHost: nil))], startUp: true)
        let got = reports.wait(for: 2)
        XCTAssertEqual(got.first { $0.0.realID == 1 }?.3, .up, "both URLs answer as expected")
        XCTAssertEqual(got.first { $0.0.realID == 2 }?.3, .down("HTTP_GET /: status 503, expected 200-299"))
    }

    func testMiscCheckHonoursItsTimeout() throws {
        let reports = Reports()
        let monitor = HealthMonitor(report: reports.add)
        defer { monitor.stopAll() }
        try monitor.start(target(1, real: 1), checkers: [checker(.misc(path: "exit 0", timeout: nil))], startUp: false)
        try monitor.start(target(1, real: 2), checkers: [checker(.misc(path: "sleep 5", timeout: 0.3))], startUp: true)
        let got = reports.wait(for: 2)
        XCTAssertEqual(got.first { $0.0.realID == 1 }?.2, true)
        XCTAssertEqual(got.first { $0.0.realID == 2 }?.3, .down("MISC_CHECK sleep 5: still running after 0.3 s, killed"))
    }

    /// Slow scripts run side by side, each on its own process, not queued behind one another.
    func testManySlowScriptsRunAtOnce() throws {
        let reports = Reports()
        let monitor = HealthMonitor(report: reports.add)
        defer { monitor.stopAll() }
        let started = HealthProbes.monotonicSeconds()
        for i in 0..<16 {
            try monitor.start(target(1, real: UInt32(i)), checkers: [checker(.misc(path: "sleep 1", timeout: 10), delay: 60)],
                              startUp: false)
        }
        let got = reports.wait(for: 16, seconds: 20)
        XCTAssertEqual(got.count, 16)
        XCTAssertTrue(got.allSatisfy { $0.2 })
        // Sixteen one-second scripts queued four at a time would take four seconds.
        XCTAssertLessThan(HealthProbes.monotonicSeconds() - started, 3.5)
    }

    /// Stopping a checker whose script is running kills the script at once, with what it started
    /// (its process group, as keepalived does): here a shell the script runs, which sleeps.
    func testStopKillsARunningScript() throws {
        let reports = Reports()
        let monitor = HealthMonitor(report: reports.add)
        defer { monitor.stopAll() }
        let t = target(1)
        let pidFile = "/tmp/switchyard-misc-\(getpid()).pid"
        defer { unlink(pidFile) }
        unlink(pidFile)
        try monitor.start(t, checkers: [checker(.misc(path: "sh -c 'echo $$ > \(pidFile); exec sleep 30'", timeout: 60))],
                          startUp: true)
        var pid: pid_t = 0
        for _ in 0..<100 where pid == 0 {
            usleep(20_000)
            pid = readSmallFile(pidFile).flatMap { pid_t($0.filter(\.isNumber)) } ?? 0
        }
        XCTAssertGreaterThan(pid, 0, "the script started")
        XCTAssertEqual(kill(pid, 0), 0, "and is running")
        let started = HealthProbes.monotonicSeconds()
        monitor.stop(t)
        XCTAssertLessThan(HealthProbes.monotonicSeconds() - started, 2)
        // Gone: no such process, or a zombie waiting for whoever inherited it (not us).
        func alive() -> Bool {
            guard kill(pid, 0) == 0, let stat = readSmallFile("/proc/\(pid)/stat"),
                  let close = stat.lastIndex(of: ")") else { return false }
            return stat[stat.index(close, offsetBy: 2)] != "Z"
        }
        var gone = false
        for _ in 0..<100 where !gone {
            gone = !alive()
            if !gone { usleep(20_000) }
        }
        XCTAssertTrue(gone, "the script's own child (pid \(pid)) was killed with it")
        XCTAssertEqual(reports.count, 0)
    }

    /// PING_CHECK on the loop (a raw socket: root only).
    func testPingLoopbackIsUp() throws {
        guard getuid() == 0 else { throw XCTSkip("PING_CHECK needs a raw socket") }
        let reports = Reports()
        let monitor = HealthMonitor(report: reports.add)
        defer { monitor.stopAll() }
        try monitor.start(target(0), checkers: [checker(.ping), checker(.ping)], startUp: false)
        let got = reports.wait(for: 2)
        XCTAssertEqual(got.map(\.2), [true, true], "both, though they share the loop's one thread")
    }

    /// Checkers flapping every 10 ms: once stop returns, not one more report. (Seven of them share
    /// one counter: an odd number, so each sees the opposite of what it saw last round.)
    func testNoReportAfterStopReturns() throws {
        let flip = Atomic<Int>(0)
        let reports = Reports()
        let stopped = Atomic<Bool>(false)
        let late = Atomic<Int>(0)
        let monitor = HealthMonitor(probe: { _, _, _ in flip.add(1, ordering: .relaxed).newValue % 2 == 0 ? .up : .down("x") },
                                    report: { t, i, up, r in
                                        if stopped.load(ordering: .relaxed) { late.add(1, ordering: .relaxed) }
                                        reports.add(t, i, up, r)
                                    })
        defer { monitor.stopAll() }
        let t = target(1)
        try monitor.start(t, checkers: Array(repeating: checker(.tcp, delay: 0.01), count: 7), startUp: true)
        _ = reports.wait(for: 20)
        monitor.stop(t)
        stopped.store(true, ordering: .relaxed)
        let before = reports.count
        usleep(300_000)
        XCTAssertGreaterThanOrEqual(before, 20)
        XCTAssertEqual(reports.count, before)
        XCTAssertEqual(late.load(ordering: .relaxed), 0)
    }

    /// A report callback may stop its own target (it runs on the loop thread: no waiting on
    /// itself), and start another: checkers flapping every 10 ms stop at their first report, and
    /// the target started from the callback reports in turn.
    func testStopAndStartFromTheReportCallback() throws {
        let flip = Atomic<Int>(0)
        let reports = Reports()
        let box = Locked<HealthMonitor?>(nil)
        let second = target(2, real: 2)
        let secondChecker = checker(.tcp, delay: 0.01)
        let monitor = HealthMonitor(probe: { _, _, _ in flip.add(1, ordering: .relaxed).newValue % 2 == 0 ? .up : .down("x") },
                                    report: { t, i, up, r in
                                        reports.add(t, i, up, r)
                                        guard let m = box.withLock({ $0 }) else { return }
                                        m.stop(t)
                                        if t != second { try? m.start(second, checkers: [secondChecker], startUp: true) }
                                    })
        box.withLock { $0 = monitor }
        defer { box.withLock { $0 = nil }; monitor.stopAll() }
        try monitor.start(target(1), checkers: Array(repeating: checker(.tcp, delay: 0.01), count: 3), startUp: true)
        let got = reports.wait(for: 2, seconds: 5)
        XCTAssertEqual(got.count, 2)
        XCTAssertEqual(got.map(\.0.realID), [target(1).realID, second.realID], "the first, then the one it started")
        usleep(300_000)
        XCTAssertEqual(reports.count, 2, "both stopped themselves: not one report more, though their probes flap")
    }

    /// Hundreds of checkers cost the loop's one thread, not a thread each.
    func testThreadsDoNotGrowWithCheckers() throws {
        // One round of 500 connections fits the backlog: no SYN is dropped, none times out.
        let (listener, port) = silentListener(backlog: 1024)
        defer { close(listener) }
        let before = Self.threads()
        let reports = Reports()
        let monitor = HealthMonitor(report: reports.add)
        defer { monitor.stopAll() }
        for i in 0..<500 {
            try monitor.start(target(port, real: UInt32(i)), checkers: [checker(.tcp, delay: 60)], startUp: false)
        }
        let got = reports.wait(for: 500, seconds: 30)
        XCTAssertEqual(got.count, 500)
        XCTAssertTrue(got.allSatisfy { $0.2 }, "every one up")
        XCTAssertLessThanOrEqual(Self.threads() - before, 2)
        monitor.stopAll()
        // pthread_join returns when the kernel clears the thread's id, a moment before it takes
        // the thread's /proc/self/task entry away: give the entry up to a second to go.
        var after = Self.threads()
        for _ in 0..<50 where after > before {
            usleep(20_000)
            after = Self.threads()
        }
        XCTAssertEqual(after, before, "stopAll ends the loop's thread")
    }

    static func threads() -> Int {
        guard let d = opendir("/proc/self/task") else { return -1 }
        defer { closedir(d) }
        var n = 0
        while let e = readdir(d) { if e.pointee.d_name.0 != UInt8(ascii: ".") { n += 1 } }
        return n
    }
}
