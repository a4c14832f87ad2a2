// SMTP_CHECK, DNS_CHECK and UDP_CHECK against small servers on 127.0.0.1 in this process, and
// their pure parts (SMTP replies, the DNS query's bytes, UDP reply matching); each probe also
// runs through the checkers' event loop once. SSL_GET is TLSProbeTests'.
import Glibc
import Synchronization
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

/// A one-thread server on 127.0.0.1 (TCP or UDP) that hands each connection or datagram to
/// `serve`, until closed.
final class ScriptedServer: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    let stop = Atomic<Bool>(false)
    var thread: OSThread?

    /// TCP: `tcp` gets each accepted socket (and closes nothing; the server closes it after).
    /// UDP: `udp` gets each datagram and returns the reply, if any.
    init(tcp: (@Sendable (Int32) -> Void)? = nil, udp: (@Sendable ([UInt8]) -> [UInt8]?)? = nil) throws {
        let s = socket(AF_INET, Int32((tcp != nil ? SOCK_STREAM : SOCK_DGRAM).rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if tcp != nil { listen(s, 16) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &length) } }
        fd = s
        port = UInt16(bigEndian: sin.sin_port)
        thread = try OSThread(name: "test-scripted") { [self] in
            while !stop.load(ordering: .relaxed) {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 50) > 0 else { continue }
                if let tcp {
                    let c = accept(fd, nil, nil)
                    guard c >= 0 else { continue }
                    tcp(c)
                    Glibc.close(c)
                } else if let udp {
                    var buffer = [UInt8](repeating: 0, count: 2048)
                    var from = sockaddr_storage()
                    var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
                    let n = withUnsafeMutablePointer(to: &from) { f in
                        f.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                            buffer.withUnsafeMutableBytes { recvfrom(fd, $0.baseAddress, $0.count, 0, a, &fromLength) }
                        }
                    }
                    guard n >= 0, let reply = udp(Array(buffer[0..<n])) else { continue }
                    _ = withUnsafePointer(to: &from) { f in
                        f.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                            reply.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, a, fromLength) }
                        }
                    }
                }
            }
        }
    }

    func close() {
        stop.store(true, ordering: .relaxed)
        thread?.join()
        Glibc.close(fd)
    }

    /// Writes text to a test connection.
    static func say(_ fd: Int32, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads one line (up to LF) from a test connection, within a second.
    static func line(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var c: UInt8 = 0
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while poll(&p, 1, 1000) > 0, recv(fd, &c, 1, 0) == 1, c != 10 { bytes.append(c) }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: ["\r"])
    }
}

/// A port on 127.0.0.1 with nothing listening (bound once, then closed).
func closedPort(udp: Bool = false) throws -> UInt16 {
    let s = udp ? try ScriptedServer(udp: { _ in nil }) : try ScriptedServer(tcp: { _ in })
    let port = s.port
    s.close()
    return port
}

final class CheckerProbeTests: XCTestCase {
    func checker(_ kind: CheckKind, timeout: Double = 1) -> CheckerConfig {
        var timing = CheckTiming()
        timing.connectTimeout = timeout
        return CheckerConfig(kind: kind, timing: timing, location: SourceLocation(line: 1, column: 1))
    }

    func probe(_ kind: CheckKind, _ port: UInt16, timeout: Double = 1) -> ProbeResult {
        HealthProbes.run(checker(kind, timeout: timeout), address: loopback, port: port)
    }

    func testSMTPReplyStatusReadsWholeReplies() {
        XCTAssertEqual(SMTPProbe.replyStatus(Array("220 mail ready\r\n".utf8)), 220)
        XCTAssertEqual(SMTPProbe.replyStatus(Array("250\r\n".utf8)), 250)
        XCTAssertNil(SMTPProbe.replyStatus(Array("220-first\r\n".utf8)), "a continued reply is not whole yet")
        XCTAssertEqual(SMTPProbe.replyStatus(Array("220-first\r\n220 last\r\n".utf8)), 220)
        XCTAssertNil(SMTPProbe.replyStatus(Array("220 no newline yet".utf8)))
        XCTAssertEqual(SMTPProbe.replyStatus(Array("hello\r\n".utf8)), -1)
        XCTAssertEqual(SMTPProbe.replyStatus(Array("2200 x\n".utf8)), -1)
    }

    func testSMTPExchangeAsKeepalived() throws {
        let heard = Mutex<[String]>([])
        let good = try ScriptedServer(tcp: { c in
            ScriptedServer.say(c, "220-mail.example ESMTP\r\n220 ready\r\n")
            // Recorded before each answer: the probe may be done as soon as it reads one.
            let helo = ScriptedServer.line(c)
            heard.withLock { $0.append(helo) }
            ScriptedServer.say(c, "250 mail.example\r\n")
            let quit = ScriptedServer.line(c)
            heard.withLock { $0.append(quit) }
            ScriptedServer.say(c, "221 bye\r\n")
        })
        defer { good.close() }
        XCTAssertEqual(probe(.smtp(helo: "lb.example"), good.port), .up)
        XCTAssertEqual(heard.withLock { $0 }, ["HELO lb.example", "QUIT"])

        let busy = try ScriptedServer(tcp: { c in ScriptedServer.say(c, "554 no service\r\n") })
        defer { busy.close() }
        XCTAssertEqual(probe(.smtp(helo: "x"), busy.port), .down("SMTP_CHECK: greeting status 554, expected 220"))

        let picky = try ScriptedServer(tcp: { c in
            ScriptedServer.say(c, "220 ready\r\n")
            _ = ScriptedServer.line(c)
            ScriptedServer.say(c, "501 bad HELO\r\n")
        })
        defer { picky.close() }
        XCTAssertEqual(probe(.smtp(helo: "x"), picky.port), .down("SMTP_CHECK: HELO answered 501, expected 250"))

        let silent = try ScriptedServer(tcp: { _ in usleep(600_000) })
        defer { silent.close() }
        XCTAssertEqual(probe(.smtp(helo: "x"), silent.port, timeout: 0.2),
                       .down("SMTP_CHECK: no greeting from 127.0.0.1:\(silent.port) within 0.2 s"))
        guard case .down(let refused) = probe(.smtp(helo: "x"), try closedPort()) else { return XCTFail("up on a closed port") }
        XCTAssertTrue(refused.contains("Connection refused"), refused)
    }

    func testDNSQueryBytes() {
        // id 0x1234, RD, one question: www.example.com A IN.
        XCTAssertEqual(DNSQuery.make(id: 0x1234, type: .a, name: "www.example.com"),
                       [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3] + Array("www".utf8) + [7] + Array("example".utf8)
                       + [3] + Array("com".utf8) + [0, 0, 1, 0, 1])
        let root: [UInt8] = [0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]
        XCTAssertEqual(DNSQuery.make(id: 0xABCD, type: .soa, name: ""), root, "keepalived's default: SOA of the root")
        XCTAssertEqual(DNSQuery.make(id: 0xABCD, type: .soa, name: "."), root)
        XCTAssertEqual(DNSQuery.make(id: 1, type: .soa, name: "example.com."), DNSQuery.make(id: 1, type: .soa, name: "example.com"))
    }

    func testDNSAnswersJudgedByIDFlagAndRcode() {
        func judge(_ bytes: [UInt8]) -> ProbeResult? { bytes.withUnsafeBytes { DNSQuery.judge($0, id: 0x1234) } }
        XCTAssertEqual(judge([0x12, 0x34, 0x81, 0x80] + Array(repeating: 0, count: 8)), .up)
        XCTAssertEqual(judge([0x12, 0x34, 0x81, 0x83] + Array(repeating: 0, count: 8)),
                       .down("DNS_CHECK: the answer's rcode is 3, expected 0 (no error)"))
        XCTAssertNil(judge([0x12, 0x35, 0x81, 0x80] + Array(repeating: 0, count: 8)), "another query's answer")
        XCTAssertNil(judge([0x12, 0x34, 0x01, 0x00] + Array(repeating: 0, count: 8)), "a query, not an answer")
        XCTAssertNil(judge([0x12, 0x34, 0x81]), "too short")
    }

    func testDNSCheckAgainstAServer() throws {
        // Answers NXDOMAIN for "missing", no error otherwise; echoes the question as servers do.
        let server = try ScriptedServer(udp: { q in
            var a = q
            a[2] |= 0x80
            a[3] = String(decoding: q, as: UTF8.self).contains("missing") ? 0x83 : 0x80
            return a
        })
        defer { server.close() }
        XCTAssertEqual(probe(.dns(type: .a, name: "www.example"), server.port), .up)
        XCTAssertEqual(probe(.dns(type: .a, name: "missing.example"), server.port),
                       .down("DNS_CHECK: the answer's rcode is 3, expected 0 (no error)"))
        let port = try closedPort(udp: true)
        XCTAssertEqual(probe(.dns(type: .soa, name: ""), port), .down("DNS_CHECK: 127.0.0.1:\(port): Connection refused"))
        let mute = try ScriptedServer(udp: { _ in nil })
        defer { mute.close() }
        XCTAssertEqual(probe(.dns(type: .soa, name: ""), mute.port, timeout: 0.2),
                       .down("DNS_CHECK: no answer from 127.0.0.1:\(mute.port) within 0.2 s"))
    }

    func testUDPReplyMatchingAsKeepalived() {
        var c = UDPCheck()
        c.requireReply = true
        func judge(_ reply: [UInt8]) -> ProbeResult { reply.withUnsafeBytes { UDPProbe.judge($0, c) } }
        XCTAssertEqual(judge([9, 9]), .up, "require_reply with no bytes: any reply")
        c.reply = [0x01, 0x20, 0x03]
        c.replyMask = [0x00, 0x0F, 0x00]
        c.minReplyLength = 2
        XCTAssertEqual(judge([0x01, 0x2F, 0x03, 0x44]), .up, "x matches any digit; bytes past the pattern are free")
        XCTAssertEqual(judge([0x01, 0x30, 0x03]), .down("UDP_CHECK: the reply differs from require_reply at byte 1"))
        XCTAssertEqual(judge([0x01]), .down("UDP_CHECK: a reply of 1 bytes, expected 2 to 255"))
        XCTAssertEqual(UDPCheck.defaultPayload.count, 32)
        XCTAssertEqual(String(decoding: UDPCheck.defaultPayload, as: UTF8.self), "keepalived check - keepalived ch")
    }

    func testUDPCheckAgainstAServer() throws {
        let echo = try ScriptedServer(udp: { $0 })
        defer { echo.close() }
        var c = UDPCheck()
        c.payload = [0xCA, 0xFE]
        c.requireReply = true
        c.reply = [0xCA, 0xFE]
        XCTAssertEqual(probe(.udp(c), echo.port), .up)
        c.reply = [0xBE, 0xEF]
        XCTAssertEqual(probe(.udp(c), echo.port), .down("UDP_CHECK: the reply differs from require_reply at byte 0"))
        let port = try closedPort(udp: true)
        XCTAssertEqual(probe(.udp(UDPCheck()), port), .down("UDP_CHECK: 127.0.0.1:\(port): Connection refused"),
                       "an ICMP port unreachable is down")
        let mute = try ScriptedServer(udp: { _ in nil })
        defer { mute.close() }
        XCTAssertEqual(probe(.udp(UDPCheck()), mute.port, timeout: 0.2), .up, "no reply and no ICMP error: up, as keepalived")
        XCTAssertEqual(probe(.udp(c), mute.port, timeout: 0.2), .down("UDP_CHECK: no reply from 127.0.0.1:\(mute.port) within 0.2 s"))
    }

    func testTheEventLoopRunsTheNewProbes() throws {
        let smtp = try ScriptedServer(tcp: { c in
            ScriptedServer.say(c, "220 ready\r\n")
            _ = ScriptedServer.line(c)
            ScriptedServer.say(c, "250 ok\r\n")
            _ = ScriptedServer.line(c)
            ScriptedServer.say(c, "221 bye\r\n")
        })
        defer { smtp.close() }
        let dns = try ScriptedServer(udp: { q in [q[0], q[1], 0x81, 0x80] + q.dropFirst(4) })
        defer { dns.close() }
        let udpPort = try closedPort(udp: true)
        let reports = CheckLoopTests.Reports()
        let monitor = HealthMonitor(report: reports.add)
        defer { monitor.stopAll() }
        let cases: [(CheckKind, UInt16, ProbeResult)] = [
            (.smtp(helo: "x"), smtp.port, .up), (.dns(type: .a, name: "a.example"), dns.port, .up),
            (.udp(UDPCheck()), udpPort, .down("UDP_CHECK: 127.0.0.1:\(udpPort): Connection refused")),
        ]
        for (i, (kind, port, want)) in cases.enumerated() {
            // Reports are transitions: start each on the other side of what it should find.
            let target = HealthMonitor.Target(serviceID: 1, realID: UInt32(i + 1), address: loopback, port: port)
            try monitor.start(target, checkers: [checker(kind)], startUp: !want.isUp)
        }
        let got = reports.wait(for: cases.count)
        for (i, (kind, _, want)) in cases.enumerated() {
            XCTAssertEqual(got.first { $0.0.realID == UInt32(i + 1) }?.3, want, "\(kind)")
        }
    }
}
