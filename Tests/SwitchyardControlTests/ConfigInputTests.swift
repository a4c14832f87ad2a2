import Glibc
import XCTest
@testable import SwitchyardControl

/// Input that is not a config a person wrote: blocks nested without end, a path that is not a
/// regular file. Each is refused with a PATH:LINE:COL error instead of a crash or a false OK.
final class ConfigInputTests: XCTestCase {
    func parseError(_ text: String, path: String = "deep.conf") -> String {
        do {
            _ = try Config.parse(text, path: path)
            return "no error"
        } catch {
            return error.description
        }
    }

    /// 100,000 nested blocks overflowed the parser's stack (SIGSEGV in `check`, and a daemon
    /// given it with `adm --reload` died). The brace one level too deep is named instead.
    func testDeepNestingIsRefusedAtTheBraceTooDeep() {
        let depth = 100_000
        let text = String(repeating: "a {\n", count: depth) + String(repeating: "}\n", count: depth)
        let limit = ConfigSyntax.maxNesting
        XCTAssertEqual(parseError(text), "deep.conf:\(limit + 1):3: blocks nest more than \(limit) deep here; "
                           + "keepalived's own configs nest about 4 (is a '}' missing?)")
        // Braces on one line count the same way.
        let oneLine = String(repeating: "a { ", count: depth) + String(repeating: "} ", count: depth)
        XCTAssertTrue(parseError(oneLine).hasPrefix("deep.conf:1:\(4 * limit + 3): blocks nest"), parseError(oneLine))
    }

    func testNestingUpToTheLimitIsSyntax() throws {
        let depth = ConfigSyntax.maxNesting
        let text = String(repeating: "a {\n", count: depth) + String(repeating: "}\n", count: depth)
        var statements = try ConfigSyntax.parse(text, path: "ok.conf")
        var levels = 0
        while let children = statements.first?.children {
            levels += 1
            statements = children
        }
        XCTAssertEqual(levels, depth)
    }
}
