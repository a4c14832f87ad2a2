// MISC_CHECK's misc_dynamic, as keepalived's check_misc.c: exit 0 up at the configured weight,
// 1 down, 2...255 up with weight = code − 2; the weight reaches the table, the snapshot and
// the listing, and a later exit 0 gives the configured weight back.
import XCTest
@testable import SwitchyardControl
import SwitchyardCore

final class MiscDynamicTests: XCTestCase {
    func status(exit code: Int32) -> Int32 { code << 8 }

    func testExitCodesAsKeepalivedReadsThem() {
        XCTAssertEqual(HealthProbes.miscVerdict("c", status: status(exit: 0), dynamic: true), .up)
        XCTAssertEqual(HealthProbes.miscVerdict("c", status: status(exit: 1), dynamic: true), .down("MISC_CHECK c: exit status 1"))
        XCTAssertEqual(HealthProbes.miscVerdict("c", status: status(exit: 2), dynamic: true), .weighted(0))
        XCTAssertEqual(HealthProbes.miscVerdict("c", status: status(exit: 12), dynamic: true), .weighted(10))
        XCTAssertEqual(HealthProbes.miscVerdict("c", status: status(exit: 255), dynamic: true), .weighted(253))
        XCTAssertEqual(HealthProbes.miscVerdict("c", status: 9, dynamic: true), .down("MISC_CHECK c: exit status 137"),
                       "killed by a signal: down, whatever the number")
        XCTAssertEqual(HealthProbes.miscVerdict("c", status: status(exit: 12)), .down("MISC_CHECK c: exit status 12"),
                       "without misc_dynamic every non-zero exit is down")
        XCTAssertEqual(HealthProbes.misc("exit 7", timeout: 2, dynamic: true), .weighted(5), "a real script")
    }

    func testAWeightChangeIsReportedWhileUp() {
        var p = CheckProgress(timing: CheckTiming(), startUp: true, start: 0)
        XCTAssertNil(p.record(.up, at: 1))
        XCTAssertEqual(p.record(.weighted(5), at: 2), true, "same state, new weight: reported")
        XCTAssertNil(p.record(.weighted(5), at: 3))
        XCTAssertEqual(p.record(.up, at: 4), true, "the configured weight back")
        XCTAssertNil(p.weight)
    }

    func testTheWeightReachesTableSnapshotAndListing() throws {
        var table = ServiceTable()
        let config = try Config.parse("""
            virtual_server 198.18.0.100 80 {
                lb_algo wrr
                lb_kind DR
                real_server 198.18.0.11 80 {
                    weight 3
                    MISC_CHECK {
                        misc_path /bin/true
                        misc_dynamic
                    }
                }
            }
            """, path: "d.conf")
        _ = table.apply(config)
        let id = try XCTUnwrap(table.services.first?.reals.first?.id)
        _ = table.setChecker(realID: id, index: 0, up: true, weight: 10)
        XCTAssertEqual(table.services[0].reals[0].weight, 10)
        XCTAssertEqual(table.services[0].aliveWeight, 10)
        let spec = table.specs(mac: { _ in MACAddress(bits: 1) }, interface: { _ in 0 })
        XCTAssertEqual(spec.first?.reals.first?.weight, 10)
        XCTAssertTrue(AdmRender.list(table, AdmCommand.ListOptions(), numbers: { _ in RealNumbers() })
            .contains("  -> 198.18.0.11:80               Route   10     "), "ipvsadm -L shows the weight in force")
        _ = table.setChecker(realID: id, index: 0, up: true, weight: nil)
        XCTAssertEqual(table.services[0].reals[0].weight, 3)
    }
}
