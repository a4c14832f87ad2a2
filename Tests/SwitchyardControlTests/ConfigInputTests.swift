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

/// `check --config /etc/switchyard` said "OK, 0 virtual service(s)": reading a directory gave
/// empty text. Config.load is also what a reload reads, so a reload is refused the same way.
final class ConfigFileTests: XCTestCase {
    var directory = ""

    override func setUp() {
        var template = Array("/tmp/switchyard-config-test-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    override func tearDown() {
        unlink(directory + "/fifo")
        unlink(directory + "/ok.conf")
        rmdir(directory)
    }

    func loadError(_ path: String) -> String {
        do {
            let config = try Config.load(path: path)
            return "no error: \(config.services.count) service(s)"
        } catch {
            return error.description
        }
    }

    func testADirectoryIsRefused() {
        XCTAssertEqual(loadError(directory), "\(directory):0:0: is a directory; give the config file itself")
    }

    func testAFIFOIsRefusedWithoutWaitingForAWriter() {
        XCTAssertEqual(mkfifo(directory + "/fifo", 0o600), 0)
        XCTAssertEqual(loadError(directory + "/fifo"),
                       "\(directory)/fifo:0:0: is not a regular file (a FIFO); give the config file itself")
    }

    func testADeviceIsRefused() {
        XCTAssertEqual(loadError("/dev/null"), "/dev/null:0:0: is not a regular file (a character device); give the config file itself")
    }

    func testAMissingFileSaysWhy() {
        XCTAssertEqual(loadError(directory + "/missing.conf"),
                       "\(directory)/missing.conf:0:0: cannot read the file: No such file or directory")
    }

    func testARegularFileIsRead() {
        let text = "virtual_server 198.18.0.100 80 {\n  lb_kind DR\n  real_server 198.18.0.11 80 { }\n}\n"
        let fd = open(directory + "/ok.conf", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        XCTAssertEqual(text.utf8.count, Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) })
        close(fd)
        XCTAssertEqual(loadError(directory + "/ok.conf"), "no error: 1 service(s)")
    }
}
