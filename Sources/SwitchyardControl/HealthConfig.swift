// Checkers as configured: their timing (inherited virtual_server › real_server › checker), what
// each kind probes, and reading checker blocks (the keywords of SSL_GET, SMTP_CHECK, DNS_CHECK
// and UDP_CHECK alone are CheckerKeywords.swift's). Running them is HealthCheck.swift's job.
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

/// One URL of HTTP_GET: the response must have one of these statuses, and (if given) this MD5
/// digest of the body, and a match for this regular expression (POSIX extended) in the body.
public struct URLCheck: Sendable, Equatable {
    public var path: String
    /// The statuses that count as up, as ranges (`status_code 200-299 301`); keepalived's
    /// default when none is given is any 2xx (check_http.c, url_check).
    public var statusCodes: [ClosedRange<Int>]
    public var digest: String?
    public var regex: String?

    /// keepalived's default expectation: any 2xx (HTTP_DEFAULT_STATUS_CODE_MIN…MAX).
    public static let defaultStatusCodes = [200...299]
    /// The statuses `status_code` may name (HTTP_STATUS_CODE_MIN…MAX).
    public static let possibleStatusCodes = 100...599

    /// A URL to check; `statusCode` is a shorthand for one expected status.
    public init(path: String = "/", statusCode: Int? = nil, statusCodes: [ClosedRange<Int>]? = nil,
                digest: String? = nil, regex: String? = nil) {
        self.path = path
        self.statusCodes = statusCodes ?? statusCode.map { [$0...$0] } ?? Self.defaultStatusCodes
        self.digest = digest
        self.regex = regex
    }

    /// Whether an answer with this status counts as up.
    public func accepts(status: Int) -> Bool { statusCodes.contains { $0.contains(status) } }

    /// The expectation as keepalived's config writes it: `200-299`, `200 301`.
    public var expectedStatuses: String {
        statusCodes.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: " ")
    }
}

/// What a checker probes.
public enum CheckKind: Sendable, Equatable {
    case tcp
    case http(urls: [URLCheck], virtualHost: String?)
    /// SSL_GET: HTTP_GET over TLS; `sni` is the server name sent in the handshake (enable_sni).
    case ssl(urls: [URLCheck], virtualHost: String?, sni: String?, tls: TLSClientSettings)
    case ping
    case misc(path: String, timeout: Double?)
    /// SMTP_CHECK: a 220 greeting, HELO answered 250, QUIT answered.
    case smtp(helo: String)
    /// DNS_CHECK: a query of this type and name answered with no error.
    case dns(type: DNSRecordType, name: String)
    case udp(UDPCheck)
    /// FILE_CHECK: a tracked file's number (TrackFiles.swift).
    case file(FileCheck)

    public var name: String {
        switch self {
        case .tcp: "TCP_CHECK"
        case .http: "HTTP_GET"
        case .ssl: "SSL_GET"
        case .ping: "PING_CHECK"
        case .misc: "MISC_CHECK"
        case .smtp: "SMTP_CHECK"
        case .dns: "DNS_CHECK"
        case .udp: "UDP_CHECK"
        case .file: "FILE_CHECK"
        }
    }
}

/// A checker as configured on a real server.
public struct CheckerConfig: Sendable, Equatable {
    public var kind: CheckKind
    public var timing: CheckTiming
    /// Probe this address and port instead of the real server's (connect_ip, connect_port).
    public var connectIP: IPAddressBits?
    public var connectPort: UInt16?
    public var location: SourceLocation
    /// MISC_CHECK `user USER [GROUP]`: who the script runs as (default: global_defs script_user,
    /// else keepalived_script, else root; ScriptLauncher decides).
    public var scriptUser: String?
    public var scriptGroup: String?
    /// MISC_CHECK `misc_dynamic`: the script's exit code sets the weight (2...255 → code − 2).
    public var miscDynamic = false
}

/// The sorry server: used while the service has lost its quorum.
public struct SorryServerConfig: Sendable, Equatable {
    public var address: IPAddressBits
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

    static let checkerKinds: Set = ["TCP_CHECK", "HTTP_GET", "SSL_GET", "PING_CHECK", "MISC_CHECK", "SMTP_CHECK",
                                    "DNS_CHECK", "UDP_CHECK", "FILE_CHECK"]

    /// A checker block: any of checkerKinds; one checker, or more for SMTP_CHECK's `host` blocks.
    /// `virtualHost` is the real server's or virtual_server's, used where the checker sets none
    /// (keepalived's order: checker, then real_server, then virtual_server; check_http.c).
    mutating func checker(_ s: Statement, inherited: CheckTiming, virtualHost inheritedHost: String? = nil)
        throws(ConfigDiagnostic) -> [CheckerConfig] {
        var timing = inherited
        var connectIP: IPAddressBits?
        var connectPort: UInt16?
        var urls: [URLCheck] = []
        var virtualHost: String?
        var miscPath: String?
        var miscTimeout: Double?
        var scriptUser: String?
        var scriptGroup: String?
        var miscDynamic = false
        var own = CheckerDraft()
        let kindName = s.keyword.text
        let isHTTP = kindName == "HTTP_GET" || kindName == "SSL_GET"
        for c in s.children ?? [] {
            let k = c.keyword.text
            if SMTPHosts.connectionKeywords.contains(k) { own.setsConnection = true }
            if try timingKeyword(c, into: &timing) { continue }
            if try checkerKeyword(c, of: kindName, into: &own) { continue }
            switch k {
            case "connect_ip": connectIP = try serviceAddress(try single(c), what: "connect_ip")
            case "connect_port": connectPort = try port(try single(c))
            case "url" where isHTTP:
                urls.append(try url(c))
            case "virtualhost" where isHTTP:
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
            case "misc_dynamic" where kindName == "MISC_CHECK":
                // keepalived's misc_dynamic (check_misc.c, misc_check_child_thread): exit 0 up at
                // the configured weight, 1 down, 2..255 up with weight = code − 2.
                miscDynamic = true
            default:
                guard ignore(c, in: .checker(kindName)) else {
                    throw error(c.keyword, "unknown keyword \"\(k)\" in \(kindName)")
                }
            }
        }
        let kind: CheckKind
        switch kindName {
        case "TCP_CHECK": kind = .tcp
        case "PING_CHECK": kind = .ping
        case "HTTP_GET":
            kind = .http(urls: urls.isEmpty ? [URLCheck()] : urls, virtualHost: virtualHost ?? inheritedHost)
        case "SSL_GET":
            // keepalived's order for the SNI name: sni_name, then the virtualhost (check_ssl.c).
            let host = virtualHost ?? inheritedHost
            kind = .ssl(urls: urls.isEmpty ? [URLCheck()] : urls, virtualHost: host,
                        sni: own.enableSNI ? own.sniName ?? host : nil, tls: TLSClientSettings())
        case "SMTP_CHECK": kind = .smtp(helo: own.helo ?? SMTPCheck.defaultHelo)
        case "DNS_CHECK": kind = .dns(type: own.dnsType ?? .soa, name: own.dnsName ?? "")
        case "UDP_CHECK": kind = try udpCheck(own, at: s.keyword)
        case "FILE_CHECK": kind = .file(own.file)
        default:
            guard let miscPath else { throw error(s.keyword, "MISC_CHECK needs misc_path (a command; exit 0 means up)") }
            kind = .misc(path: miscPath, timeout: miscTimeout)
        }
        let main = CheckerConfig(kind: kind, timing: timing, connectIP: connectIP, connectPort: connectPort,
                                 location: s.keyword.location, scriptUser: scriptUser, scriptGroup: scriptGroup,
                                 miscDynamic: miscDynamic)
        return try smtpHosts(own, main: main, inherited: inherited)
    }

    mutating func url(_ s: Statement) throws(ConfigDiagnostic) -> URLCheck {
        var u = URLCheck()
        // Every status_code line adds to the set, as keepalived's bit array (check_http.c).
        var codes: [ClosedRange<Int>] = []
        for c in s.children ?? [] {
            switch c.keyword.text {
            case "path": u.path = try text(c)
            case "status_code": codes += try statusCodes(c)
            case "digest":
                let d = try single(c)
                guard d.text.count == 32, d.text.allSatisfy(\.isHexDigit) else {
                    throw error(d, "digest must be an MD5 sum: 32 hex digits (genhash prints one)")
                }
                u.digest = d.text.lowercased()
            case "regex_no_match":
                // Ignoring it would turn the check upside down: refuse instead.
                throw error(c.keyword, "regex_no_match is not supported yet: Switchyard would count a match as up, "
                    + "the opposite of what it asks; remove the regex, or match what a healthy answer contains")
            case "regex":
                let r = try single(c)
                guard RegularExpression(r.text) != nil else {
                    throw error(r, "regex \"\(r.text)\" is not a valid POSIX extended regular expression")
                }
                u.regex = r.text
            default:
                guard ignore(c, in: .url) else {
                    throw error(c.keyword, "unknown keyword \"\(c.keyword.text)\" in url; expected path, status_code, digest or regex")
                }
            }
        }
        if !codes.isEmpty { u.statusCodes = codes }
        return u
    }

    /// `status_code 200-299 301 …`: single statuses and ranges, each from 100 to 599, as
    /// keepalived's status_code_handler (check_http.c) reads them; where keepalived skips a bad
    /// word with a complaint, Switchyard refuses it, so a typo cannot widen what counts as up.
    func statusCodes(_ s: Statement) throws(ConfigDiagnostic) -> [ClosedRange<Int>] {
        guard !s.arguments.isEmpty else {
            throw error(s.keyword, "status_code needs one or more statuses or ranges, e.g. status_code 200-299 301")
        }
        var ranges: [ClosedRange<Int>] = []
        for t in s.arguments {
            let parts = t.text.split(separator: "-", omittingEmptySubsequences: false)
            let bounds = parts.map { Int($0) }
            guard (1...2).contains(parts.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil,
                  URLCheck.possibleStatusCodes.contains(low), URLCheck.possibleStatusCodes.contains(high), low <= high
            else {
                throw error(t, "status_code \"\(t.text)\" is not a status or a range of statuses from 100 to 599 "
                    + "(e.g. 200, 200-299)")
            }
            ranges.append(low...high)
        }
        return ranges
    }
}
