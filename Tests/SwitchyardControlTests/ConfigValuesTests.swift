import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

/// The config file and adm take the same values for the same settings, and every timing keyword
/// works on each of the three levels keepalived allows.
final class ConfigValuesTests: XCTestCase {
    func config(service: String = "", real: String = "", checker: String = "") -> String {
        """
        virtual_server 198.18.0.100 80 {
            lb_kind DR
            \(service)
            real_server 198.18.0.11 80 {
                \(real)
                TCP_CHECK {
                    \(checker)
                }
            }
        }
        """
    }

    func parseError(_ text: String) -> String? {
        do {
            _ = try Config.parse(text, path: "t.conf")
            return nil
        } catch {
            return error.message
        }
    }

    func admError(_ args: String) -> String? {
        do {
            _ = try AdmCommand.parse(args.split(separator: " ").map(String.init))
            return nil
        } catch {
            return error.description
        }
    }

    func testEveryTimingKeywordOnEveryLevel() throws {
        for keyword in TimingKeyword.allCases {
            for level in 0..<3 {
                let line = "\(keyword.rawValue) 2"
                let text = config(service: level == 0 ? line : "", real: level == 1 ? line : "", checker: level == 2 ? line : "")
                let checker = try Config.parse(text, path: "t.conf").services[0].reals[0].checkers[0]
                switch keyword.rule {
                case .seconds(_, let field): XCTAssertEqual(checker.timing[keyPath: field], 2, "\(keyword) on level \(level)")
                case .count(_, let field): XCTAssertEqual(checker.timing[keyPath: field], 2, "\(keyword) on level \(level)")
                }
                let bad = "\(keyword.rawValue) 100000"
                XCTAssertNotNil(parseError(config(service: level == 0 ? bad : "", real: level == 1 ? bad : "",
                                                  checker: level == 2 ? bad : "")), "\(keyword) on level \(level)")
            }
        }
        XCTAssertEqual(parseError(config(real: "connect_timeout 0.01")),
                       "connect_timeout must be seconds from 0.05 to 3600.0, not \"0.01\"")
        XCTAssertEqual(parseError(config(checker: "nb_get_retry 101")), "nb_get_retry must be a whole number from 0 to 100, not \"101\"")
    }

    func testConfigAndAdmAgreeOnWeightPersistenceAndNetmask() {
        let service = "-A -t 198.18.0.100:80"
        for (weight, ok) in [("0", true), ("65535", true), ("65536", false), ("-1", false)] {
            XCTAssertEqual(parseError(config(real: "weight \(weight)")) == nil, ok, "weight \(weight)")
            XCTAssertEqual(admError("-a -t 198.18.0.100:80 -r 198.18.0.11 -w \(weight)") == nil, ok, "-w \(weight)")
        }
        for (seconds, ok) in [("1", true), ("2678400", true), ("2678401", false), ("0", false)] {
            XCTAssertEqual(parseError(config(service: "persistence_timeout \(seconds)")) == nil, ok, "persistence \(seconds)")
            XCTAssertEqual(admError("\(service) -p \(seconds)") == nil, ok, "-p \(seconds)")
        }
        for (mask, ok) in [("255.255.255.0", true), ("0.0.0.0", true), ("255.255.255.255", true), ("255.0.255.0", false),
                           ("255.255.255.1", false), ("24", false)] {
            XCTAssertEqual(parseError(config(service: "persistence_granularity \(mask)")) == nil, ok, "granularity \(mask)")
            XCTAssertEqual(admError("\(service) -M \(mask)") == nil, ok, "-M \(mask)")
        }
        XCTAssertEqual(admError("-a -t 198.18.0.100:80 -r 198.18.0.11 -w 70000"), "illegal weight specified")
        XCTAssertEqual(admError("\(service) -p 3000000"), "invalid timeout value `3000000' specified")
        XCTAssertEqual(admError("--set 0 2000000 2000001"), "invalid timeout value `2000001' specified")
    }
}
