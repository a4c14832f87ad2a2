// The checkers' probes over IPv6, against ::1 (which this machine's loopback carries; a test
// fails, not skips, where it does not): TCP_CHECK up and refused, HTTP_GET, UDP_CHECK's
// refusal, and PING_CHECK's ICMPv6 echo as root; messages name [address]:port.
import Glibc
import XCTest
@testable import SwitchyardControl
import SwitchyardCore

final class ProbeIPv6Tests: XCTestCase {
    let v6loopback = IPAddressBits(ipv6: "::1")!

    func testTCPAndHTTPOverIPv6() throws {
        let l = try LocalListener(body: "six", on: v6loopback)
        defer { l.close() }
        XCTAssertEqual(HealthProbes.tcp(v6loopback, l.port, timeout: 1), .up)
        XCTAssertEqual(HealthProbes.http(v6loopback, l.port, urls: [URLCheck(path: "/", regex: "^six$")], virtualHost: nil,
                                         timeout: 1), .up)
        XCTAssertEqual(HealthProbes.hostHeader(v6loopback), "[::1]", "an IPv6 literal Host in brackets")
        XCTAssertEqual(HealthProbes.hostHeader(loopback), "127.0.0.1")
        let closed = try LocalListener(on: v6loopback)
        let port = closed.port
        closed.close()
        XCTAssertEqual(HealthProbes.tcp(v6loopback, port, timeout: 1), .down("connect to [::1]:\(port): Connection refused"))
        // The IPv4 listener is not reached over IPv6.
        let four = try LocalListener()
        defer { four.close() }
        XCTAssertEqual(HealthProbes.tcp(loopback, four.port, timeout: 1), .up)
    }

    func testUDPCheckSeesThePortUnreachableOverIPv6() throws {
        // A port nobody listens on: bind one, note it, close it.
        let s = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        XCTAssertEqual(HealthProbes.withSocketAddress(v6loopback, 0) { bind(s, $0, $1) }, 0)
        var name = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        _ = withUnsafeMutablePointer(to: &name) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &length) } }
        close(s)
        let port = UInt16(bigEndian: name.sin6_port)
        var timing = CheckTiming()
        timing.connectTimeout = 1
        let checker = CheckerConfig(kind: .udp(UDPCheck()), timing: timing, location: SourceLocation(line: 1, column: 1))
        guard case .down(let why) = HealthProbes.run(checker, address: v6loopback, port: port) else {
            return XCTFail("a closed UDP port on ::1 is up")
        }
        XCTAssertTrue(why.contains("refused"), why)
    }

    func testPingOverIPv6() throws {
        guard getuid() == 0 else { throw XCTSkip("PING_CHECK's raw socket needs root (the test runner has it in CI)") }
        XCTAssertEqual(HealthProbes.ping(v6loopback, timeout: 1), .up)
        // 2001:db8::/32 has no route here: no reply, or the send is refused.
        guard case .down = HealthProbes.ping(IPAddressBits(ipv6: "2001:db8::dead")!, timeout: 0.3) else {
            return XCTFail("documentation prefix answered a ping")
        }
    }
}
