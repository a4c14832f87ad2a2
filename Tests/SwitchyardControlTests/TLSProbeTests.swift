// SSL_GET against a real TLS server on 127.0.0.1: OpenSSL's own `openssl s_server` with a
// certificate made for the test. Status, digest, SNI, a client certificate from the SSL block,
// a server that does not speak TLS, a key OpenSSL cannot load, and one run through the loop.
import Glibc
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

final class TLSProbeTests: XCTestCase {
    var directory = ""
    var servers: [pid_t] = []

    override func setUpWithError() throws {
        directory = "/tmp/switchyard-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(directory, 0o700)
        try run("openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=test "
                + "&& printf 'hello tls\\n' > index.html")
    }

    override func tearDown() {
        for pid in servers {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        _ = try? run("rm -rf \(directory)")
    }

    @discardableResult
    func run(_ command: String) throws -> Int32 {
        var status: Int32 = 0
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup("cd \(directory) && { \(command); } >/dev/null 2>&1"), nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else { throw SystemError("posix_spawn", errno: errno) }
        waitpid(pid, &status, 0)
        guard status == 0 else { throw SystemError("\(command): exit status \(status >> 8)", errno: 0) }
        return status
    }

    /// Starts `openssl s_server -WWW` (files from the test's directory) with these extra options;
    /// returns its port once it accepts connections.
    func server(_ options: String = "") throws -> UInt16 {
        let port = try closedPort()
        var pid: pid_t = 0
        let line = "cd \(directory) && exec openssl s_server -accept 127.0.0.1:\(port) -cert cert.pem -key key.pem -WWW -quiet "
            + "\(options) >/dev/null 2>&1"
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(line), nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else { throw SystemError("posix_spawn", errno: errno) }
        servers.append(pid)
        for _ in 0..<200 where HealthProbes.tcp(loopback, port, timeout: 0.5) != .up { usleep(25_000) }
        return port
    }

    func ssl(_ urls: [URLCheck], sni: String? = nil, tls: TLSClientSettings = TLSClientSettings()) -> CheckKind {
        .ssl(urls: urls, virtualHost: nil, sni: sni, tls: tls)
    }

    func probe(_ kind: CheckKind, _ port: UInt16) -> ProbeResult {
        var timing = CheckTiming()
        timing.connectTimeout = 3
        return HealthProbes.run(CheckerConfig(kind: kind, timing: timing, location: SourceLocation(line: 1, column: 1)),
                                address: loopback, port: port)
    }

    func testStatusAndDigestOverTLS() throws {
        let port = try server()
        let digest = MD5.hex(Array("hello tls\n".utf8))
        XCTAssertEqual(probe(ssl([URLCheck(path: "/index.html", digest: digest)]), port), .up)
        XCTAssertEqual(probe(ssl([URLCheck(path: "/index.html", statusCode: 404)]), port),
                       .down("SSL_GET /index.html: status 200, expected 404"))
        XCTAssertEqual(probe(ssl([URLCheck(path: "/index.html", regex: "^bye")]), port),
                       .down("SSL_GET /index.html: body does not match regex \"^bye\""))
    }

    func testServerNameIsSentWithEnableSNI() throws {
        let port = try server("-servername good.example -servername_fatal -cert2 cert.pem -key2 key.pem")
        XCTAssertEqual(probe(ssl([URLCheck(path: "/index.html")], sni: "good.example"), port), .up)
        guard case .down(let why) = probe(ssl([URLCheck(path: "/index.html")], sni: "bad.example"), port) else {
            return XCTFail("a server refusing the name passed")
        }
        XCTAssertTrue(why.hasPrefix("SSL_GET /index.html: TLS handshake with 127.0.0.1:\(port) failed: "), why)
    }

    func testClientCertificateFromTheSSLBlock() throws {
        let port = try server("-Verify 1 -CAfile cert.pem")
        var tls = TLSClientSettings()
        tls.certificate = "\(directory)/cert.pem"
        tls.key = "\(directory)/key.pem"
        XCTAssertEqual(probe(ssl([URLCheck(path: "/index.html")], tls: tls), port), .up)
        XCTAssertFalse(probe(ssl([URLCheck(path: "/index.html")]), port).isUp, "no client certificate: refused")
        tls.key = "\(directory)/index.html"
        guard case .down(let why) = probe(ssl([URLCheck()], tls: tls), port) else { return XCTFail("a bad key passed") }
        XCTAssertTrue(why.hasPrefix("SSL_GET /: SSL key \(directory)/index.html: "), why)
    }

    func testPlainHTTPServerFailsTheHandshake() throws {
        let plain = try LocalListener()
        defer { plain.close() }
        guard case .down(let why) = probe(ssl([URLCheck()]), plain.port) else { return XCTFail("plain HTTP passed SSL_GET") }
        XCTAssertTrue(why.hasPrefix("SSL_GET /: TLS handshake with 127.0.0.1:\(plain.port) failed: "), why)
        guard case .down(let refused) = probe(ssl([URLCheck()]), try closedPort()) else { return XCTFail("closed port up") }
        XCTAssertTrue(refused.contains("Connection refused"), refused)
    }

    func testThroughTheEventLoop() throws {
        let port = try server()
        let reports = CheckLoopTests.Reports()
        let monitor = HealthMonitor(report: reports.add)
        defer { monitor.stopAll() }
        let checker = CheckerConfig(kind: ssl([URLCheck(path: "/index.html"), URLCheck(path: "/index.html", statusCode: 200)]),
                                    timing: CheckTiming(delayLoop: 10, connectTimeout: 3, retry: 0, delayBeforeRetry: 0.1),
                                    location: SourceLocation(line: 1, column: 1))
        try monitor.start(HealthMonitor.Target(serviceID: 1, realID: 1, address: loopback, port: port), checkers: [checker],
                          startUp: false)
        XCTAssertEqual(reports.wait(for: 1).first?.3, .up, "two URLs, two handshakes, both answered")
    }
}
