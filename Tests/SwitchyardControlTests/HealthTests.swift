import Glibc
import Synchronization
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

/// A one-thread HTTP server on 127.0.0.1 (or ::1) for the checkers: answers every connection
/// with a fixed response, optionally after a delay. Stops when the test ends.
final class LocalListener: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    let response: [UInt8]
    let delay: Double
    let stop = Atomic<Bool>(false)
    var thread: OSThread?

    init(status: Int = 200, body: String = "hello", delay: Double = 0, on address: IPAddressBits = loopback) throws {
        response = Array("HTTP/1.0 \(status) X\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
        self.delay = delay
        let s = socket(HealthProbes.family(address), Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = HealthProbes.withSocketAddress(address, 0) { bind(s, $0, $1) }
        guard bound == 0, listen(s, 16) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EINVAL)
        }
        // sin_port and sin6_port sit at the same offset.
        var name = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        _ = withUnsafeMutablePointer(to: &name) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &length) } }
        fd = s
        port = UInt16(bigEndian: name.sin6_port)
        thread = try OSThread(name: "test-listener") { [self] in serve() }
    }

    func serve() {
        while !stop.load(ordering: .relaxed) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            let c = accept(fd, nil, nil)
            guard c >= 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = buffer.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if delay > 0 { usleep(UInt32(delay * 1_000_000)) }
            _ = response.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            Glibc.close(c)
        }
    }

    func close() {
        stop.store(true, ordering: .relaxed)
        thread?.join()
        Glibc.close(fd)
    }
}

let loopback = IPAddressBits(text: "127.0.0.1")!

final class ProbeTests: XCTestCase {
    func testTCPUpAndDown() throws {
        let l = try LocalListener()
        defer { l.close() }
        XCTAssertEqual(HealthProbes.tcp(loopback, l.port, timeout: 1), .up)
        let closed = try LocalListener()
        let port = closed.port
        closed.close()
        guard case .down(let why) = HealthProbes.tcp(loopback, port, timeout: 1) else { return XCTFail("closed port is up") }
        XCTAssertTrue(why.contains("Connection refused"), why)
    }

    func testHTTPStatusDigestRegexAndSlow() throws {
        let ok = try LocalListener(body: "all good here")
        defer { ok.close() }
        let digest = MD5.hex(Array("all good here".utf8))
        XCTAssertEqual(HealthProbes.http(loopback, ok.port, urls: [URLCheck(path: "/", statusCode: 200, digest: digest,
                                                                            regex: "good h[a-z]+")],
                                         virtualHost: nil, timeout: 1), .up)
        XCTAssertEqual(HealthProbes.http(loopback, ok.port, urls: [URLCheck(path: "/x", statusCode: 200, digest: String(repeating: "0", count: 32))],
                                         virtualHost: nil, timeout: 1),
                       .down("HTTP_GET /x: body digest \(digest), expected 00000000000000000000000000000000"))
        XCTAssertEqual(HealthProbes.http(loopback, ok.port, urls: [URLCheck(path: "/", regex: "^bad")], virtualHost: nil, timeout: 1),
                       .down("HTTP_GET /: body does not match regex \"^bad\""))
        let wrong = try LocalListener(status: 500)
        defer { wrong.close() }
        XCTAssertEqual(HealthProbes.http(loopback, wrong.port, urls: [URLCheck()], virtualHost: nil, timeout: 1),
                       .down("HTTP_GET /: status 500, expected 200-299"), "no status_code: any 2xx, as keepalived")
        let slow = try LocalListener(delay: 1.5)
        defer { slow.close() }
        let started = HealthProbes.monotonicSeconds()
        XCTAssertEqual(HealthProbes.http(loopback, slow.port, urls: [URLCheck()], virtualHost: nil, timeout: 0.3),
                       .down("HTTP_GET /: no complete answer within 0.3 s"))
        XCTAssertLessThan(HealthProbes.monotonicSeconds() - started, 1.2, "the probe gives up at its timeout")
    }

    func testMiscAndPing() {
        XCTAssertEqual(HealthProbes.misc("exit 0", timeout: 2), .up)
        XCTAssertEqual(HealthProbes.misc("exit 3", timeout: 2), .down("MISC_CHECK exit 3: exit status 3"))
        XCTAssertEqual(HealthProbes.misc("sleep 5", timeout: 0.2), .down("MISC_CHECK sleep 5: still running after 0.2 s, killed"))
        if getuid() == 0 { XCTAssertEqual(HealthProbes.ping(loopback, timeout: 1), .up) }
    }

    /// RFC 1321 §A.5 test suite.
    func testMD5Vectors() {
        XCTAssertEqual(MD5.hex([]), "d41d8cd98f00b204e9800998ecf8427e")
        XCTAssertEqual(MD5.hex(Array("abc".utf8)), "900150983cd24fb0d6963f7d28e17f72")
        XCTAssertEqual(MD5.hex(Array("message digest".utf8)), "f96b697d7cb7938d525a2f31aaf161d0")
        XCTAssertEqual(MD5.hex(Array(String(repeating: "1234567890", count: 8).utf8)), "57edf4a22be3c955ac49da2e2107b67a")
    }
}

/// A clock that jumps to whatever time is waited for.
final class VirtualClock: CheckClock, @unchecked Sendable {
    let time = Mutex<Double>(0)
    func now() -> Double { time.withLock { $0 } }
    func sleep(until t: Double, stop: StopFlag) -> Bool {
        time.withLock { $0 = max($0, t) }
        return !stop.isRaised
    }
    func advance(_ d: Double) { time.withLock { $0 += d } }
}

final class CheckerTimingTests: XCTestCase {
    let timing = CheckTiming(delayLoop: 5, connectTimeout: 1, retry: 2, delayBeforeRetry: 1, warmup: 0)

    /// A server dying just after a good check is declared down by delay_loop +
    /// connect_timeout + retry × (delay_before_retry + connect_timeout): here 5 + 1 + 2 × 2 = 10 s.
    func testDetectionWithinTheBound() {
        var p = CheckProgress(timing: timing, startUp: true, start: 0)
        XCTAssertNil(p.record(.up, at: 0))
        XCTAssertEqual(p.nextRun, 5)
        // It dies at 0+; each failed attempt takes the full connect_timeout.
        var t = p.nextRun + 1
        XCTAssertNil(p.record(.down("x"), at: t))
        XCTAssertEqual(p.nextRun, 7, "retry after delay_before_retry")
        t = p.nextRun + 1
        XCTAssertNil(p.record(.down("x"), at: t))
        t = p.nextRun + 1
        XCTAssertEqual(p.record(.down("x"), at: t), false, "down after 1 + retry attempts")
        XCTAssertEqual(t, 10)
        XCTAssertEqual(t, timing.detectionBound)
        XCTAssertEqual(p.nextRun, 15, "then back to delay_loop")
        XCTAssertNil(p.record(.down("x"), at: 16), "still down: no new transition")
        XCTAssertEqual(p.record(.up, at: 30), true, "the first success brings it back")
    }

    func testOneSuccessBetweenFailuresResetsTheCount() {
        var p = CheckProgress(timing: timing, startUp: true, start: 0)
        XCTAssertNil(p.record(.down("x"), at: 1))
        XCTAssertNil(p.record(.up, at: 2))
        XCTAssertNil(p.record(.down("x"), at: 8))
        XCTAssertNil(p.record(.down("x"), at: 10))
        XCTAssertEqual(p.record(.down("x"), at: 12), false)
    }

    func testAlphaStartsDownAndWarmupDelays() {
        var p = CheckProgress(timing: timing, startUp: false, start: 100, warmupDelay: 3)
        XCTAssertFalse(p.up)
        XCTAssertEqual(p.nextRun, 103)
        XCTAssertEqual(p.record(.up, at: 103.5), true)
    }

    /// The real loop, on virtual time, with a scripted probe: reports only transitions, with
    /// their reason, at the right virtual times.
    func testLoopOnVirtualClock() {
        let clock = VirtualClock()
        let stop = StopFlag()
        let script = Mutex<[ProbeResult]>([.up, .down("refused"), .down("refused"), .down("refused"), .up, .up])
        let reports = Mutex<[(Double, Bool, ProbeResult)]>([])
        let checker = CheckerConfig(kind: .tcp, timing: timing, connectIP: nil, connectPort: nil,
                                    location: SourceLocation(line: 1, column: 1))
        HealthMonitor.loop(checker, target: HealthMonitor.Target(serviceID: 0, realID: 0, address: loopback, port: 1),
                           index: 0, startUp: true, clock: clock, stop: stop,
                           probe: { _, _, _ in
                               clock.advance(1)
                               let next = script.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                               if script.withLock({ $0.isEmpty }) { stop.raise() }
                               return next ?? .up
                           },
                           report: { _, _, up, result in reports.withLock { $0.append((clock.now(), up, result)) } })
        let got = reports.withLock { $0 }
        XCTAssertEqual(got.count, 2)
        XCTAssertEqual(got[0].1, false)
        XCTAssertEqual(got[0].2, .down("refused"))
        // up at 1; checks at 6 (fails at 7), 8 (fails at 9), 10 (fails at 11): down at 11.
        XCTAssertEqual(got[0].0, 11)
        XCTAssertEqual(got[1].1, true)
        XCTAssertEqual(got[1].0, 17, "next check at 11 + 5, success at 17")
    }
}
