// Starting scripts as keepalived does: as `script_user` (or a script's own `user`), with a small
// clean environment, in a process group of their own, after ScriptSecurity's check. Every
// script the daemon runs (MISC_CHECK, vrrp_script, notify_*) starts here.
import CSwitchyard
import Glibc
import SwitchyardIO

/// global_defs' script settings: `script_user USER [GROUP]` and `enable_script_security`.
public struct ScriptSettings: Sendable, Equatable {
    /// `script_user`: the user scripts run as unless they name their own; nil: keepalived's
    /// default, the user `keepalived_script` if it exists, else root.
    public var user: String?
    /// The group given after `script_user` (default: the user's own group).
    public var group: String?
    /// `enable_script_security`: refuse scripts that a non-root user could change.
    public var enforcing = false

    /// Settings as the config gives them.
    public init(user: String? = nil, group: String? = nil, enforcing: Bool = false) {
        self.user = user
        self.group = group
        self.enforcing = enforcing
    }
}

/// What came of asking for a script to start.
public enum ScriptStart: Sendable, Equatable {
    /// It runs, in its own process group led by this pid.
    case started(pid_t)
    /// The policy refused it, or its user does not exist; the reason (already logged once).
    case refused(String)
    /// It could not be started (fork, identity change, exec); the reason.
    case failed(String)
}

/// The one door scripts start through.
public enum ScriptLauncher {
    private struct State {
        var settings = ScriptSettings()
        /// Scripts already warned about, with the warning: each is logged once, and again only
        /// if what is wrong changes.
        var warned: [String: String] = [:]
        /// Whether the one warning about scripts run as root without enable_script_security
        /// has been given.
        var warnedRoot = false
        /// Users and groups looked up since the last configure: keepalived resolves them once,
        /// when it reads the config, not at every run (a vrrp_script runs every second, and the
        /// password database may be a network service).
        var identities: [String: Result<ScriptIdentity, ScriptLookupError>] = [:]
        /// Lookups done since the last configure (tests read it).
        var lookups = 0
    }

    private static let state = Locked(State())

    /// The user a script runs as when neither it nor `script_user` names one (keepalived's
    /// get_default_script_user).
    public static let defaultUser = "keepalived_script"

    /// Takes global_defs' settings (at start and on each reload).
    public static func configure(_ settings: ScriptSettings) {
        state.withLock {
            $0.settings = settings
            $0.warned = [:]
            $0.warnedRoot = false
            $0.identities = [:]
            $0.lookups = 0
        }
    }

    /// User lookups done since the last configure.
    static var lookups: Int { state.withLock { $0.lookups } }

    /// The settings in force.
    public static var settings: ScriptSettings { state.withLock { $0.settings } }

    /// The environment scripts get: PATH (the daemon's, else the default search path), and
    /// LANG and TZ when the daemon has them. keepalived hands its own environment on (only
    /// IFS, LD_PRELOAD and LD_LIBRARY_PATH removed in later releases); under systemd that is
    /// little more than PATH and LANG, and a daemon started from a root shell should not pass
    /// that shell's environment to a script run as another user.
    public static func environment() -> [String] {
        var out = ["PATH=" + (getenv("PATH").map { String(cString: $0) } ?? ScriptSecurity.defaultSearchPath)]
        for name in ["LANG", "TZ"] {
            if let value = getenv(name) { out.append(name + "=" + String(cString: value)) }
        }
        return out
    }

    /// Looks a user (and group) up: the identity, or why not (keepalived's set_uid_gid).
    public static func identity(user: String, group: String?) -> Result<ScriptIdentity, ScriptLookupError> {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getpwnam_r(user, &entry, &buffer, buffer.count, &found) == 0, found != nil else {
            return .failure(ScriptLookupError(message: "script user \(user) does not exist"))
        }
        var result = ScriptIdentity(user: entry.pw_uid, group: entry.pw_gid)
        if let group {
            var groupEntry = Glibc.group()
            var groupFound: UnsafeMutablePointer<Glibc.group>?
            guard getgrnam_r(group, &groupEntry, &buffer, buffer.count, &groupFound) == 0, groupFound != nil else {
                return .failure(ScriptLookupError(message: "script group \(group) does not exist"))
            }
            result.group = groupEntry.gr_gid
        }
        return .success(result)
    }

    /// Who a script with its own `user`/`group` (or none) runs as under `settings`: its own
    /// user, else script_user, else keepalived_script, else root. Root by default is allowed
    /// unless `enable_script_security` is set, where keepalived refuses.
    static func resolve(user: String?, group: String?, settings: ScriptSettings) -> Result<ScriptIdentity, ScriptLookupError> {
        if let user { return remembered(user: user, group: group) }
        if let user = settings.user { return remembered(user: user, group: settings.group) }
        if case .success(let id) = remembered(user: defaultUser, group: nil) { return .success(id) }
        if settings.enforcing {
            return .failure(ScriptLookupError(message: "no script_user in global_defs and no user \(defaultUser); "
                + "enable_script_security does not run scripts as root by default (write `script_user root` to allow it)"))
        }
        return .success(.root)
    }

    /// `identity(user:group:)`, looked up once per configure.
    private static func remembered(user: String, group: String?) -> Result<ScriptIdentity, ScriptLookupError> {
        let key = user + ":" + (group ?? "")
        if let known = state.withLock({ $0.identities[key] }) { return known }
        let found = identity(user: user, group: group)
        state.withLock {
            $0.identities[key] = found
            $0.lookups += 1
        }
        return found
    }

    /// Logs `message` about the script `program` unless that was the last thing said about it.
    private static func warnOnce(_ program: String, _ message: String) {
        let fresh = state.withLock { s -> Bool in
            defer { s.warned[program] = message }
            return s.warned[program] != message
        }
        if fresh { Log.warning(message) }
    }

    /// Who `command` runs as, or why it does not run: its user looked up, then ScriptSecurity's
    /// verdict. What is wrong is logged once per script (keepalived checks at load and says
    /// "Unsafe permissions found for script"; this runs at load and again before each run).
    static func examine(_ command: String, user: String?, group: String?) -> Result<ScriptIdentity, ScriptLookupError> {
        let settings = self.settings
        let program = ScriptSecurity.program(of: command)
        let id: ScriptIdentity
        switch resolve(user: user, group: group, settings: settings) {
        case .success(let found): id = found
        case .failure(let error):
            let reason = "script \"\(program)\" not run: \(error.message)"
            warnOnce(program, reason)
            return .failure(ScriptLookupError(message: reason))
        }
        if id.user == 0 && !settings.enforcing {
            // keepalived's "SECURITY VIOLATION - scripts are being executed but script_security
            // not enabled", once.
            let first = state.withLock { s -> Bool in
                defer { s.warnedRoot = true }
                return !s.warnedRoot
            }
            if first {
                let why = user != nil || settings.user != nil ? "as configured" : "no script_user in global_defs and no user \(defaultUser)"
                Log.warning("SECURITY: scripts run as root (\(why)) and enable_script_security is not set in global_defs: "
                    + "a script a non-root user can change is a way to root")
            }
        }
        let searchPath = getenv("PATH").map { String(cString: $0) } ?? ScriptSecurity.defaultSearchPath
        let verdict = ScriptSecurity.verdict(command: command, identity: id, searchPath: searchPath, view: SystemFileView())
        let decision = ScriptSecurity.decide(verdict, command: program, enforcing: settings.enforcing)
        if let warning = decision.warning {
            warnOnce(program, warning)
        } else {
            // Put right: should it go wrong again, that is said again.
            state.withLock { _ = $0.warned.removeValue(forKey: program) }
        }
        return decision.run ? .success(id) : .failure(ScriptLookupError(message: decision.warning ?? "refused"))
    }

    /// Examines every script a config will run, so that what is wrong with one is said when the
    /// config is loaded, as keepalived does, not first when it runs (a notify_down may run
    /// months later).
    public static func audit(_ config: Config) {
        for use in config.scriptUses { _ = examine(use.command, user: use.user, group: use.group) }
    }

    /// Checks `command` and starts `/bin/sh -c command` as its user, stdin and stdout on
    /// /dev/null, stderr the daemon's. The caller reaps the pid (or kills its group). Why a
    /// script was refused or could not start is logged here, once.
    public static func start(_ command: String, user: String? = nil, group: String? = nil) -> ScriptStart {
        switch examine(command, user: user, group: group) {
        case .failure(let refusal): return .refused(refusal.message)
        case .success(let id):
            let started = spawn(["/bin/sh", "-c", command], as: id)
            if case .failed(let reason) = started {
                warnOnce(ScriptSecurity.program(of: command), "script \"\(command)\" not run: \(reason)")
            }
            return started
        }
    }

    /// Forks and execs `argv` as `id` (no identity change when that is who the daemon is).
    static func spawn(_ argv: [String], as id: ScriptIdentity) -> ScriptStart {
        let arguments = argv.map { strdup($0) } + [nil]
        let environment = environment().map { strdup($0) } + [nil]
        defer {
            arguments.forEach { free($0) }
            environment.forEach { free($0) }
        }
        let change: Int32 = id.user == getuid() && id.group == getgid() ? 0 : 1
        var pid: pid_t = 0
        let rc = sy_spawn_script(argv[0], arguments, environment, change, id.user, id.group, &pid)
        if rc > 0 { return .failed("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        if rc < 0 {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return .failed("cannot run \(argv[0]) as uid:gid \(id.user):\(id.group): \(String(cString: strerror(-rc)))")
        }
        return .started(pid)
    }
}

/// One script a config runs, with its own user if it names one. A string literal is a
/// script run as the default user.
public struct ScriptUse: Sendable, Equatable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var command: String
    public var user: String?
    public var group: String?

    public init(stringLiteral command: String) { self.init(command: command) }

    /// The script line as the log shows it.
    public var description: String { command }

    /// A script line and the user it names, if any.
    public init(command: String, user: String? = nil, group: String? = nil) {
        self.command = command
        self.user = user
        self.group = group
    }
}

extension Config {
    /// Every script the config runs: notify_up/down, quorum_up/down, MISC_CHECK, tracked
    /// vrrp_scripts, the VRRP instances' and sync groups' notify scripts.
    public var scriptUses: [ScriptUse] {
        var uses: [ScriptUse] = []
        func add(_ command: String?, user: String? = nil, group: String? = nil) {
            if let command, !command.isEmpty { uses.append(ScriptUse(command: command, user: user, group: group)) }
        }
        func add(_ use: ScriptUse?) { add(use?.command, user: use?.user, group: use?.group) }
        for service in services {
            add(service.quorumUp)
            add(service.quorumDown)
            for real in service.reals {
                add(real.notifyUp)
                add(real.notifyDown)
                for checker in real.checkers {
                    if case .misc(let path, _) = checker.kind { add(path, user: checker.scriptUser, group: checker.scriptGroup) }
                }
            }
        }
        let tracked = Set(failover.instances.flatMap { $0.trackScripts.map(\.name) })
        for script in failover.scripts where tracked.contains(script.name) {
            add(script.script, user: script.user, group: script.group)
        }
        for i in failover.instances {
            [i.notifyMaster, i.notifyBackup, i.notifyFault, i.notifyStop, i.notify].forEach { add($0) }
        }
        for g in failover.syncGroups {
            [g.notifyMaster, g.notifyBackup, g.notifyFault, g.notifyStop, g.notify].forEach { add($0) }
        }
        return uses
    }
}

/// Why a script's user could not be found, or why it is refused.
public struct ScriptLookupError: Error, Sendable, Equatable {
    public var message: String
}

/// The real file system for ScriptSecurity: lstat and realpath.
struct SystemFileView: FileSystemView {
    func facts(_ path: String) -> FileFacts? {
        var s = stat()
        guard lstat(path, &s) == 0 else { return nil }
        let kind: FileFacts.Kind
        switch s.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        return FileFacts(kind: kind, owner: s.st_uid, group: s.st_gid, mode: s.st_mode & 0o7777)
    }

    func resolved(_ path: String) -> String? {
        guard let r = realpath(path, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }
}
