// FILE_CHECK and track_file as keepalived 2.2 reads and judges them (track_file.c, check_file.c):
// the number in the file against weight 0, a weight, reverse; strtol's bases; a missing file;
// the block after its checkers; init_file at start.
import Glibc
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class TrackFileTests: XCTestCase {
    func check(weight: Int, reverse: Bool = false, base: Int = 10) -> FileCheck {
        FileCheck(trackFile: "f", path: "/f", weight: weight, reverse: reverse, baseWeight: base)
    }

    func testWeightZeroIsUpOnlyOnZero() {
        XCTAssertEqual(check(weight: 0).judge("0\n"), .up)
        XCTAssertEqual(check(weight: 0).judge(nil), .up, "a missing or empty file reads as 0")
        XCTAssertEqual(check(weight: 0).judge("3"), .down("FILE_CHECK /f: 3"))
        XCTAssertEqual(check(weight: 0, reverse: true).judge("0"), .down("FILE_CHECK /f: 0 (reverse)"))
        XCTAssertEqual(check(weight: 0, reverse: true).judge("1"), .up)
    }

    func testAWeightMovesTheRealServersWeight() {
        XCTAssertEqual(check(weight: 2).judge("3"), .weighted(16), "10 + 3 × 2")
        XCTAssertEqual(check(weight: 2, reverse: true).judge("3"), .weighted(4), "10 − 3 × 2")
        XCTAssertEqual(check(weight: 5).judge("-4"), .weighted(0), "never below 0")
        XCTAssertEqual(check(weight: 1).judge("0x10"), .weighted(26), "strtol base 0: hex")
        XCTAssertEqual(check(weight: 1).judge("010 trailing"), .weighted(18), "octal, junk after ignored")
        XCTAssertEqual(check(weight: 1).judge("0"), .up)
        XCTAssertEqual(check(weight: 1).judge("-2147483648"), .down("FILE_CHECK /f: -2147483648 gives weight -2147483648, a fault"))
        XCTAssertEqual(check(weight: 1).judge("99999999999"), .down("FILE_CHECK /f: \"99999999999\" is not a number in range"))
    }

    func testConfigResolvesTheTrackFileAfterItsCheckers() throws {
        let c = try Config.parse("""
            virtual_server 198.18.0.1 80 {
                lb_kind DR
                real_server 198.18.0.2 80 {
                    weight 4
                    FILE_CHECK { track_file ops }
                    FILE_CHECK {
                        track_file ops
                        weight 0 reverse
                    }
                }
            }
            track_file ops {
                file /run/switchyard/ops
                weight -3 reverse
                init_file 5 overwrite
            }
            """, path: "t.conf")
        XCTAssertEqual(c.services[0].reals[0].checkers.map(\.kind), [
            .file(FileCheck(trackFile: "ops", path: "/run/switchyard/ops", weight: -3, reverse: true, baseWeight: 4)),
            .file(FileCheck(trackFile: "ops", path: "/run/switchyard/ops", weight: 0, reverse: true, baseWeight: 4)),
        ])
        XCTAssertEqual(c.trackFiles.first?.initValue, 5)
        XCTAssertEqual(c.trackFiles.first?.overwrite, true)
        XCTAssertEqual(c.warnings, [])
        XCTAssertThrowsError(try Config.parse("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 {\n"
                                              + "  FILE_CHECK { track_file nope }\n }\n}\n", path: "t.conf")) {
            XCTAssertEqual(($0 as? ConfigDiagnostic)?.description, "t.conf:4:3: FILE_CHECK: no track_file nope is defined")
        }
    }

    func testInitFileAndAProbeReadingIt() throws {
        let path = "/tmp/switchyard-track-\(getpid())"
        unlink(path)
        defer { unlink(path) }
        var config = Config()
        config.trackFiles = [TrackFileConfig(name: "t", path: path, initValue: 2, location: SourceLocation(line: 1, column: 1))]
        TrackFiles.initialise(config)
        XCTAssertEqual(TrackFiles.read(path), "2\n")
        config.trackFiles[0].initValue = 7
        TrackFiles.initialise(config)
        XCTAssertEqual(TrackFiles.read(path), "2\n", "an existing file is kept without overwrite")
        config.trackFiles[0].overwrite = true
        TrackFiles.initialise(config)
        XCTAssertEqual(TrackFiles.read(path), "7\n")
        let checker = CheckerConfig(kind: .file(FileCheck(trackFile: "t", path: path, weight: 0, baseWeight: 1)),
                                    timing: CheckTiming(), location: SourceLocation(line: 1, column: 1))
        XCTAssertEqual(HealthProbes.run(checker, address: IPAddressBits(text: "198.18.0.2")!, port: 80), .down("FILE_CHECK \(path): 7"))
    }
}
