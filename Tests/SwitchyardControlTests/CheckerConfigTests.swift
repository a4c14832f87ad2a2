// Reading SSL_GET, SMTP_CHECK, DNS_CHECK and UDP_CHECK blocks and the top-level SSL block as
// keepalived 2.2 reads them, and the errors (with line and column) where a value is wrong.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class CheckerConfigTests: XCTestCase {
    func checkers(_ body: String, before: String = "", after: String = "") throws -> ([CheckerConfig], [String]) {
        let c = try Config.parse(before + "virtual_server 198.18.0.1 80 {\n lb_kind NAT\n real_server 198.18.0.2 80 {\n"
                                 + body + "\n }\n}\n" + after, path: "k.conf")
        return (c.services[0].reals.first?.checkers ?? [], c.warnings.map(\.description))
    }

    func error(_ body: String, before: String = "") -> String {
        do {
            _ = try checkers(body, before: before)
            return "no error"
        } catch let e as ConfigDiagnostic {
            return e.description
        } catch {
            return "\(error)"
        }
    }

    func testSSLGetWithSNIAndTheSSLBlockAfterIt() throws {
        let (c, warnings) = try checkers("  virtualhost www.example\n  SSL_GET {\n   url { path /health\n status_code 200-299 }\n"
                                         + "   enable_sni\n   tls_compliant\n  }\n  SSL_GET {\n   sni_name other.example\n  }",
                                         after: "SSL {\n password pw\n certificate /dev/null\n key /dev/null\n ca /dev/null\n}\n")
        var tls = TLSClientSettings()
        (tls.password, tls.certificate, tls.key, tls.ca) = ("pw", "/dev/null", "/dev/null", "/dev/null")
        XCTAssertEqual(c.map(\.kind), [
            .ssl(urls: [URLCheck(path: "/health", statusCodes: [200...299])], virtualHost: "www.example", sni: "www.example", tls: tls),
            .ssl(urls: [URLCheck()], virtualHost: "www.example", sni: nil, tls: tls),
        ], "SNI only with enable_sni, then sni_name or the virtualhost")
        XCTAssertEqual(warnings, ["k.conf:9:4: warning: tls_compliant is ignored (keepalived: closes TLS connections with a close_notify)"])
        XCTAssertEqual(error("  SSL_GET { }", before: "SSL {\n certificate /nonexistent/cert.pem\n}\n"),
                       "k.conf:2:14: SSL certificate /nonexistent/cert.pem: No such file or directory")
        XCTAssertEqual(error("  SSL_GET { }", before: "SSL {\n verify yes\n}\n"),
                       "k.conf:2:2: unknown keyword \"verify\" in SSL; expected password, ca, certificate or key")
    }

    func testSMTPCheckHeloAndItsDefault() throws {
        let (c, _) = try checkers("  SMTP_CHECK {\n   helo_name lb.example\n   connect_port 2525\n  }\n  SMTP_CHECK { }")
        XCTAssertEqual(c.map(\.kind), [.smtp(helo: "lb.example"), .smtp(helo: "smtpchecker.keepalived.org")])
        XCTAssertEqual(c.map(\.connectPort), [2525, nil], "no connect_port: the real server's, as keepalived")
    }

    func testSMTPHostBlocksWithoutOwnConnectionReplaceTheChecker() throws {
        let (c, warnings) = try checkers("  SMTP_CHECK {\n   retry 2\n   host { connect_ip 198.18.0.3 }\n"
                                         + "   host { connect_ip 198.18.0.4\n connect_port 587\n connect_timeout 2 }\n  }")
        XCTAssertEqual(c.map(\.connectIP), [IPAddressBits(text: "198.18.0.3"), IPAddressBits(text: "198.18.0.4")], "the first host takes its place")
        XCTAssertEqual(c.map(\.connectPort), [nil, 587])
        XCTAssertEqual(c.map(\.timing.connectTimeout), [5, 2])
        XCTAssertEqual(c.map(\.timing.retry), [2, 2], "the checker's settings go to every host")
        XCTAssertEqual(warnings.count, 1)
        XCTAssertEqual(error("  SMTP_CHECK {\n   host { helo_name x }\n  }"),
                       "k.conf:5:11: unknown keyword \"helo_name\" in SMTP_CHECK host; expected connect_ip, connect_port or connect_timeout")
    }

    func testDNSCheckTypeAndName() throws {
        let (c, _) = try checkers("  DNS_CHECK {\n   type aaaa\n   name www.example\n  }\n  DNS_CHECK { }")
        XCTAssertEqual(c.map(\.kind), [.dns(type: .aaaa, name: "www.example"), .dns(type: .soa, name: "")])
        XCTAssertEqual(error("  DNS_CHECK {\n   type SPF\n  }"),
                       "k.conf:5:9: unknown DNS_CHECK type \"SPF\"; expected one of A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG, DNSKEY")
        XCTAssertEqual(error("  DNS_CHECK {\n   name a..b\n  }"),
                       "k.conf:5:9: DNS_CHECK name \"a..b\" is not a domain name (an empty or over-long label)")
        XCTAssertEqual(error("  DNS_CHECK {\n   name .a\n  }"),
                       "k.conf:5:9: DNS_CHECK name \".a\" is not a domain name (an empty or over-long label)")
    }

    func testUDPCheckHexAsKeepalivedReadsIt() throws {
        let (c, _) = try checkers("  UDP_CHECK {\n   payload 0102 a bC\n   require_reply 01 2x XX\n   min_reply_length 3\n"
                                  + "   max_reply_length 10\n  }")
        var u = UDPCheck()
        u.payload = [0x01, 0x02, 0x0A, 0xBC]
        u.requireReply = true
        u.reply = [0x01, 0x20, 0x00]
        u.replyMask = [0x00, 0x0F, 0xFF]
        (u.minReplyLength, u.maxReplyLength) = (3, 10)
        XCTAssertEqual(c.map(\.kind), [.udp(u)])
        XCTAssertEqual(error("  UDP_CHECK {\n   payload 01x2\n  }"), "k.conf:5:12: UDP_CHECK payload must be hex digits, e.g. payload 0102 0a0b")
        XCTAssertEqual(error("  UDP_CHECK {\n   min_reply_length 9\n   max_reply_length 4\n  }"),
                       "k.conf:6:4: UDP_CHECK min_reply_length 9 is above max_reply_length 4: the check could never pass")
    }

    func testEnableSNIUnderHTTPGetIsIgnoredWithAWarning() throws {
        let (c, warnings) = try checkers("  HTTP_GET {\n   enable_sni\n  }")
        XCTAssertEqual(c.map(\.kind.name), ["HTTP_GET"])
        XCTAssertEqual(warnings, ["k.conf:5:4: warning: enable_sni is ignored (keepalived: sends the server name in the TLS handshake)"])
    }
}
