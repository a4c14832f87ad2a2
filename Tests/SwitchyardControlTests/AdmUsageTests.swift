// `switchyard adm -h`: ipvsadm 1.31's usage shape (a version line, then Usage, Commands,
// virtual-service and Options, as usage_exit prints them), and every option the parser takes
// named in it.
@testable import SwitchyardControl
import XCTest

final class AdmUsageTests: XCTestCase {
    func testShapeIsIpvsadms() {
        let lines = AdmUsage.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.first, AdmUsage.version)
        XCTAssertEqual(AdmUsage.version, "switchyard adm (ipvsadm v1.31 syntax, IPVS v1.2.1 listing)")
        let sections = lines.filter { !$0.hasPrefix(" ") && $0.hasSuffix(":") }
        XCTAssertEqual(sections, ["Usage:", "Commands:", "Switchyard's own:", "virtual-service:", "Options:"])
        XCTAssertTrue(lines.contains("Either long or short options are allowed."))
        XCTAssertTrue(lines.contains("  --stats                             output of statistics information"))
        XCTAssertTrue(lines.contains("  --list            -L|-l     list the table"))
        XCTAssertTrue(AdmUsage.text.hasSuffix("\n"))
    }

    /// Each option the parser accepts and acts on is in the help, by its long name.
    func testEveryOptionTakenIsNamed() {
        let unsupported: Set = [
            "sctp-service", "fwmark-service", "ipip", "u-threshold", "l-threshold", "mcast-interface", "syncid",
            "daemon", "ipv6", "ops", "pe", "sched-flags", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen",
            "tun-info", "tun-type", "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum", "start-daemon", "stop-daemon",
            "version",
        ]
        for spec in AdmCommand.optionTable where !unsupported.contains(spec.long) {
            XCTAssertTrue([" ", "\n", "|"].contains { AdmUsage.text.contains("--\(spec.long)" + $0) },
                          "--\(spec.long) is not in the help")
        }
        for spec in AdmCommand.optionTable where spec.long != "list" {
            guard let letter = spec.short, !unsupported.contains(spec.long) else { continue }
            XCTAssertTrue(AdmUsage.text.contains("-\(letter) ") || AdmUsage.text.contains("-\(letter)|")
                              || AdmUsage.text.contains("|\(letter) "),
                          "-\(letter) is not in the help")
        }
    }
}
