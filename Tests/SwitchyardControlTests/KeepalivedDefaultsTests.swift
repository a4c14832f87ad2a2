// keepalived's defaults where a keyword is missing, and how a service's real servers are settled
// (ports, duplicates, forwarding methods, checkers Switchyard has not built), as keepalived 2.2's
// check_parser.c and check_data.c do it.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class KeepalivedDefaultsTests: XCTestCase {
    func parse(_ text: String) throws -> Config { try Config.parse(text, path: "k.conf") }

    func error(_ text: String) -> String {
        do {
            _ = try Config.parse(text, path: "k.conf")
            return "no error"
        } catch {
            return error.description
        }
    }

    func service(_ body: String, port: String = "80") throws -> (VirtualServiceConfig, [String]) {
        let c = try parse("virtual_server 198.18.0.1 \(port) {\n\(body)\n}\n")
        return (c.services[0], c.warnings.map(\.description))
    }

    func testPersistenceTimeoutWithNoValueIs300() throws {
        let (s, warnings) = try service(" lb_kind DR\n persistence_timeout\n real_server 198.18.0.2 80")
        XCTAssertEqual(s.persistenceTimeout, 300)
        XCTAssertEqual(warnings, [])
    }

    func testPersistenceGranularityAloneTurnsPersistenceOn() throws {
        let (s, _) = try service(" lb_kind DR\n persistence_granularity 255.255.255.0\n real_server 198.18.0.2 80")
        XCTAssertEqual(s.persistenceTimeout, 300)
        XCTAssertEqual(s.persistenceMask, 0xFFFF_FF00)
        let (explicit, _) = try service(" lb_kind DR\n persistence_granularity 255.255.255.0\n persistence_timeout 60")
        XCTAssertEqual(explicit.persistenceTimeout, 60, "an explicit timeout wins")
    }

    func testRealServerWithNoPortTakesTheServicePort() throws {
        let (s, warnings) = try service(" lb_kind NAT\n real_server 198.18.0.2 {\n weight 2\n }\n real_server 198.18.0.3 0", port: "8080")
        XCTAssertEqual(s.reals.map(\.port), [8080, 8080])
        XCTAssertEqual(s.reals.map(\.weight), [2, 1])
        XCTAssertEqual(warnings, [])
    }

    func testNoLbAlgoIsWlc() throws {
        let (s, warnings) = try service(" lb_kind DR\n real_server 198.18.0.2 80")
        XCTAssertEqual(s.scheduler, .weightedLeastConnection)
        XCTAssertEqual(warnings, [])
    }

    func testNoLbKindIsNATWithAWarning() throws {
        let (s, warnings) = try service(" real_server 198.18.0.2 8080")
        XCTAssertEqual(s.method, .nat)
        XCTAssertEqual(s.reals[0].port, 8080, "NAT maps ports")
        XCTAssertEqual(warnings, ["k.conf:1:1: warning: TCP 198.18.0.1:80 has no lb_kind; NAT is used, as keepalived"])
        let (empty, emptyWarnings) = try service(" protocol TCP")
        XCTAssertEqual(empty.method, .nat)
        XCTAssertEqual(emptyWarnings, ["k.conf:1:1: warning: TCP 198.18.0.1:80 has no lb_kind; NAT is used, as keepalived"],
                       "said also when no real server is listed yet")
    }

    func testDuplicateRealServerIsDroppedWithAWarning() throws {
        let (s, warnings) = try service(" lb_kind DR\n real_server 198.18.0.2 80 { weight 3 }\n real_server 198.18.0.2 80 { weight 5 }")
        XCTAssertEqual(s.reals.map(\.weight), [3], "the first is kept")
        XCTAssertEqual(warnings, ["k.conf:4:2: warning: real server 198.18.0.2:80 is listed twice in TCP 198.18.0.1:80 "
            + "(first at line 3); this one is dropped, as keepalived"])
    }

    func testDRRealServerPortBecomesTheServicePort() throws {
        let (s, warnings) = try service(" lb_kind DR\n real_server 198.18.0.2 8080")
        XCTAssertEqual(s.reals[0].port, 80)
        XCTAssertEqual(warnings, ["k.conf:3:2: warning: with DR real server 198.18.0.2:8080 takes the service's port 80, "
            + "as keepalived and ipvsadm (DR does not rewrite ports); write 80 or use NAT"])
    }

    func testPortZeroOrNoPortIsRefused() {
        let reason = "would serve every port of the address, with persistence; Switchyard's services are one port each: "
            + "write one virtual_server per port"
        XCTAssertEqual(error("virtual_server 198.18.0.1 0 {\n persistence_timeout 60\n lb_kind DR\n}"),
                       "k.conf:1:27: virtual_server 198.18.0.1 with no port (or port 0) \(reason)")
        XCTAssertEqual(error("virtual_server 198.18.0.1 {\n lb_kind DR\n}"),
                       "k.conf:1:1: virtual_server 198.18.0.1 with no port (or port 0) \(reason)")
    }

    func testRealServerLvsMethodThatAgreesIsAccepted() throws {
        let (s, warnings) = try service(" lb_kind DR\n real_server 198.18.0.2 80 { lvs_method DR }\n real_server 198.18.0.3 80")
        XCTAssertEqual(s.method, .dr)
        XCTAssertEqual(warnings, [])
        let (own, ownWarnings) = try service(" real_server 198.18.0.2 80 { lvs_method DR }")
        XCTAssertEqual(own.method, .dr, "a real server's own method serves when the service has none")
        XCTAssertEqual(ownWarnings, [])
    }

    func testRealServerLvsMethodThatDiffersIsRefused() {
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind NAT\n real_server 198.18.0.2 80\n"
                             + " real_server 198.18.0.3 80 { lvs_method DR }\n}"),
                       "k.conf:4:41: real server 198.18.0.3:80 is forwarded by DR but the first real server of "
                       + "TCP 198.18.0.1:80 by NAT; Switchyard forwards a service's real servers by one method: "
                       + "give them the same lvs_method, or put them in two services")
    }

    func testVirtualServerWeightIsTheRealServersDefault() throws {
        let (s, _) = try service(" lb_kind DR\n weight 4\n real_server 198.18.0.2 80\n real_server 198.18.0.3 80 { weight 1 }")
        XCTAssertEqual(s.reals.map(\.weight), [4, 1])
    }

    func testRealServerWithOnlyUnbuiltCheckersIsHeldDown() throws {
        let (s, warnings) = try service(" lb_kind DR\n real_server 198.18.0.2 80 {\n  BFD_CHECK {\n   name b1\n  }\n }\n"
                                        + " real_server 198.18.0.3 80 {\n  TCP_CHECK { }\n }")
        XCTAssertEqual(s.reals.map(\.address), [IPAddressBits(text: "198.18.0.3")!], "held down: out of the table")
        XCTAssertEqual(warnings, ["k.conf:4:3: warning: BFD_CHECK is not built in Switchyard (keepalived: checks the state "
            + "of a bfd_instance); real server 198.18.0.2:80 is held down (never up) until it has a checker Switchyard runs "
            + "(TCP_CHECK, HTTP_GET, SSL_GET, PING_CHECK, MISC_CHECK, SMTP_CHECK, DNS_CHECK, UDP_CHECK or FILE_CHECK)"])
    }

    func testHeldDownWithInhibitStaysAtWeightZero() throws {
        for kind in ["BFD_CHECK"] {
            let (s, warnings) = try service(" lb_kind DR\n real_server 198.18.0.2 80 {\n  weight 5\n  inhibit_on_failure\n"
                                            + "  \(kind) { }\n }")
            XCTAssertEqual(s.reals.map(\.weight), [0], kind)
            XCTAssertEqual(warnings.count, 1, kind)
            XCTAssertTrue(warnings[0].hasPrefix("k.conf:6:3: warning: \(kind) is not built in Switchyard"), warnings[0])
        }
    }

    func testUnbuiltCheckerBesideARunningOneLeavesItToThatOne() throws {
        let (s, warnings) = try service(" lb_kind DR\n real_server 198.18.0.2 80 {\n  TCP_CHECK { }\n  BFD_CHECK { name b }\n }")
        XCTAssertEqual(s.reals[0].checkers.map(\.kind), [.tcp])
        XCTAssertEqual(s.reals[0].weight, 1)
        XCTAssertEqual(warnings, ["k.conf:5:3: warning: BFD_CHECK is not built in Switchyard (keepalived: checks the state "
            + "of a bfd_instance); real server 198.18.0.2:80's other checkers decide whether it is up"])
    }

    func testMiscDynamicIsReadWithoutWarning() throws {
        let (s, warnings) = try service(" lb_kind DR\n real_server 198.18.0.2 80 {\n  MISC_CHECK {\n   misc_path /bin/true\n"
                                        + "   misc_dynamic\n  }\n }")
        XCTAssertEqual(s.reals[0].checkers.map(\.kind), [.misc(path: "/bin/true", timeout: nil)])
        XCTAssertEqual(s.reals[0].checkers.map(\.miscDynamic), [true])
        XCTAssertEqual(warnings, [])
    }

    func testVirtualServerGroupAndFwmarkAreRefusedWithWhatToDo() {
        XCTAssertEqual(error("virtual_server_group G {\n 198.18.0.1 80\n}"),
                       "k.conf:1:1: virtual_server_group is not supported yet: Switchyard's services are one address and "
                       + "port each; write one virtual_server per address and port of the group, with the same real servers")
        XCTAssertEqual(error("virtual_server group G {\n lb_kind DR\n}"),
                       "k.conf:1:16: virtual_server group is not supported yet: write one virtual_server per address and "
                       + "port of the virtual_server_group, with the same real servers")
        XCTAssertEqual(error("virtual_server fwmark 5 {\n lb_kind DR\n}"),
                       "k.conf:1:16: virtual_server fwmark is not supported yet: Switchyard matches a service by address, "
                       + "protocol and port, not by firewall mark; write one virtual_server per address and port the mark covers")
    }
}

/// Settings keepalived settles after reading: sorry server port, quorum, ip_family, virtualhost.
final class KeepalivedSettlingTests: XCTestCase {
    func service(_ body: String) throws -> (VirtualServiceConfig, [String]) {
        let c = try Config.parse("virtual_server 198.18.0.1 80 {\n\(body)\n}\n", path: "k.conf")
        return (c.services[0], c.warnings.map(\.description))
    }

    func testSorryServerWithNoPortTakesTheServicePort() throws {
        let (s, warnings) = try service(" lb_kind NAT\n sorry_server 198.18.0.9\n real_server 198.18.0.2 8080")
        XCTAssertEqual(s.sorryServer, SorryServerConfig(address: IPAddressBits(text: "198.18.0.9")!, port: 80))
        XCTAssertEqual(warnings, [])
    }

    func testDRSorryServerPortBecomesTheServicePort() throws {
        let (s, warnings) = try service(" lb_kind DR\n sorry_server 198.18.0.9 8080\n real_server 198.18.0.2 80")
        XCTAssertEqual(s.sorryServer?.port, 80)
        XCTAssertEqual(warnings, ["k.conf:3:2: warning: with DR the sorry server takes the service's port 80, not 8080, "
            + "as keepalived (DR does not rewrite ports)"])
    }

    func testQuorumAboveTheTotalWeightIsLowered() throws {
        let (s, warnings) = try service(" lb_kind DR\n quorum 10\n hysteresis 3\n real_server 198.18.0.2 80 { weight 2 }\n"
                                        + " real_server 198.18.0.3 80 { weight 1 }")
        XCTAssertEqual(s.quorum, 3)
        XCTAssertEqual(s.hysteresis, 2)
        XCTAssertEqual(warnings, [
            "k.conf:1:1: warning: quorum 10 of TCP 198.18.0.1:80 exceeds the real servers' total weight 3; 3 is used, as keepalived",
            "k.conf:1:1: warning: hysteresis 3 of TCP 198.18.0.1:80 is not below its quorum 3; 2 is used, as keepalived",
        ])
    }

    func testIPFamilyMustAgreeWithTheAddress() throws {
        let (_, warnings) = try service(" lb_kind DR\n ip_family inet\n real_server 198.18.0.2 80")
        XCTAssertEqual(warnings, [])
        XCTAssertThrowsError(try service(" lb_kind DR\n ip_family inet6")) { e in
            XCTAssertEqual((e as? ConfigDiagnostic)?.description,
                           "k.conf:3:12: ip_family inet6 does not match the virtual server's address 198.18.0.1")
        }
    }

    func testSCTPIsKnownButNotSupported() {
        XCTAssertThrowsError(try service(" lb_kind DR\n protocol SCTP")) { e in
            XCTAssertEqual((e as? ConfigDiagnostic)?.description,
                           "k.conf:3:11: protocol SCTP is not supported yet; expected TCP or UDP")
        }
    }

    func testVirtualhostOfTheServiceOrRealServerReachesHTTPGet() throws {
        let (s, warnings) = try service(" lb_kind DR\n virtualhost svc.example\n"
                                        + " real_server 198.18.0.2 80 {\n  HTTP_GET { url { path / } }\n }\n"
                                        + " real_server 198.18.0.3 80 {\n  virtualhost rs.example\n  HTTP_GET { }\n }\n"
                                        + " real_server 198.18.0.4 80 {\n  virtualhost rs.example\n  HTTP_GET { virtualhost own.example }\n }")
        let hosts = s.reals.map { r -> String? in
            guard case .http(_, let host) = r.checkers[0].kind else { return "not HTTP_GET" }
            return host
        }
        XCTAssertEqual(hosts, ["svc.example", "rs.example", "own.example"])
        XCTAssertEqual(warnings, [])
    }
}
