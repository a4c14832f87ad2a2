// Checkers as configured: their timing (inherited virtual_server › real_server › checker), what
// each kind probes, and reading TCP_CHECK, HTTP_GET, PING_CHECK and MISC_CHECK blocks. Running
// them is HealthCheck.swift's job.
import SwitchyardCore

/// Timing of a checker, keepalived's parameters. Each may be set on the virtual_server, the
/// real_server or the checker itself; the most specific wins.
public struct CheckTiming: Sendable, Equatable {
    /// Seconds between checks.
    public var delayLoop: Double = 60
    /// Seconds a probe may take.
    public var connectTimeout: Double = 5
    /// Further attempts after a failed one before the real server is declared down.
    public var retry: Int = 1
    /// Seconds between those attempts.
    public var delayBeforeRetry: Double = 1
    /// At most this many seconds of random delay before the first check (spreads the load).
    public var warmup: Double = 0

    /// The longest a dead real server can keep getting new connections: the next check starts
    /// within delayLoop, and all its attempts fail.
    public var detectionBound: Double {
        delayLoop + connectTimeout + Double(retry) * (delayBeforeRetry + connectTimeout)
    }
}

/// One URL of HTTP_GET: the response must have this status, and (if given) this MD5 digest of
/// the body, and a match for this regular expression (POSIX extended) in the body.
public struct URLCheck: Sendable, Equatable {
    public var path: String = "/"
    public var statusCode: Int = 200
    public var digest: String?
    public var regex: String?
}

/// What a checker probes.
public enum CheckKind: Sendable, Equatable {
    case tcp
    case http(urls: [URLCheck], virtualHost: String?)
    case ping
    case misc(path: String, timeout: Double?)

    public var name: String {
        switch self {
        case .tcp: "TCP_CHECK"
        case .http: "HTTP_GET"
        case .ping: "PING_CHECK"
        case .misc: "MISC_CHECK"
        }
    }
}

/// A checker as configured on a real server.
public struct CheckerConfig: Sendable, Equatable {
    public var kind: CheckKind
    public var timing: CheckTiming
    /// Probe this address and port instead of the real server's (connect_ip, connect_port).
    public var connectIP: IPv4Address?
    public var connectPort: UInt16?
    public var location: SourceLocation
    /// MISC_CHECK `user USER [GROUP]`: who the script runs as (default: global_defs script_user,
    /// else keepalived_script, else root; ScriptLauncher decides).
    public var scriptUser: String?
    public var scriptGroup: String?
}

/// The sorry server: used while the service has lost its quorum.
public struct SorryServerConfig: Sendable, Equatable {
    public var address: IPv4Address
    public var port: UInt16
}

extension ConfigReader {
    /// Reads a timing keyword (TimingKeyword) into `timing`; false if `s` is not one.
    func timingKeyword(_ s: Statement, into timing: inout CheckTiming) throws(ConfigDiagnostic) -> Bool {
        guard let keyword = TimingKeyword(rawValue: s.keyword.text) else { return false }
        switch keyword.rule {
        case .seconds(let range, let field): timing[keyPath: field] = try seconds(s, in: range)
        case .count(let range, let field): timing[keyPath: field] = try integer(s, in: range)
        }
        return true
    }

    func seconds(_ s: Statement, in range: ClosedRange<Double>) throws(ConfigDiagnostic) -> Double {
        let t = try single(s)
        guard let v = Double(t.text), range.contains(v) else {
            throw error(t, "\(s.keyword.text) must be seconds from \(range.lowerBound) to \(range.upperBound), not \"\(t.text)\"")
        }
        return v
    }

    func text(_ s: Statement) throws(ConfigDiagnostic) -> String { try single(s).text }

    static let checkerKinds: Set = ["TCP_CHECK", "HTTP_GET", "PING_CHECK", "MISC_CHECK"]

    /// A checker block: TCP_CHECK, HTTP_GET, PING_CHECK or MISC_CHECK.
    mutating func checker(_ s: Statement, inherited: CheckTiming) throws(ConfigDiagnostic) -> CheckerConfig {
        var timing = inherited
        var connectIP: IPv4Address?
        var connectPort: UInt16?
        var urls: [URLCheck] = []
        var virtualHost: String?
        var miscPath: String?
        var miscTimeout: Double?
        var scriptUser: String?
        var scriptGroup: String?
        let kindName = s.keyword.text
        for c in s.children ?? [] {
            let k = c.keyword.text
            if try timingKeyword(c, into: &timing) { continue }
            switch k {
            case "connect_ip": connectIP = try address(try single(c), what: "connect_ip")
            case "connect_port": connectPort = try port(try single(c))
            case "url" where kindName == "HTTP_GET":
                urls.append(try url(c))
            case "virtualhost" where kindName == "HTTP_GET":
                virtualHost = try text(c)
            case "misc_path" where kindName == "MISC_CHECK":
                // The whole rest of the line is the command, as keepalived reads it.
                miscPath = c.arguments.map(\.text).joined(separator: " ")
                if miscPath?.isEmpty ?? true { throw error(c.keyword, "misc_path needs a command") }
            case "misc_timeout" where kindName == "MISC_CHECK":
                miscTimeout = try seconds(c, in: 0.05...3_600)
            case "user" where kindName == "MISC_CHECK":
                // keepalived's misc_user_handler: the user, and a group if given.
                guard (1...2).contains(c.arguments.count), c.children == nil else {
                    throw error(c.keyword, "user takes a user and maybe a group: user nobody nogroup")
                }
                scriptUser = c.arguments[0].text
                scriptGroup = c.arguments.count == 2 ? c.arguments[1].text : nil
            case "bindto", "bind_port", "bind_if", "fwmark", "misc_dynamic", "user", "http_protocol",
                 "enable_sni", "tls_compliant", "ssl", "count":
                warn(c.keyword, "\(kindName) \(k) is accepted but not acted on yet")
            default:
                throw error(c.keyword, "unknown keyword \"\(k)\" in \(kindName)")
            }
        }
        let kind: CheckKind
        switch kindName {
        case "TCP_CHECK": kind = .tcp
        case "PING_CHECK": kind = .ping
        case "HTTP_GET":
            kind = .http(urls: urls.isEmpty ? [URLCheck()] : urls, virtualHost: virtualHost)
        default:
            guard let miscPath else { throw error(s.keyword, "MISC_CHECK needs misc_path (a command; exit 0 means up)") }
            kind = .misc(path: miscPath, timeout: miscTimeout)
        }
        return CheckerConfig(kind: kind, timing: timing, connectIP: connectIP, connectPort: connectPort,
                             location: s.keyword.location, scriptUser: scriptUser, scriptGroup: scriptGroup)
    }

    func url(_ s: Statement) throws(ConfigDiagnostic) -> URLCheck {
        var u = URLCheck()
        for c in s.children ?? [] {
            switch c.keyword.text {
            case "path": u.path = try text(c)
            case "status_code": u.statusCode = try integer(c, in: 100...599)
            case "digest":
                let d = try single(c)
                guard d.text.count == 32, d.text.allSatisfy(\.isHexDigit) else {
                    throw error(d, "digest must be an MD5 sum: 32 hex digits (genhash prints one)")
                }
                u.digest = d.text.lowercased()
            case "regex":
                let r = try single(c)
                guard RegularExpression(r.text) != nil else {
                    throw error(r, "regex \"\(r.text)\" is not a valid POSIX extended regular expression")
                }
                u.regex = r.text
            default:
                throw error(c.keyword, "unknown keyword \"\(c.keyword.text)\" in url; expected path, status_code, digest or regex")
            }
        }
        return u
    }
}
