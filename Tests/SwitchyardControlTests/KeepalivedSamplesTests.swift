// keepalived's own sample configs (Tests/fixtures/keepalived-samples, copied from keepalived's
// doc/samples) through the reader `switchyard check` uses: each passes, passes with warnings, or
// is refused with a reason, and the exact outcome is asserted.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

/// A folder of Tests/fixtures, found from this file's path.
func fixturesDirectory(_ name: String, file: String = #filePath) -> String {
    let tests = file[..<(file.range(of: "/SwitchyardControlTests/")?.lowerBound ?? file.endIndex)]
    return "\(tests)/fixtures/\(name)"
}

final class KeepalivedSamplesTests: XCTestCase {
    static let directory = fixturesDirectory("keepalived-samples")

    /// The outcome as `check` prints it: the warnings, or the one error.
    func outcome(_ name: String) -> (services: [VirtualServiceConfig], lines: [String]) {
        let path = "\(Self.directory)/keepalived.conf.\(name)"
        do {
            let c = try Config.load(path: path)
            return (c.services, c.warnings.map { $0.description.replacingOccurrences(of: path, with: name) })
        } catch {
            return ([], [error.description.replacingOccurrences(of: path, with: name)])
        }
    }

    func emailWarnings(_ name: String, firstLine: Int) -> [String] {
        let l = firstLine
        return [
            "\(name):\(l):4: warning: notification_email { … } is ignored (keepalived: sends email alerts on state changes)",
            "\(name):\(l + 3):4: warning: notification_email_from is ignored (keepalived: sends email alerts on state changes)",
            "\(name):\(l + 4):4: warning: smtp_server is ignored (keepalived: sends email alerts on state changes)",
            "\(name):\(l + 5):4: warning: smtp_connect_timeout is ignored (keepalived: sends email alerts on state changes)",
            "\(name):\(l + 6):4: warning: router_id is ignored (keepalived: names this box in its email alerts and SNMP)",
        ]
    }

    func testSamplePassesWithEmailWarnings() {
        let (services, lines) = outcome("sample")
        XCTAssertEqual(lines, emailWarnings("sample", firstLine: 4))
        XCTAssertEqual(services.map(\.name), ["TCP 10.10.10.2:1358"])
        XCTAssertEqual(services.first?.method, .nat)
        XCTAssertEqual(services.first?.persistenceTimeout, 50)
        XCTAssertEqual(services.first?.reals.map(\.checkers.count), [1])
    }

    func testStatusCodeSampleChecksItsRealServerOverTLS() {
        let (services, lines) = outcome("status_code")
        XCTAssertEqual(lines, emailWarnings("status_code", firstLine: 5))
        XCTAssertEqual(services.map(\.name), ["TCP 192.168.200.100:443"])
        guard case .ssl(let urls, _, _, _)? = services.first?.reals.first?.checkers.first?.kind else {
            return XCTFail("an SSL_GET checker")
        }
        XCTAssertEqual(urls.map(\.expectedStatuses), ["200-299 400-499 503 505", "200"])
    }

    func testInhibitSamplePasses() {
        let (services, lines) = outcome("inhibit")
        XCTAssertEqual(lines, emailWarnings("inhibit", firstLine: 4))
        XCTAssertEqual(services.first?.reals.map(\.inhibitOnFailure), [true])
    }

    func testQuorumSamplePassesWithOmegaWarning() {
        let (services, lines) = outcome("quorum")
        XCTAssertEqual(lines, ["quorum:30:3: warning: omega is ignored (keepalived: runs quorum_down at shutdown too)"])
        XCTAssertEqual(services.first?.scheduler, .weightedRoundRobin)
        XCTAssertEqual(services.first?.reals.count, 10)
    }

    func testFwmarkSampleIsRefusedWithWhatToDo() {
        XCTAssertEqual(outcome("fwmark").lines, [
            "fwmark:7:16: virtual_server fwmark is not supported yet: Switchyard matches a service by address, protocol and "
                + "port, not by firewall mark; write one virtual_server per address and port the mark covers",
        ])
    }

    func testVirtualServerGroupSampleIsRefusedWithWhatToDo() {
        XCTAssertEqual(outcome("virtual_server_group").lines, [
            "virtual_server_group:13:1: virtual_server_group is not supported yet: Switchyard's services are one address "
                + "and port each; write one virtual_server per address and port of the group, with the same real servers",
        ])
    }
}
