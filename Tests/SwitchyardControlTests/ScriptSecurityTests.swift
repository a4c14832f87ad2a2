// The script security policy over a fake file system: which scripts keepalived's
// check_script_secure would let run with root's powers, and what is done without the option.
import XCTest
@testable import SwitchyardControl

/// A file system made of a table: path → facts, and symlinks → where they point.
struct FakeFileSystem: FileSystemView {
    var entries: [String: FileFacts] = [:]
    var links: [String: String] = [:]

    static func directory(owner: UInt32 = 0, group: UInt32 = 0, mode: UInt32 = 0o755) -> FileFacts {
        FileFacts(kind: .directory, owner: owner, group: group, mode: mode)
    }

    static func file(owner: UInt32 = 0, group: UInt32 = 0, mode: UInt32 = 0o755) -> FileFacts {
        FileFacts(kind: .regular, owner: owner, group: group, mode: mode)
    }

    /// A tree with /, /usr, /usr/bin, /usr/bin/check (all root's, 0755) and /tmp (1777).
    static var standard: FakeFileSystem {
        FakeFileSystem(entries: ["/": directory(), "/usr": directory(), "/usr/bin": directory(),
                                 "/usr/bin/check": file(), "/tmp": directory(mode: 0o1777)])
    }

    func facts(_ path: String) -> FileFacts? { entries[path] }

    func resolved(_ path: String) -> String? {
        var current = path
        for _ in 0..<8 {
            if let target = links[current] { current = target } else { break }
        }
        return entries[current] == nil ? nil : current
    }
}

final class ScriptSecurityTests: XCTestCase {
    let root = ScriptIdentity.root
    let nobody = ScriptIdentity(user: 65534, group: 65534)

    func verdict(_ command: String, _ fs: FakeFileSystem, as id: ScriptIdentity = .root) -> ScriptVerdict {
        ScriptSecurity.verdict(command: command, identity: id, searchPath: "/usr/bin:/bin", view: fs)
    }

    func testProgramIsTheFirstWordWithoutQuotes() {
        XCTAssertEqual(ScriptSecurity.program(of: "/usr/bin/check --fast 1"), "/usr/bin/check")
        XCTAssertEqual(ScriptSecurity.program(of: "  pgrep -x haproxy"), "pgrep")
        XCTAssertEqual(ScriptSecurity.program(of: "'/opt/my scripts/check' a"), "/opt/my scripts/check")
        XCTAssertEqual(ScriptSecurity.program(of: ""), "")
    }

    func testARootOwnedScriptInRootOwnedDirectoriesIsSecure() {
        XCTAssertEqual(verdict("/usr/bin/check arg", .standard), .secure)
    }

    func testABareNameIsFoundAlongTheSearchPath() {
        XCTAssertEqual(verdict("check arg", .standard), .secure)
        XCTAssertEqual(verdict("missing arg", .standard), .notFound("missing is not found in /usr/bin:/bin"))
    }

    func testARedirectionOnlyTestRunsNothingAndIsLetThrough() {
        XCTAssertEqual(verdict("</etc/haproxy/up", .standard), .secure)
        XCTAssertEqual(verdict("<  /etc/haproxy/up", .standard), .secure)
        XCTAssertEqual(verdict("<up", .standard), .notFound("<up is not found in /usr/bin:/bin"))
    }

    func testAScriptWritableByEveryoneIsInsecure() {
        var fs = FakeFileSystem.standard
        fs.entries["/usr/bin/check"] = FakeFileSystem.file(mode: 0o757)
        XCTAssertEqual(verdict("/usr/bin/check", fs), .insecure("/usr/bin/check is writable by everyone"))
    }

    func testAScriptOwnedByAnotherUserIsInsecure() {
        var fs = FakeFileSystem.standard
        fs.entries["/usr/bin/check"] = FakeFileSystem.file(owner: 1000, mode: 0o755)
        XCTAssertEqual(verdict("/usr/bin/check", fs), .insecure("/usr/bin/check is owned by uid 1000, not root"))
    }

    func testADirectoryWritableByANonRootGroupIsInsecure() {
        var fs = FakeFileSystem.standard
        fs.entries["/usr/bin"] = FakeFileSystem.directory(group: 50, mode: 0o775)
        XCTAssertEqual(verdict("/usr/bin/check", fs), .insecure("/usr/bin is writable by group 50"))
        // Group root may write: only root is in it.
        fs.entries["/usr/bin"] = FakeFileSystem.directory(group: 0, mode: 0o775)
        XCTAssertEqual(verdict("/usr/bin/check", fs), .secure)
    }

    func testAStickyDirectoryIsNotItselfAProblemButAnotherUsersFileInItIs() {
        var fs = FakeFileSystem.standard
        fs.entries["/tmp/check"] = FakeFileSystem.file()
        XCTAssertEqual(verdict("/tmp/check", fs), .secure)
        fs.entries["/tmp/check"] = FakeFileSystem.file(owner: 65534)
        XCTAssertEqual(verdict("/tmp/check", fs), .insecure("/tmp/check is owned by uid 65534, not root"))
    }

    func testASymlinkIntoAWritablePlaceIsInsecure() {
        var fs = FakeFileSystem.standard
        fs.entries["/home"] = FakeFileSystem.directory()
        fs.entries["/home/ops"] = FakeFileSystem.directory(owner: 1000, group: 1000)
        fs.entries["/home/ops/check"] = FakeFileSystem.file()
        fs.entries["/usr/bin/link"] = FileFacts(kind: .symlink, owner: 0, group: 0, mode: 0o777)
        fs.links["/usr/bin/link"] = "/home/ops/check"
        XCTAssertEqual(verdict("/usr/bin/link", fs), .insecure("/home/ops is owned by uid 1000, not root"))
        // The same link to a root-owned file: the link's own 0777 does not matter.
        fs.links["/usr/bin/link"] = "/usr/bin/check"
        XCTAssertEqual(verdict("/usr/bin/link", fs), .secure)
    }

    func testASymlinkInAWritableDirectoryIsInsecureEvenIfItLeadsSomewhereSafe() {
        var fs = FakeFileSystem.standard
        fs.entries["/srv"] = FakeFileSystem.directory(mode: 0o777)
        fs.entries["/srv/check"] = FileFacts(kind: .symlink, owner: 0, group: 0, mode: 0o777)
        fs.links["/srv/check"] = "/usr/bin/check"
        XCTAssertEqual(verdict("/srv/check", fs), .insecure("/srv is writable by everyone"))
    }

    func testAnUnprivilegedScriptNeedsNoProtection() {
        var fs = FakeFileSystem.standard
        fs.entries["/tmp/check"] = FakeFileSystem.file(owner: 65534, mode: 0o777)
        XCTAssertEqual(verdict("/tmp/check", fs, as: nobody), .secure)
        // Unless it is set-user-ID root: then it has root's powers whoever starts it.
        fs.entries["/tmp/suid"] = FakeFileSystem.file(owner: 0, mode: 0o4757)
        XCTAssertEqual(verdict("/tmp/suid", fs, as: nobody), .insecure("/tmp/suid is writable by everyone"))
    }

    func testAFileTheIdentityCannotExecuteIsReported() {
        var fs = FakeFileSystem.standard
        fs.entries["/usr/bin/check"] = FakeFileSystem.file(mode: 0o700)
        XCTAssertEqual(verdict("/usr/bin/check", fs, as: nobody),
                       .notExecutable("/usr/bin/check is not executable for uid:gid 65534:65534"))
        XCTAssertEqual(verdict("/usr/bin/check", fs, as: root), .secure)
    }

    func testADirectoryInThePathThatIsAFileIsNotFound() {
        XCTAssertEqual(verdict("/usr/bin/check/x", .standard), .notFound("/usr/bin/check/x cannot be found"))
    }

    func testEnforcingRefusesWhatIsNotSecure() {
        let insecure = ScriptSecurity.decide(.insecure("/srv is writable by everyone"), command: "/srv/check", enforcing: true)
        XCTAssertFalse(insecure.run)
        XCTAssertEqual(insecure.warning,
                       "script \"/srv/check\" refused: unsafe permissions: /srv is writable by everyone (enable_script_security)")
        XCTAssertFalse(ScriptSecurity.decide(.notFound("x"), command: "x", enforcing: true).run)
        XCTAssertFalse(ScriptSecurity.decide(.notExecutable("x"), command: "x", enforcing: true).run)
        XCTAssertEqual(ScriptSecurity.decide(.secure, command: "x", enforcing: true), ScriptDecision(run: true, warning: nil))
    }

    func testWithoutEnforcingAnInsecureScriptRunsWithAWarning() {
        let insecure = ScriptSecurity.decide(.insecure("/srv is writable by everyone"), command: "/srv/check", enforcing: false)
        XCTAssertTrue(insecure.run)
        XCTAssertEqual(insecure.warning, "script \"/srv/check\" has unsafe permissions: /srv is writable by everyone; "
            + "it runs with root's powers (enable_script_security in global_defs would refuse it)")
        // A shell builtin is no file: /bin/sh runs it, as before.
        XCTAssertEqual(ScriptSecurity.decide(.notFound("exit"), command: "exit 0", enforcing: false),
                       ScriptDecision(run: true, warning: nil))
    }

    func testConfigReadsScriptUserSecurityAndMiscCheckUser() throws {
        let config = try Config.parse("""
        global_defs {
            script_user nobody nogroup
            enable_script_security
        }
        virtual_server 198.18.0.1 80 {
            lb_kind DR
            real_server 198.18.0.2 80 {
                MISC_CHECK {
                    misc_path "/usr/bin/check 1"
                    user daemon
                }
            }
        }
        """, path: "test.conf")
        XCTAssertEqual(config.scripts, ScriptSettings(user: "nobody", group: "nogroup", enforcing: true))
        let checker = config.services[0].reals[0].checkers[0]
        XCTAssertEqual(checker.scriptUser, "daemon")
        XCTAssertNil(checker.scriptGroup)
        XCTAssertTrue(config.warnings.isEmpty, "\(config.warnings)")
        XCTAssertThrowsError(try Config.parse("global_defs {\n script_user\n}", path: "test.conf")) {
            XCTAssertEqual(($0 as? ConfigDiagnostic)?.description,
                           "test.conf:2:2: script_user takes a user and maybe a group: script_user keepalived_script")
        }
    }

    func testEveryScriptAConfigRunsIsListedForTheAudit() throws {
        let config = try Config.parse("""
        vrrp_script chk {
            script "/usr/bin/chk"
            user nobody
        }
        vrrp_script unused {
            script "/usr/bin/unused"
        }
        vrrp_instance VI_1 {
            interface lo
            virtual_router_id 51
            priority 100
            virtual_ipaddress { 198.18.0.100/24 }
            track_script { chk }
            notify_master /usr/bin/master
            notify /usr/bin/notify
        }
        virtual_server 198.18.0.100 80 {
            lb_kind DR
            quorum_down /usr/bin/quorum-down
            real_server 198.18.0.11 80 {
                notify_up "/usr/bin/up 1"
                MISC_CHECK {
                    misc_path /usr/bin/misc
                    user daemon daemon
                }
            }
        }
        """, path: "test.conf")
        XCTAssertEqual(config.scriptUses, [
            ScriptUse(command: "/usr/bin/quorum-down"),
            ScriptUse(command: "/usr/bin/up 1"),
            ScriptUse(command: "/usr/bin/misc", user: "daemon", group: "daemon"),
            ScriptUse(command: "/usr/bin/chk", user: "nobody"),
            ScriptUse(command: "/usr/bin/master"),
            ScriptUse(command: "/usr/bin/notify"),
        ], "an untracked vrrp_script never runs (keepalived drops it)")
    }
}
