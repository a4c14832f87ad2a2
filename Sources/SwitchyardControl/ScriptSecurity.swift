// The script security policy, as a pure function over a view of the file system: whether a
// script that runs with root's powers could be changed by someone other than root (the file, a
// directory above it, or where a symlink leads), and whether it is run, refused or warned about.
// keepalived's check_script_secure / check_security / find_path (lib/notify.c, 2.2.8) decide
// the same things; the system calls behind the view are ScriptLauncher's.

/// What `lstat` says about one path, the fields the policy reads.
public struct FileFacts: Sendable, Equatable {
    /// What kind of file the path names (a symlink is not followed).
    public enum Kind: Sendable, Equatable { case regular, directory, symlink, other }

    public var kind: Kind
    public var owner: UInt32
    public var group: UInt32
    /// The permission bits, with set-user-ID (0o4000), set-group-ID (0o2000) and sticky (0o1000).
    public var mode: UInt32

    /// Facts of one path.
    public init(kind: Kind, owner: UInt32, group: UInt32, mode: UInt32) {
        self.kind = kind
        self.owner = owner
        self.group = group
        self.mode = mode
    }
}

/// The file system as the policy sees it; the real one (ScriptLauncher) or a fake in tests.
public protocol FileSystemView {
    /// The facts of `path` itself (lstat: a symlink is not followed); nil if it cannot be read.
    func facts(_ path: String) -> FileFacts?
    /// `path` with every symlink, `.`, `..` and doubled slash resolved (realpath); nil if it
    /// does not lead to anything.
    func resolved(_ path: String) -> String?
}

/// Who a script runs as.
public struct ScriptIdentity: Sendable, Equatable {
    public var user: UInt32
    public var group: UInt32

    /// An identity of a user id and its group id.
    public init(user: UInt32, group: UInt32) {
        self.user = user
        self.group = group
    }

    /// Root: what the daemon is.
    public static let root = ScriptIdentity(user: 0, group: 0)
}

/// The policy's findings on one script.
public enum ScriptVerdict: Sendable, Equatable {
    /// Nothing a non-root user could change, or the script has no root powers to lose.
    case secure
    /// Runs with root's powers and someone other than root can change what it runs.
    case insecure(String)
    /// The command's first word is not a file the policy can find.
    case notFound(String)
    /// The file is there but the identity it runs as cannot execute it.
    case notExecutable(String)
}

/// What to do with a script: run it or not, and what to log (once per script).
public struct ScriptDecision: Sendable, Equatable {
    public var run: Bool
    /// A line for the log, or nil if there is nothing to say.
    public var warning: String?
}

/// The pure policy (no system calls): keepalived 2.2's script security rules.
public enum ScriptSecurity {
    /// Where a bare command name is looked for when the daemon has no PATH (glibc's _CS_PATH
    /// as keepalived's find_path falls back to, with the sbin directories root needs).
    public static let defaultSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The first word of a shell line: the program the line runs (quotes removed, as
    /// keepalived's set_script_params_array splits `script "…"`).
    public static func program(of command: String) -> String {
        var word = ""
        var quote: Character?
        var started = false
        for c in command {
            if let q = quote {
                if c == q { quote = nil } else { word.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
                started = true
            } else if c == " " || c == "\t" {
                if started || !word.isEmpty { break }
            } else {
                word.append(c)
                started = true
            }
        }
        return word
    }

    /// Whether `identity` may execute a file with `facts` (keepalived's is_executable).
    public static func isExecutable(_ facts: FileFacts, by identity: ScriptIdentity) -> Bool {
        let m = facts.mode
        if identity.user == 0 { return m & 0o111 != 0 }
        if identity.user == facts.owner { return m & 0o100 != 0 }
        if identity.group == facts.group { return m & 0o010 != 0 }
        return m & 0o001 != 0
    }

    /// Checks each component of an absolute path from `/` down, symlinks not followed
    /// (keepalived's check_security): every one must be owned by root, and none writable by a
    /// non-root group or by everyone, except a directory with the sticky bit (as /tmp). The
    /// reason the path is unsafe, or nil.
    public static func unsafeComponent(of path: String, in view: some FileSystemView) -> String? {
        var prefixes = ["/"]
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            prefixes.append(current)
        }
        for (index, prefix) in prefixes.enumerated() {
            let last = index == prefixes.count - 1
            guard let f = view.facts(prefix) else { return "\(prefix) cannot be read" }
            if !last && f.kind != .directory { return "\(prefix) is not a directory" }
            if last && f.kind != .regular && f.kind != .symlink { return "\(prefix) is not a regular file" }
            if f.owner != 0 { return "\(prefix) is owned by uid \(f.owner), not root" }
            let checksWrite = f.kind == .regular || (f.kind == .directory && f.mode & 0o1000 == 0)
            if checksWrite && f.group != 0 && f.mode & 0o020 != 0 { return "\(prefix) is writable by group \(f.group)" }
            if checksWrite && f.mode & 0o002 != 0 { return "\(prefix) is writable by everyone" }
        }
        return nil
    }

    /// The verdict on `command` run as `identity` (keepalived's check_script_secure): the
    /// program is found (a bare name along `searchPath`), resolved through its symlinks, must be
    /// executable by the identity, and, if it runs with root's powers (uid or gid 0, or a
    /// set-user-ID or set-group-ID root file), nothing on the way to it or to where it leads
    /// may be changeable by anyone but root.
    public static func verdict(command: String, identity: ScriptIdentity, searchPath: String,
                               view: some FileSystemView) -> ScriptVerdict {
        // "</path" (a redirection only) tests that a file can be opened and runs nothing:
        // keepalived lets it through unchecked (SC_SYSTEM).
        if command.first == "<" && command.dropFirst().drop(while: { $0 == " " || $0 == "\t" }).first == "/" { return .secure }
        let name = program(of: command)
        if name.isEmpty { return .notFound("the command is empty") }
        var path = name
        if !name.contains("/") {
            let found = searchPath.split(separator: ":", omittingEmptySubsequences: false).lazy
                .map { ($0.isEmpty ? "." : String($0)) + "/" + name }
                .first { view.resolved($0).flatMap(view.facts).map { $0.kind == .regular } ?? false }
            guard let found else { return .notFound("\(name) is not found in \(searchPath)") }
            path = found
        }
        guard let real = view.resolved(path), let file = view.facts(real), file.kind == .regular else {
            return .notFound("\(path) cannot be found")
        }
        guard isExecutable(file, by: identity) else {
            return .notExecutable("\(path) is not executable for uid:gid \(identity.user):\(identity.group)")
        }
        let setRoot = (file.owner == 0 && file.mode & 0o4100 == 0o4100) || (file.group == 0 && file.mode & 0o2010 == 0o2010)
        guard identity.user == 0 || identity.group == 0 || setRoot else { return .secure }
        // The path as written (if absolute) and the one the symlinks lead to, as keepalived
        // checks both the script's path and its real_file_path.
        for candidate in Set([path, real]) where candidate.hasPrefix("/") {
            if let reason = unsafeComponent(of: candidate, in: view) { return .insecure(reason) }
        }
        return .secure
    }

    /// What to do with a verdict. With `enable_script_security` (`enforcing`) anything but
    /// secure is refused, as keepalived disables such a script; without it the script runs and
    /// the problem is logged (keepalived's "Unsafe permissions found for script").
    ///
    /// keepalived also refuses a script it cannot find or execute even without the option;
    /// here such a line still goes to /bin/sh, which may know it as a builtin (`exit 0`).
    public static func decide(_ verdict: ScriptVerdict, command: String, enforcing: Bool) -> ScriptDecision {
        switch verdict {
        case .secure:
            return ScriptDecision(run: true, warning: nil)
        case .insecure(let reason):
            return enforcing
                ? ScriptDecision(run: false, warning: "script \"\(command)\" refused: unsafe permissions: \(reason) (enable_script_security)")
                : ScriptDecision(run: true, warning: "script \"\(command)\" has unsafe permissions: \(reason); "
                    + "it runs with root's powers (enable_script_security in global_defs would refuse it)")
        case .notFound(let reason), .notExecutable(let reason):
            return enforcing
                ? ScriptDecision(run: false, warning: "script \"\(command)\" refused: \(reason) (enable_script_security)")
                : ScriptDecision(run: true, warning: nil)
        }
    }
}
