// sd_notify without libsystemd: which environment turns it on (NOTIFY_SOCKET as a path or an
// abstract name, WATCHDOG_USEC for this pid only), and a message arriving whole at a socket.
import Glibc
import XCTest
@testable import SwitchyardIO

final class SystemdNotifyTests: XCTestCase {
    func environment(_ values: [String: String]) -> (String) -> String? { { values[$0] } }

    func testTheEnvironmentDecidesWhetherAndWhere() {
        XCTAssertNil(SystemdNotify(environment: environment([:])), "not started by systemd")
        XCTAssertNil(SystemdNotify(environment: environment(["NOTIFY_SOCKET": "relative/path"])))
        XCTAssertNil(SystemdNotify(environment: environment(["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)])),
                     "longer than sun_path")
        XCTAssertNotNil(SystemdNotify(environment: environment(["NOTIFY_SOCKET": "@/org/freedesktop/systemd1/notify"])))
        let n = SystemdNotify(environment: environment(["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000"]))
        XCTAssertEqual(n?.watchdogSeconds, 30)
        let other = SystemdNotify(environment: environment(["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000",
                                                            "WATCHDOG_PID": "\(getpid() + 1)"]))
        XCTAssertNil(other?.watchdogSeconds, "the watchdog is another process's")
        let mine = SystemdNotify(environment: environment(["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "2000000",
                                                           "WATCHDOG_PID": "\(getpid())"]))
        XCTAssertEqual(mine?.watchdogSeconds, 2)
    }

    func testAMessageArrivesWholeAtThePathSocket() throws {
        let path = "/tmp/switchyard-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer {
            close(fd)
            unlink(path)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(bound, 0)
        let notifier = try XCTUnwrap(SystemdNotify(environment: environment(["NOTIFY_SOCKET": path])))
        XCTAssertTrue(notifier.send("READY=1\nSTATUS=1 virtual service"))
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        XCTAssertEqual(String(decoding: buffer.prefix(max(0, n)), as: UTF8.self), "READY=1\nSTATUS=1 virtual service")
    }
}
