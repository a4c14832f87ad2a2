// `switchyard check --strict`: every warning becomes an error line and the exit status is
// non-zero; without --strict the same file passes with its warnings. Runs the built binary.
import Glibc
import XCTest
@testable import SwitchyardControl

final class StrictCheckTests: XCTestCase {
    /// Runs `switchyard ARGUMENTS` on a config holding `text`; its exit status and its output
    /// (stdout and stderr) with the config's path replaced by CONFIG.
    func check(_ text: String, _ arguments: String) throws -> (status: Int32, output: String) {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = String(decoding: buffer[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let binary = String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/switchyard"
        guard access(binary, X_OK) == 0 else { throw XCTSkip("\(binary) is not built (swift build builds it)") }
        let path = "/tmp/switchyard-strict-\(getpid()).conf"
        guard let file = fopen(path, "w") else { throw XCTSkip("cannot write \(path)") }
        fputs(text, file)
        fclose(file)
        defer { unlink(path) }
        guard let pipe = popen("'\(binary)' check --config '\(path)' \(arguments) 2>&1", "r") else { throw XCTSkip("popen failed") }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = fread(&chunk, 1, chunk.count, pipe)
            if got == 0 { break }
            out += chunk[0..<got]
        }
        let status = pclose(pipe)
        let output = String(decoding: out, as: UTF8.self).replacingOccurrences(of: path, with: "CONFIG")
        return ((status >> 8) & 0xFF, output)
    }

    let warned = "global_defs {\n router_id LB1\n}\nvirtual_server 198.18.0.1 80 {\n lb_kind DR\n hashed\n real_server 198.18.0.2 80\n}\n"

    func testStrictTurnsEachWarningIntoAnErrorAndFails() throws {
        let (status, output) = try check(warned, "--strict")
        XCTAssertEqual(status, 1)
        XCTAssertEqual(output, """
        CONFIG:2:2: router_id is ignored (keepalived: names this box in its email alerts and SNMP)
        CONFIG:6:2: hashed is ignored (keepalived: sets the IPVS hashed flag (IP_VS_SVC_F_HASHED))
        CONFIG: 2 warning(s), which --strict counts as errors

        """)
    }

    func testWithoutStrictTheSameFilePassesWithWarnings() throws {
        let (status, output) = try check(warned, "")
        XCTAssertEqual(status, 0)
        XCTAssertTrue(output.hasPrefix("CONFIG:2:2: warning: router_id is ignored"), output)
        XCTAssertTrue(output.contains("CONFIG: OK, 1 virtual service(s)"), output)
    }

    func testStrictPassesAFileWithNoWarnings() throws {
        let (status, output) = try check("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80\n}\n", "--strict")
        XCTAssertEqual(status, 0)
        XCTAssertTrue(output.hasPrefix("CONFIG: OK, 1 virtual service(s)"), output)
    }

    func testWarningsAsErrorsKeepsPlaceAndMessage() throws {
        let c = try Config.parse(warned, path: "k.conf")
        XCTAssertEqual(c.warningsAsErrors.map(\.description), [
            "k.conf:2:2: router_id is ignored (keepalived: names this box in its email alerts and SNMP)",
            "k.conf:6:2: hashed is ignored (keepalived: sets the IPVS hashed flag (IP_VS_SVC_F_HASHED))",
        ])
    }
}
