import Glibc
import XCTest

/// The CLI's help must say what the code does (and what the README says). The test runs the
/// `switchyard` binary built beside this test bundle; whitespace is collapsed because the
/// argument parser wraps help to the terminal's width.
final class HelpTests: XCTestCase {
    func help(_ arguments: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = String(decoding: buffer[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let binary = String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/switchyard"
        guard access(binary, X_OK) == 0 else { throw XCTSkip("\(binary) is not built (swift build builds it)") }
        guard let pipe = popen("COLUMNS=100 '\(binary)' \(arguments) 2>&1", "r") else { throw XCTSkip("popen failed") }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = fread(&chunk, 1, chunk.count, pipe)
            if got == 0 { break }
            out += chunk[0..<got]
        }
        pclose(pipe)
        return String(decoding: out, as: UTF8.self).split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    func testOverviewNamesBothForwardingMethods() throws {
        let text = try help("--help")
        XCTAssertTrue(text.contains("direct server return (DR) or NAT"), text)
    }

    func testRunHelpMatchesTheCode() throws {
        let text = try help("run --help")
        // The default receiver is per-frame TPACKET_V2; TPACKET_V3 only with --rx-ring blocks.
        XCTAssertFalse(text.contains("TPACKET_V3 rings"), text)
        XCTAssertTrue(text.contains("af_packet (AF_PACKET rings, TPACKET_V2 frames unless --rx-ring blocks)"), text)
        // Each VIP is served on the interface the kernel routes it through (Engine.interfaceName).
        XCTAssertFalse(text.contains("routes the real servers through"), text)
        XCTAssertTrue(text.contains("default: the one the kernel routes each VIP through"), text)
    }

    func testLogLevelIsAnOptionWhereItMakesSense() throws {
        for command in ["run", "check"] {
            let text = try help("\(command) --help")
            XCTAssertTrue(text.contains("--log-level <level> Log lines below this level are dropped: trace, debug, info, "
                + "notice, warning, error, critical. (default: info)"), text)
        }
        XCTAssertTrue(try help("adm --help").contains("[--log-level LEVEL]"))
        XCTAssertTrue(try help("check --config /dev/null --log-level loud").contains("--log-level must be one of trace, debug"))
    }
}
