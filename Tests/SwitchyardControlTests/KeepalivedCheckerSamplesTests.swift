// The rest of keepalived's doc/samples (Tests/fixtures/keepalived-samples): the checker samples
// (SSL_GET, SMTP_CHECK, UDP_CHECK, PING_CHECK, MISC_CHECK, virtualhost) and the VRRP ones, each
// with its exact outcome; the email and router_id warnings every sample shares are left out.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class KeepalivedCheckerSamplesTests: XCTestCase {
    /// The config, or the one error; warnings less the shared email/router_id ones.
    func outcome(_ name: String, configID: String? = nil) -> (config: Config?, lines: [String]) {
        let path = "\(KeepalivedSamplesTests.directory)/keepalived.conf.\(name)"
        do {
            let c = try Config.load(path: path, configID: configID)
            let lines = c.warnings.map { $0.description.replacingOccurrences(of: path, with: name) }
                .filter { !$0.contains("email alerts") && !$0.contains("names this box") }
            return (c, lines)
        } catch {
            return (nil, [error.description.replacingOccurrences(of: path, with: name)])
        }
    }

    func kinds(_ c: Config?) -> [[String]] {
        (c?.services ?? []).flatMap { $0.reals.map { $0.checkers.map(\.kind.name) } }
    }

    func testSMTPCheckSampleRunsOneCheckerPerHostAsKeepalived() {
        let (c, lines) = outcome("SMTP_CHECK")
        let deprecated = "warning: SMTP_CHECK host { … } is deprecated in keepalived; Switchyard runs one SMTP_CHECK per "
            + "host, as keepalived does: write them as separate SMTP_CHECK blocks"
        let bindto = "warning: bindto is ignored (keepalived: binds the checker's socket to this source address)"
        XCTAssertEqual(lines, ["SMTP_CHECK:64:13: \(deprecated)", "SMTP_CHECK:98:17: \(bindto)",
                               "SMTP_CHECK:104:17: \(bindto)", "SMTP_CHECK:95:13: \(deprecated)"])
        // connect_timeout on the checker is a connection option: the real server is checked too.
        XCTAssertEqual(kinds(c), [["SMTP_CHECK"], Array(repeating: "SMTP_CHECK", count: 4),
                                  Array(repeating: "SMTP_CHECK", count: 4)])
        let hosts = c?.services[0].reals[1].checkers.map { $0.connectIP?.description ?? "real server" }
        XCTAssertEqual(hosts, ["real server", "172.16.1.11", "192.168.155.10", "64.233.167.99"])
        XCTAssertEqual(c?.services[0].reals[2].checkers.map(\.connectPort), [nil, 25, 25, 587])
        XCTAssertEqual(c?.services[0].reals[0].checkers[0].kind, .smtp(helo: "foo.bar.com"))
    }

    func testSSLGetSampleIsRefusedForItsVRRPAuthentication() {
        XCTAssertEqual(outcome("SSL_GET").lines,
                       ["SSL_GET:20:19: auth_type AH is not supported yet; use auth_type PASS, or no authentication"])
    }

    func testHTTPGetPortSampleIsAnSSLGetOnAnotherPort() {
        let (c, lines) = outcome("HTTP_GET.port")
        XCTAssertEqual(lines, [])
        let checker = c?.services[0].reals[0].checkers[0]
        XCTAssertEqual(checker?.connectPort, 444)
        guard case .ssl(let urls, nil, nil, _) = checker?.kind else { return XCTFail("\(String(describing: checker))") }
        XCTAssertEqual(urls.map(\.digest), ["ff20ad2481f97b1754ef3e12ecd3a9cc"])
    }

    func testUDPAndPingSamplesPass() {
        let (udp, udpLines) = outcome("UDP_CHECK")
        XCTAssertEqual(udpLines, [])
        XCTAssertEqual(udp?.services[0].reals[0].checkers[0].kind, .udp(UDPCheck()), "require_reply is commented out")
        XCTAssertEqual(udp?.services[0].reals[0].checkers[0].timing.retry, 3)
        let (ping, pingLines) = outcome("PING_CHECK")
        XCTAssertEqual(pingLines, [])
        XCTAssertEqual(kinds(ping), [["PING_CHECK"]])
    }

    func testMiscAndVirtualhostSamplesPass() {
        for name in ["misc_check", "misc_check_arg"] {
            let (c, lines) = outcome(name)
            XCTAssertEqual(lines, [], name)
            XCTAssertEqual(kinds(c), [["MISC_CHECK"]], name)
        }
        let (c, lines) = outcome("virtualhost")
        XCTAssertEqual(lines, [])
        guard case .ssl(_, let host, _, _)? = c?.services[0].reals[0].checkers[0].kind else { return XCTFail() }
        XCTAssertEqual(host, "www.firewall.loc", "the virtual_server's virtualhost is the Host header")
    }

    func testIPv6SampleIsRefusedAtItsGroup() {
        XCTAssertEqual(outcome("IPv6").lines, [
            "IPv6:7:1: virtual_server_group is not supported yet: Switchyard's services are one address and port each; "
                + "write one virtual_server per address and port of the group, with the same real servers",
        ])
    }

    func testConditionalSampleNeedsItsConfigID() {
        XCTAssertEqual(outcome("conditional_conf").lines, [
            "conditional_conf:6:1: vrrp_script check_VI_0 has no script; write e.g. `script \"/usr/bin/pgrep -x haproxy\"`",
        ], "its own comment: run with -i high or -i low")
        let (c, lines) = outcome("conditional_conf", configID: "high")
        XCTAssertEqual(c?.failover.instances.first?.priority, 170)
        XCTAssertEqual(lines, [
            "conditional_conf:3:7: warning: net_namespace is ignored (keepalived: runs keepalived inside this network namespace)",
            "conditional_conf:23:2: warning: use_vmac is accepted but not acted on yet",
        ])
    }

    func testVRRPSamplesPass() {
        let expected: [String: (instances: Int, warnings: Int)] = [
            "vrrp": (4, 6), "vrrp.localcheck": (9, 0), "vrrp.routes": (1, 2), "vrrp.rules": (1, 2),
            "vrrp.scripts": (3, 2), "vrrp.static_ipaddress": (1, 2), "vrrp.sync": (9, 1), "track_interface": (1, 2),
        ]
        for (name, want) in expected {
            let (c, lines) = outcome(name)
            XCTAssertEqual(c?.failover.instances.count, want.instances, "\(name): \(lines)")
            XCTAssertEqual(lines.count, want.warnings, "\(name): \(lines)")
            XCTAssertTrue(lines.allSatisfy { $0.contains(": warning: ") }, name)
        }
    }

    func testLVSSyncdSampleIsRefusedForBareSyncGroupMembers() {
        XCTAssertEqual(outcome("vrrp.lvs_syncd").lines, [
            "vrrp.lvs_syncd:4:3: unknown keyword \"VI_2\" in vrrp_sync_group; if VI_2 is an instance, list the members "
                + "inside group { … }",
        ])
    }
}
