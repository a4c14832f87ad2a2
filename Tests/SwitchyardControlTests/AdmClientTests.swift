// `switchyard adm` as a shell runs it: ipvsadm's words on standard error and its exit statuses,
// from the client alone (what it refuses before any daemon) and through a control socket that
// answers with a status (ControlSocket.swift's "ERROR STATUS" reply).
import Glibc
@testable import SwitchyardControl
import SwitchyardIO
import XCTest

final class AdmClientTests: XCTestCase {
    /// Runs the `switchyard` binary built beside this test bundle; returns its standard output,
    /// standard error and exit status.
    func run(_ arguments: String, input: String = "") throws -> (out: String, err: String, status: Int32) {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = String(decoding: buffer[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let binary = String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/switchyard"
        guard access(binary, X_OK) == 0 else { throw XCTSkip("\(binary) is not built (swift build builds it)") }
        let dir = "/tmp/switchyard-adm-client-\(getpid())"
        mkdir(dir, 0o700)
        defer { _ = system("rm -rf '\(dir)'") }
        let inputPath = dir + "/in"
        let file = fopen(inputPath, "w")
        fputs(input, file)
        fclose(file)
        let status = system("'\(binary)' adm \(arguments) <'\(inputPath)' >'\(dir)/out' 2>'\(dir)/err'")
        func read(_ path: String) -> String {
            guard let f = fopen(path, "r") else { return "" }
            defer { fclose(f) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let got = fread(&chunk, 1, chunk.count, f)
                if got == 0 { break }
                bytes += chunk[0..<got]
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        // system() returns a wait status: the exit status is its second byte.
        return (read(dir + "/out"), read(dir + "/err"), (status >> 8) & 0xFF)
    }

    func testRefusedBeforeAnyDaemonWithIpvsadmsStatus() throws {
        var r = try run("-C -t 1.2.3.4:80")
        XCTAssertEqual(r.err, "Illegal 'service-address' option with the 'flush' command\n")
        XCTAssertEqual(r.status, 2)
        r = try run("-L --bogus")
        XCTAssertEqual(r.err, "--bogus: unknown option\n")
        XCTAssertEqual(r.status, 255)
        r = try run("-n -L")
        XCTAssertEqual(r.err, AdmCommand.tryHelp + "\n")
        XCTAssertEqual(r.status, 255)
        r = try run("-h")
        XCTAssertEqual(r.out, AdmUsage.text)
        XCTAssertEqual(r.status, 0)
        r = try run("--help")
        XCTAssertEqual(r.out, AdmUsage.text)
        r = try run("-v")
        XCTAssertEqual(r.out, AdmUsage.version + "\n")
        XCTAssertEqual(r.status, 0)
    }

    /// A daemon's answer carries ipvsadm's status to the shell.
    func testTheDaemonsStatusIsTheExitStatus() throws {
        let path = "/tmp/switchyard-adm-client-\(getpid()).sock"
        let server = try ControlServer(path: path) { arguments, input in
            switch arguments.first {
            case "-Ln" where arguments.count == 1: return (true, "listed\n", 0)
            case "-a": return (false, "Destination already exists\n", 255)
            case "-R": return (false, "Service already exists\n", input.isEmpty ? 1 : 0)
            default: return (false, "No such service\n", 1)
            }
        }
        let thread = Thread { server.run() }
        thread.start()
        defer {
            server.stop()
            thread.join()
        }
        var r = try run("--control \(path) -Ln")
        XCTAssertEqual(r.out, "listed\n")
        XCTAssertEqual(r.status, 0)
        r = try run("--control \(path) -a -t 1.2.3.4:80 -r 10.0.0.1")
        XCTAssertEqual(r.err, "Destination already exists\n")
        XCTAssertEqual(r.status, 255)
        r = try run("--control \(path) -Ln -t 1.2.3.4:81")
        XCTAssertEqual(r.err, "No such service\n")
        XCTAssertEqual(r.status, 1)
        // -R: a line refused on the way, the last one fine: the words on standard error, status 0.
        r = try run("--control \(path) -R", input: "-A -t 1.2.3.4:80\n")
        XCTAssertEqual(r.err, "Service already exists\n")
        XCTAssertEqual(r.out, "")
        XCTAssertEqual(r.status, 0)
    }
}
