// `include PATTERN` as keepalived 2.2 reads it: at the top level and inside blocks, glob patterns
// relative to the including file's directory, nested, with errors that name the file and line
// they are in, and a missing match skipped with a warning (an error for `includer`).
import Glibc
import XCTest
@testable import SwitchyardControl

final class ConfigIncludeTests: XCTestCase {
    var directory = ""
    var made: [String] = []

    override func setUp() {
        var template = Array("/tmp/switchyard-include-test-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    override func tearDown() {
        for path in made.reversed() {
            if unlink(path) != 0 { rmdir(path) }
        }
        rmdir(directory)
    }

    /// Writes `text` at `name` under the test directory, making directories on the way.
    @discardableResult
    func write(_ name: String, _ text: String, mode: mode_t = 0o644) -> String {
        var path = directory
        for part in name.split(separator: "/").dropLast() {
            path += "/\(part)"
            if mkdir(path, 0o755) == 0 { made.append(path) }
        }
        path = directory + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        XCTAssertEqual(text.utf8.count, Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) })
        fchmod(fd, mode)
        close(fd)
        made.append(path)
        return path
    }

    func load(_ path: String) throws(ConfigDiagnostic) -> Config { try Config.load(path: path, configID: "lb1") }

    func loadError(_ path: String) -> String {
        do {
            let config = try load(path)
            return "no error: \(config.services.count) service(s)"
        } catch {
            return error.description
        }
    }

    func real(_ address: String) -> String { "real_server \(address) 80 { weight 1 }\n" }

    func testTopLevelGlobIsRelativeToTheIncludingFileAndSorted() throws {
        write("conf.d/b.conf", "virtual_server 198.18.0.2 80 {\n  lb_kind DR\n" + real("10.0.0.2") + "}\n")
        write("conf.d/a.conf", "virtual_server 198.18.0.1 80 {\n  lb_kind DR\n" + real("10.0.0.1") + "}\n")
        write("conf.d/notes.txt", "not a config")
        let main = write("keepalived.conf", "include conf.d/*.conf\n")
        XCTAssertEqual(try load(main).services.map { "\($0.vip)" }, ["198.18.0.1", "198.18.0.2"])
    }

    func testIncludeInsideABlockAndNestedIncludesResolveFromTheirOwnDirectory() throws {
        write("reals/more/three.conf", real("10.0.0.3"))
        write("reals/list.conf", real("10.0.0.1") + "include more/three.conf\n" + real("10.0.0.2"))
        let main = write("keepalived.conf", "virtual_server 198.18.0.1 80 {\n  lb_kind DR\n  include reals/list.conf\n}\n")
        XCTAssertEqual(try load(main).services.first?.reals.map { "\($0.address)" }, ["10.0.0.1", "10.0.0.3", "10.0.0.2"])
    }

    func testBraceAlternativesAndAbsolutePatterns() throws {
        write("x.conf", "virtual_server 198.18.0.1 80 {\n  lb_kind DR\n" + real("10.0.0.1") + "}\n")
        write("y.conf", "virtual_server 198.18.0.2 80 {\n  lb_kind DR\n" + real("10.0.0.2") + "}\n")
        let main = write("keepalived.conf", "include \(directory)/{y,x}.conf\n")
        XCTAssertEqual(try load(main).services.map { "\($0.vip)" }, ["198.18.0.2", "198.18.0.1"])
    }

    func testAnErrorInAnIncludedFileNamesThatFileAndLine() {
        let reals = write("reals.conf", "\n" + real("10.0.0.1") + "  weight x\n")
        let main = write("keepalived.conf", "virtual_server 198.18.0.1 80 {\n  include reals.conf\n}\n")
        // Line 3 of reals.conf; the column is the weight reader's to choose (keyword or value).
        XCTAssertTrue(loadError(main).hasPrefix("\(reals):3:"), loadError(main))
        XCTAssertTrue(loadError(main).contains("weight"), loadError(main))
    }

    func testAReaderErrorAboutAnIncludedStatementNamesThatFile() {
        let service = write("service.conf", "virtual_server 198.18.0.1 80 {\n  lb_kind DRR\n}\n")
        let main = write("keepalived.conf", "! services\ninclude service.conf\n")
        XCTAssertEqual(loadError(main), "\(service):2:11: unknown lb_kind \"DRR\"; expected DR or NAT")
    }

    func testAMissingIncludeIsSkippedWithAWarningAsKeepalivedDoes() throws {
        let main = write("keepalived.conf", "global_defs {\n  include missing/*.conf\n}\n")
        XCTAssertEqual(try load(main).warnings.map(\.description), [
            "\(main):2:3: warning: include missing/*.conf: no file matches; skipped, as keepalived does (includer makes this an error)",
        ])
    }

    func testIncluderMakesAMissingMatchAnError() {
        let main = write("keepalived.conf", "\n   includer missing.conf\n")
        XCTAssertEqual(loadError(main), "\(main):2:4: include missing.conf: no file matches")
    }

    func testExecutableFilesAndDirectoriesAreSkipped() throws {
        let script = write("conf.d/run.conf", "garbage that is never read\n", mode: 0o755)
        write("conf.d/sub.conf/inner.conf", "garbage\n")
        write("conf.d/z.conf", "virtual_server 198.18.0.1 80 {\n  lb_kind DR\n" + real("10.0.0.1") + "}\n")
        let main = write("keepalived.conf", "include conf.d/*\n")
        let config = try load(main)
        XCTAssertEqual(config.services.count, 1)
        XCTAssertEqual(config.warnings.map(\.description), [
            "\(main):1:1: warning: include conf.d/*: \(script) is executable (keepalived reads only non-executable files; "
                + "chmod a-x it); skipped, as keepalived does (includer makes this an error)",
            "\(main):1:1: warning: include conf.d/*: \(directory)/conf.d/sub.conf/ is a directory; "
                + "skipped, as keepalived does (includer makes this an error)",
        ])
    }

    func testAFileThatIncludesItselfIsStoppedAtTheDepthLimit() {
        let main = write("keepalived.conf", "! loops\ninclude keepalived.conf\n")
        XCTAssertEqual(loadError(main), "\(main):2:1: includes nest more than 16 deep here; does a file include itself?")
    }

    func testDefinitionsCarryIntoIncludedFilesAndPWDIsTheirDirectory() throws {
        write("sub/reals.conf", "$HERE=$_PWD\n" + real("$RS"))
        let main = write("keepalived.conf", "$RS=10.0.0.7\nvirtual_server 198.18.0.1 80 {\n  lb_kind DR\n  include sub/reals.conf\n}\n"
                             + "global_defs {\n  notification_email_from ${HERE}\n}\n")
        let config = try load(main)
        XCTAssertEqual(config.services.first?.reals.first.map { "\($0.address)" }, "10.0.0.7")
        // _PWD is absolute: keepalived changes into each file's directory and asks getcwd.
        let absolute = ConfigInclude.absoluteDirectory(of: directory + "/sub/reals.conf")
        XCTAssertTrue(absolute.hasSuffix("/sub") && absolute.hasPrefix("/"), absolute)
    }

    func testPatternsArePutUnderTheIncludingDirectoryWithItsGlobCharactersEscaped() {
        XCTAssertEqual(ConfigInclude.resolve("conf.d/*.conf", includingFile: "/etc/k[1]/keepalived.conf"),
                       "/etc/k\\[1\\]/conf.d/*.conf")
        XCTAssertEqual(ConfigInclude.resolve("/abs/*.conf", includingFile: "/etc/keepalived.conf"), "/abs/*.conf")
        XCTAssertEqual(ConfigInclude.resolve("a.conf", includingFile: "keepalived.conf"), "a.conf")
    }

    func testIncludeNeedsAPattern() {
        let main = write("keepalived.conf", "include\n")
        XCTAssertEqual(loadError(main), "\(main):1:1: include needs a file or a pattern, e.g. include /etc/keepalived/conf.d/*.conf")
    }
}
