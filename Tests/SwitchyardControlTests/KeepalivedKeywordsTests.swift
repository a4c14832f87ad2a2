// Every keyword keepalived 2.2 knows is accepted: one warning naming it, its line:col and what
// keepalived would have done; a block keyword's block skipped whole; a keyword keepalived does
// not know is still an error. And HTTP_GET's status_code as keepalived's check_http.c reads it.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class KeepalivedKeywordsTests: XCTestCase {
    func warnings(_ text: String) throws -> [String] { try Config.parse(text, path: "k.conf").warnings.map(\.description) }

    func error(_ text: String) -> String {
        do {
            _ = try Config.parse(text, path: "k.conf")
            return "no error"
        } catch {
            return error.description
        }
    }

    /// One real server in a DR service, with `body` in the place `at` names.
    func wrapped(_ line: String, in place: String) -> String {
        switch place {
        case "virtual_server": "virtual_server 198.18.0.1 80 {\n lb_kind DR\n \(line)\n real_server 198.18.0.2 80\n}\n"
        case "real_server": "virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 {\n \(line)\n }\n}\n"
        case "HTTP_GET":
            "virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 {\n HTTP_GET {\n \(line)\n }\n }\n}\n"
        case "url":
            "virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 {\n HTTP_GET {\n url {\n \(line)\n }\n }\n }\n}\n"
        case "global_defs": "global_defs {\n \(line)\n}\n"
        default: "\(line)\n"
        }
    }

    func testIssueListedKeywordsEachGiveOneWarningWithWhatKeepalivedDoes() throws {
        let cases: [(String, String, String)] = [
            ("nat_mask 255.255.255.0", "virtual_server", "k.conf:3:2: warning: nat_mask is ignored (keepalived: an option of keepalived 1.x that never had any effect)"),
            ("sh-port", "virtual_server", "k.conf:3:2: warning: sh-port is ignored (keepalived: makes the sh scheduler hash the source port too)"),
            ("sh-fallback", "virtual_server", "k.conf:3:2: warning: sh-fallback is ignored (keepalived: makes the sh scheduler pick another real server when the hashed one is down)"),
            ("hashed", "virtual_server", "k.conf:3:2: warning: hashed is ignored (keepalived: sets the IPVS hashed flag (IP_VS_SVC_F_HASHED))"),
            ("flag-2", "virtual_server", "k.conf:3:2: warning: flag-2 is ignored (keepalived: sets the scheduler flag IP_VS_SVC_F_SCHED2)"),
            ("snmp_name web", "virtual_server", "k.conf:3:2: warning: snmp_name is ignored (keepalived: names the service in SNMP)"),
            ("snmp_name web1", "real_server", "k.conf:4:2: warning: snmp_name is ignored (keepalived: names the real server in SNMP)"),
            ("alpha", "HTTP_GET", "k.conf:5:2: warning: alpha is ignored (keepalived: starts this checker down until it first succeeds)"),
            ("log_all_failures", "HTTP_GET", "k.conf:5:2: warning: log_all_failures is ignored (keepalived: logs every failed attempt, not only state changes)"),
            ("sni_name www.example.com", "HTTP_GET", "k.conf:5:2: warning: sni_name is ignored (keepalived: the server name sent in the TLS handshake)"),
            ("fast_recovery", "HTTP_GET", "k.conf:5:2: warning: fast_recovery is ignored (keepalived: checks again at once after a failure instead of waiting for delay_loop)"),
            ("regex_options caseless", "url", "k.conf:6:2: warning: regex_options is ignored (keepalived: PCRE2 options of the regex)"),
            ("regex_min_offset 10", "url", "k.conf:6:2: warning: regex_min_offset is ignored (keepalived: searches for the regex from this offset of the body)"),
            ("regex_stack 64 128", "url", "k.conf:6:2: warning: regex_stack is ignored (keepalived: gives PCRE2's JIT its own stack)"),
            ("notification_email_from lb@example.com", "global_defs", "k.conf:2:2: warning: notification_email_from is ignored (keepalived: sends email alerts on state changes)"),
            ("enable_snmp_checker", "global_defs", "k.conf:2:2: warning: enable_snmp_checker is ignored (keepalived: exports its state over SNMP)"),
            ("net_namespace blue", "top", "k.conf:1:1: warning: net_namespace is ignored (keepalived: runs keepalived inside this network namespace)"),
        ]
        for (line, place, expected) in cases {
            XCTAssertEqual(try warnings(wrapped(line, in: place)), [expected], "\(line) in \(place)")
        }
    }

    func testABlockKeywordSkipsItsWholeBlockWithOneWarning() throws {
        let text = """
        garp_group {
            garp_interval 3
            interface eth0
        }
        vrrp_track_process nginx { process nginx }
        track_group G { group { VI_1 } }
        """
        XCTAssertEqual(try warnings(text), [
            "k.conf:1:1: warning: garp_group { … } is ignored (keepalived: groups of gratuitous ARP intervals per interface)",
            "k.conf:5:1: warning: vrrp_track_process { … } is ignored (keepalived: watches a process so VRRP instances can track it)",
            "k.conf:6:1: warning: track_group { … } is ignored (keepalived: groups VRRP instances that track the same things)",
        ])
    }

    func testEveryGlobalDefsKeywordOfKeepalivedIsAccepted() throws {
        for keyword in KeepalivedKeywords.globalDefsKnown.sorted() {
            let got = try warnings("global_defs {\n \(keyword) x\n}\n")
            XCTAssertEqual(got.count, 1, keyword)
            XCTAssertTrue(got.first?.hasPrefix("k.conf:2:2: warning: \(keyword) is ignored (keepalived: ") ?? false, "\(got)")
        }
        XCTAssertGreaterThan(KeepalivedKeywords.globalDefsKnown.count, 130, "keepalived 2.2 has about 140 of them")
    }

    func testKeywordsKeepalivedDoesNotKnowAreStillErrors() {
        XCTAssertEqual(error("global_defs {\n routr_id LB1\n}"), "k.conf:2:2: unknown keyword \"routr_id\" in global_defs")
        XCTAssertEqual(error("global_defs {\n vrrp_made_up 1\n}"), "k.conf:2:2: unknown keyword \"vrrp_made_up\" in global_defs",
                       "no more accepting every vrrp_ prefix")
        XCTAssertEqual(error(wrapped("nat_maks 255.0.0.0", in: "virtual_server")), "k.conf:3:2: unknown keyword \"nat_maks\" in virtual_server")
        XCTAssertEqual(error(wrapped("sni_nam x", in: "HTTP_GET")), "k.conf:5:2: unknown keyword \"sni_nam\" in HTTP_GET")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 {\n TCP_CHECK {\n sni_name x\n }\n }\n}\n"),
                       "k.conf:5:2: unknown keyword \"sni_name\" in TCP_CHECK", "HTTP_GET's keywords only where keepalived has them")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 {\n TCP_CHECK {\n user nobody\n }\n }\n}\n"),
                       "k.conf:5:2: unknown keyword \"user\" in TCP_CHECK", "MISC_CHECK's user only there")
    }

    func testRegexNoMatchIsRefusedRatherThanTurnedUpsideDown() {
        XCTAssertEqual(error(wrapped("regex_no_match", in: "url")),
                       "k.conf:6:2: regex_no_match is not supported yet: Switchyard would count a match as up, the opposite "
                       + "of what it asks; remove the regex, or match what a healthy answer contains")
    }

    func urls(_ lines: String) throws -> [URLCheck] {
        let c = try Config.parse(wrapped("path /\n" + lines, in: "url"), path: "k.conf")
        guard case .http(let urls, _) = c.services[0].reals[0].checkers[0].kind else { return [] }
        return urls
    }

    func testStatusCodeRangesAndLists() throws {
        let range = try urls("status_code 200-299")[0]
        XCTAssertEqual(range.statusCodes, [200...299])
        XCTAssertTrue(range.accepts(status: 204))
        XCTAssertFalse(range.accepts(status: 301))
        let list = try urls("status_code 200 301\nstatus_code 404")[0]
        XCTAssertEqual(list.statusCodes, [200...200, 301...301, 404...404], "lines add up, as keepalived's bit array")
        XCTAssertEqual(list.expectedStatuses, "200 301 404")
        XCTAssertTrue(list.accepts(status: 301))
        XCTAssertFalse(list.accepts(status: 302))
    }

    func testNoStatusCodeMeansAny2xx() throws {
        let u = try urls("")[0]
        XCTAssertEqual(u.statusCodes, [200...299])
        XCTAssertTrue(u.accepts(status: 204))
        XCTAssertFalse(u.accepts(status: 199))
        XCTAssertFalse(u.accepts(status: 300))
    }

    func testBadStatusCodesSayWhatToWrite() {
        for bad in ["99", "200-", "300-200", "2xx", "200-600"] {
            XCTAssertEqual(error(wrapped("status_code 200 \(bad)", in: "url")),
                           "k.conf:6:18: status_code \"\(bad)\" is not a status or a range of statuses from 100 to 599 (e.g. 200, 200-299)")
        }
    }

    func testHTTPProbeJudgesByTheSet() {
        let answer = Array("HTTP/1.0 302 Found\r\nLocation: /\r\n\r\n".utf8)
        XCTAssertEqual(HealthProbes.evaluateHTTP(answer, url: URLCheck(statusCodes: [200...299])),
                       .down("HTTP_GET /: status 302, expected 200-299"))
        XCTAssertEqual(HealthProbes.evaluateHTTP(answer, url: URLCheck(statusCodes: [200...200, 302...302])), .up)
    }
}
