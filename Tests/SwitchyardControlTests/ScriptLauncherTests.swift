// Scripts started for real: as script_user or a script's own user, with a clean environment,
// and refused under enable_script_security when a non-root user could change them. The
// identity changes need root (the suite runs as root in CI; elsewhere these tests skip).
import Glibc
import Logging
import XCTest
@testable import SwitchyardControl

final class ScriptLauncherTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        try XCTSkipIf(getuid() != 0, "changing a script's user needs root")
        var template = Array("/tmp/switchyard-scripts-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw XCTSkip("mkdtemp failed") }
        directory = String(cString: made)
        chmod(directory, 0o755)
    }

    override func tearDown() {
        ScriptLauncher.configure(ScriptSettings())
        if !directory.isEmpty { _ = runShell("rm -rf '\(directory)'") }
    }

    @discardableResult
    func runShell(_ line: String) -> Int32 { system(line) }

    func contents(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var out = ""
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil { out += String(cString: buffer) }
        return out
    }

    /// The lines logged while `body` runs.
    func capturingLog(_ body: () -> Void) -> [String] {
        let sink = LogTests.Sink()
        let saved = Log.logger.withLock { $0 }
        defer { Log.use(saved) }
        var logger = Logger(label: "switchyard") { LineLogHandler(label: $0, sink: { sink.write($0) }) }
        logger.logLevel = .info
        Log.use(logger)
        body()
        return sink.written
    }

    /// A directory the script's user may write its report into.
    func reportDirectory() -> String {
        let reports = directory + "/out"
        mkdir(reports, 0o777)
        chmod(reports, 0o777)
        return reports
    }

    func testScriptRunsAsScriptUserWithACleanEnvironment() throws {
        let reports = reportDirectory()
        ScriptLauncher.configure(ScriptSettings(user: "nobody"))
        setenv("SWITCHYARD_TEST_SECRET", "leak", 1)
        defer { unsetenv("SWITCHYARD_TEST_SECRET") }
        let result = HealthProbes.misc("id -u > \(reports)/uid; id -G > \(reports)/groups; env > \(reports)/env", timeout: 5)
        XCTAssertEqual(result, .up)
        XCTAssertEqual(contents(reports + "/uid"), "65534\n")
        XCTAssertEqual(contents(reports + "/groups"), "65534\n", "nobody's group only: root's supplementary groups are gone")
        let names = Set((contents(reports + "/env") ?? "").split(separator: "\n").map { String($0.prefix { $0 != "=" }) })
        XCTAssertTrue(names.contains("PATH"))
        XCTAssertFalse(names.contains("SWITCHYARD_TEST_SECRET"), "the daemon's environment is not handed on")
        // What /bin/sh itself adds (PWD; OLDPWD, SHLVL, _ for some shells) besides ours.
        XCTAssertEqual(names.subtracting(["PATH", "LANG", "TZ", "PWD", "OLDPWD", "SHLVL", "_"]), [], "\(names)")
    }

    func testAScriptsOwnUserOverridesScriptUser() {
        let reports = reportDirectory()
        ScriptLauncher.configure(ScriptSettings(user: "root"))
        XCTAssertEqual(HealthProbes.misc("id -u > \(reports)/uid", timeout: 5, user: "nobody", group: "nogroup"), .up)
        XCTAssertEqual(contents(reports + "/uid"), "65534\n")
        XCTAssertEqual(HealthProbes.misc("id -u > \(reports)/root", timeout: 5), .up)
        XCTAssertEqual(contents(reports + "/root"), "0\n")
    }

    func testUsersAreLookedUpOncePerConfig() {
        ScriptLauncher.configure(ScriptSettings(user: "nobody"))
        XCTAssertEqual(HealthProbes.misc("exit 0", timeout: 5), .up)
        XCTAssertEqual(HealthProbes.misc("exit 0", timeout: 5), .up)
        XCTAssertEqual(ScriptLauncher.lookups, 1)
        XCTAssertEqual(HealthProbes.misc("exit 0", timeout: 5, user: "root"), .up)
        XCTAssertEqual(ScriptLauncher.lookups, 2)
        ScriptLauncher.configure(ScriptSettings(user: "nobody"))  // a reload looks them up again
        XCTAssertEqual(HealthProbes.misc("exit 0", timeout: 5), .up)
        XCTAssertEqual(ScriptLauncher.lookups, 1)
    }

    func testAnUnknownUserIsNotRunAndTheCheckFails() {
        ScriptLauncher.configure(ScriptSettings(user: "no-such-user-here"))
        XCTAssertEqual(HealthProbes.misc("exit 0", timeout: 5),
                       .down("MISC_CHECK: script \"exit\" not run: script user no-such-user-here does not exist"))
    }

    func testAFailedExecIsReportedWithTheChildsErrno() {
        // The child reports a failed step (identity change, exec) through its close-on-exec pipe.
        XCTAssertEqual(ScriptLauncher.spawn(["/nonexistent/sh"], as: ScriptIdentity(user: 65534, group: 65534)),
                       .failed("cannot run /nonexistent/sh as uid:gid 65534:65534: No such file or directory"))
    }

    func testAKilledScriptTakesItsProcessGroupAlong() {
        let reports = reportDirectory()
        ScriptLauncher.configure(ScriptSettings(user: "nobody"))
        // The child of the script would write its file a second later, were it not killed with it.
        let result = HealthProbes.misc("(sleep 1; touch \(reports)/late) & sleep 5", timeout: 0.3)
        XCTAssertEqual(result, .down("MISC_CHECK (sleep 1; touch \(reports)/late) & sleep 5: still running after 0.3 s, killed"))
        usleep(1_500_000)
        XCTAssertNil(contents(reports + "/late"))
    }

    /// Writes a root-owned script that leaves a marker when it runs.
    func writeScript(in place: String) -> (script: String, marker: String) {
        let script = place + "/check"
        let marker = directory + "/ran"
        runShell("printf '#!/bin/sh\\ntouch \(marker)\\n' > '\(script)'; chmod 0755 '\(script)'")
        return (script, marker)
    }

    func testAnInsecureScriptIsRefusedUnderEnableScriptSecurity() {
        let writable = directory + "/writable"
        mkdir(writable, 0o777)
        chmod(writable, 0o777)  // nobody could replace the script in here
        let (script, marker) = writeScript(in: writable)
        ScriptLauncher.configure(ScriptSettings(user: "root", enforcing: true))
        XCTAssertEqual(HealthProbes.misc(script, timeout: 5),
                       .down("MISC_CHECK: script \"\(script)\" refused: unsafe permissions: \(writable) is writable by everyone "
                           + "(enable_script_security)"))
        XCTAssertNil(contents(marker), "the refused script did not run")
        // Made safe, the same script runs.
        chmod(writable, 0o755)
        XCTAssertEqual(HealthProbes.misc(script, timeout: 5), .up)
        XCTAssertNotNil(contents(marker))
    }

    func testARefusalIsLoggedOnceAndAgainAfterTheScriptWasPutRight() {
        let writable = directory + "/writable"
        mkdir(writable, 0o777)
        chmod(writable, 0o777)
        let (script, _) = writeScript(in: writable)
        ScriptLauncher.configure(ScriptSettings(user: "root", enforcing: true))
        let lines = capturingLog {
            _ = HealthProbes.misc(script, timeout: 5)
            _ = HealthProbes.misc(script, timeout: 5)
            chmod(writable, 0o755)
            _ = HealthProbes.misc(script, timeout: 5)
            chmod(writable, 0o777)
            _ = HealthProbes.misc(script, timeout: 5)
        }
        XCTAssertEqual(lines.filter { $0.contains("refused: unsafe permissions") }.count, 2, "\(lines)")
    }

    func testWithoutEnableScriptSecurityAnInsecureScriptStillRuns() {
        let writable = directory + "/writable"
        mkdir(writable, 0o777)
        chmod(writable, 0o777)
        let (script, marker) = writeScript(in: writable)
        ScriptLauncher.configure(ScriptSettings(user: "root"))
        XCTAssertEqual(HealthProbes.misc(script, timeout: 5), .up)
        XCTAssertNotNil(contents(marker))
    }

    func testEnableScriptSecurityWithNoScriptUserRefusesRootByDefault() throws {
        try XCTSkipIf(getpwnam(ScriptLauncher.defaultUser) != nil, "this machine has a \(ScriptLauncher.defaultUser) user")
        ScriptLauncher.configure(ScriptSettings(enforcing: true))
        guard case .refused(let reason) = ScriptLauncher.start("/bin/true") else { return XCTFail("started") }
        XCTAssertTrue(reason.contains("enable_script_security does not run scripts as root by default"), reason)
    }

    func testNotifyScriptsRunAsScriptUser() {
        let reports = reportDirectory()
        ScriptLauncher.configure(ScriptSettings(user: "nobody"))
        ShellScripts().run(ScriptUse(command: "id -u > \(reports)/notify.tmp; mv \(reports)/notify.tmp \(reports)/notify"))
        for _ in 0..<100 where contents(reports + "/notify") == nil { usleep(20_000) }
        XCTAssertEqual(contents(reports + "/notify"), "65534\n")
    }

    func testNotifyScriptRunsAsTheUserItNames() throws {
        let reports = reportDirectory()
        let config = try Config.parse("""
            virtual_server 198.18.0.1 80 {
                lb_kind DR
                real_server 198.18.0.2 80 {
                    notify_down "/bin/sh -c 'id -u > \(reports)/named.tmp; mv \(reports)/named.tmp \(reports)/named'" nobody nogroup
                }
            }
            """, path: "test.conf")
        ScriptLauncher.configure(ScriptSettings(user: "root"))
        guard let script = config.services[0].reals[0].notifyDown else { return XCTFail("no notify_down") }
        ShellScripts().run(script)
        for _ in 0..<100 where contents(reports + "/named") == nil { usleep(20_000) }
        XCTAssertEqual(contents(reports + "/named"), "65534\n", "keepalived: notify_down SCRIPT USER GROUP")
    }

    func testInsecureNotifyScriptIsSkippedUnderEnableScriptSecurity() {
        let writable = directory + "/writable"
        mkdir(writable, 0o777)
        chmod(writable, 0o777)
        let (script, marker) = writeScript(in: writable)
        ScriptLauncher.configure(ScriptSettings(user: "root", enforcing: true))
        ShellScripts().run(ScriptUse(command: script))
        usleep(300_000)
        XCTAssertNil(contents(marker))
    }

    func testAVRRPScriptRunsAsItsUser() throws {
        let reports = reportDirectory()
        ScriptLauncher.configure(ScriptSettings(user: "root"))
        let config = try Config.parse("""
        vrrp_script chk {
            script "/bin/sh -c 'id -u > \(reports)/vrrp'"
            user nobody
        }
        vrrp_instance VI_1 {
            interface lo
            virtual_router_id 51
            priority 100
            virtual_ipaddress { 198.18.0.100/24 }
            track_script { chk }
        }
        virtual_server 198.18.0.100 80 {
            lb_kind DR
            real_server 198.18.0.11 80 { }
        }
        """, path: "test.conf")
        var watchers = VRRPWatchers(config.failover, now: 0)
        var results: [VRRPInstance.Event] = []
        for step in 0..<100 where results.isEmpty {
            results = watchers.poll(now: Double(step) * 0.02).filter { if case .scriptResult = $0 { true } else { false } }
            usleep(20_000)
        }
        watchers.stop()
        XCTAssertEqual(results, [.scriptResult("chk", success: true)])
        XCTAssertEqual(contents(reports + "/vrrp"), "65534\n")
    }

    func testAnInsecureNotifyScriptIsReportedWhenTheConfigIsLoadedNotFirstWhenItRuns() throws {
        let writable = directory + "/writable"
        mkdir(writable, 0o777)
        chmod(writable, 0o777)
        let (script, marker) = writeScript(in: writable)
        let config = try Config.parse("""
        global_defs {
            script_user root
            enable_script_security
        }
        virtual_server 198.18.0.1 80 {
            lb_kind DR
            real_server 198.18.0.2 80 {
                notify_down "\(script) down"
            }
        }
        """, path: "test.conf")
        let atLoad = capturingLog {
            ScriptLauncher.configure(config.scripts)
            ScriptLauncher.audit(config)
        }
        XCTAssertEqual(atLoad.filter { $0.contains("script \"\(script)\" refused: unsafe permissions: \(writable) is writable by everyone") }.count,
                       1, "\(atLoad)")
        let atRun = capturingLog {
            ShellScripts().run(ScriptUse(command: script + " down"))
            usleep(300_000)
        }
        XCTAssertEqual(atRun, [], "said once, at load")
        XCTAssertNil(contents(marker))
    }
}
