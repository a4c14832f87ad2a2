// The settings of SSL_GET, SMTP_CHECK, DNS_CHECK and UDP_CHECK as configured, and reading the
// keywords only they have (keepalived's check_ssl.c / check_http.c, check_smtp.c, check_dns.c,
// check_udp.c; FILE_CHECK's are TrackFiles.swift's) and the top-level SSL block. The keywords every checker shares are
// HealthConfig.swift's.
import Glibc
import SwitchyardCore

/// The top-level `SSL { password …; ca …; certificate …; key … }` block: the client key and
/// certificate SSL_GET presents. As in keepalived, the server's certificate is not verified
/// (a checker asks whether the server answers, not whether it is trusted).
public struct TLSClientSettings: Sendable, Hashable {
    public var certificate: String?
    public var key: String?
    public var ca: String?
    public var password: String?
    public init() {}
}

/// SMTP_CHECK's defaults (check_smtp.h).
public enum SMTPCheck {
    public static let defaultHelo = "smtpchecker.keepalived.org"
}

/// The record types DNS_CHECK can ask for (check_dns.c, DNS_TYPE).
public enum DNSRecordType: UInt16, Sendable, CaseIterable {
    case a = 1, ns = 2, cname = 5, soa = 6, mx = 15, txt = 16, aaaa = 28, rrsig = 46, dnskey = 48

    public var label: String { "\(self)".uppercased() }

    /// keepalived's dns_type_lookup: the label, in any case.
    public init?(label: String) {
        guard let t = Self.allCases.first(where: { $0.label == label.uppercased() }) else { return nil }
        self = t
    }
}

/// UDP_CHECK: a datagram sent, and what counts as up (check_udp.c). Without require_reply the
/// server is up unless an ICMP error (port unreachable) comes back within connect_timeout.
public struct UDPCheck: Sendable, Equatable {
    /// nil: keepalived's 32 bytes of "keepalived check - " repeated.
    public var payload: [UInt8]?
    public var requireReply = false
    /// The reply's first bytes must match these (where the mask has 0 bits; `x` in the hex).
    public var reply: [UInt8]?
    public var replyMask: [UInt8]?
    /// A matched reply must be this long (checked only when `reply` is given, as keepalived).
    public var minReplyLength = 0
    public var maxReplyLength = 255

    public static let defaultPayload: [UInt8] = {
        let filler = Array("keepalived check - ".utf8)
        return (0..<32).map { filler[$0 % filler.count] }
    }()

    public init() {}
}

/// What the kind-specific keywords of one checker block set.
struct CheckerDraft {
    var enableSNI = false
    var sniName: String?
    var helo: String?
    var dnsType: DNSRecordType?
    var dnsName: String?
    var udp = UDPCheck()
    var udpLengthToken: Token?
    /// SMTP_CHECK's `host { … }` blocks, and whether the checker set connection options itself.
    var hosts: [Statement] = []
    var file = FileCheck(trackFile: "")
    var setsConnection = false
}

/// SMTP_CHECK's deprecated `host` blocks (check_smtp.c, WITH_HOST_ENTRIES), which keepalived
/// still reads: each is a checker of its own.
enum SMTPHosts {
    /// keepalived's connection options (check_conn_opts): a checker that sets one keeps probing
    /// the real server itself beside its hosts.
    static let connectionKeywords: Set = ["connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark",
                                          "connect_timeout"]
}

extension ConfigReader {
    /// Reads a keyword only `kind` has into `draft`; false if `s` is not one of them.
    func checkerKeyword(_ s: Statement, of kind: String, into draft: inout CheckerDraft) throws(ConfigDiagnostic) -> Bool {
        switch (kind, s.keyword.text) {
        case ("SSL_GET", "enable_sni"):
            guard s.arguments.isEmpty, s.children == nil else { throw error(s.keyword, "enable_sni takes no value") }
            draft.enableSNI = true
        case ("SSL_GET", "sni_name"): draft.sniName = try text(s)
        case ("SMTP_CHECK", "helo_name"): draft.helo = try text(s)
        case ("SMTP_CHECK", "host"):
            _ = try children(s)
            draft.hosts.append(s)
        case ("DNS_CHECK", "type"):
            let t = try single(s)
            guard let type = DNSRecordType(label: t.text) else {
                throw error(t, "unknown DNS_CHECK type \"\(t.text)\"; expected one of "
                    + DNSRecordType.allCases.map(\.label).joined(separator: ", "))
            }
            draft.dnsType = type
        case ("DNS_CHECK", "name"):
            let t = try single(s)
            // check_dns.c, dns_name_handler: no empty label ("a..b", ".a"); "." is the root.
            guard t.text == "." || (!t.text.hasPrefix(".") && !t.text.contains("..")),
                  t.text.split(separator: ".").allSatisfy({ $0.utf8.count <= 63 }), t.text.utf8.count <= 253 else {
                throw error(t, "DNS_CHECK name \"\(t.text)\" is not a domain name (an empty or over-long label)")
            }
            draft.dnsName = t.text
        case ("UDP_CHECK", "payload"):
            guard let bytes = hexString(s.arguments, wildcards: false).map(\.bytes) else {
                throw error(s.arguments.first ?? s.keyword, "UDP_CHECK payload must be hex digits, e.g. payload 0102 0a0b")
            }
            draft.udp.payload = bytes
        case ("UDP_CHECK", "require_reply"):
            draft.udp.requireReply = true
            if !s.arguments.isEmpty {
                guard let (bytes, mask) = hexString(s.arguments, wildcards: true) else {
                    throw error(s.arguments[0], "UDP_CHECK require_reply must be hex digits, x for any digit, e.g. 01xx 0203")
                }
                draft.udp.reply = bytes
                draft.udp.replyMask = mask.contains { $0 != 0 } ? mask : nil
            }
        case ("UDP_CHECK", "min_reply_length"):
            draft.udp.minReplyLength = try integer(s, in: 0...Int(UInt16.max))
            draft.udpLengthToken = s.keyword
        case ("UDP_CHECK", "max_reply_length"):
            draft.udp.maxReplyLength = try integer(s, in: 0...Int(UInt16.max))
            draft.udpLengthToken = s.keyword
        case ("FILE_CHECK", _):
            return try fileCheckKeyword(s, into: &draft.file)
        default:
            return false
        }
        return true
    }

    /// An SMTP_CHECK's checkers, as keepalived's smtp_check_end_handler makes them: without
    /// connection options of its own and with hosts, the first host takes the checker's place;
    /// every other host is one more checker, with the checker's settings and its own connect_ip,
    /// connect_port and connect_timeout (else the real server's or virtual_server's).
    mutating func smtpHosts(_ draft: CheckerDraft, main: CheckerConfig, inherited: CheckTiming)
        throws(ConfigDiagnostic) -> [CheckerConfig] {
        var checkers = draft.setsConnection || draft.hosts.isEmpty ? [main] : []
        for h in draft.hosts {
            var c = main
            c.connectIP = nil
            c.connectPort = nil
            c.timing.connectTimeout = inherited.connectTimeout
            c.location = h.keyword.location
            for o in h.children ?? [] {
                switch o.keyword.text {
                case "connect_ip": c.connectIP = try serviceAddress(try single(o), what: "connect_ip")
                case "connect_port": c.connectPort = try port(try single(o))
                case "connect_timeout": _ = try timingKeyword(o, into: &c.timing)
                default:
                    guard KeepalivedKeywords.checker[o.keyword.text] != nil, ignore(o, in: .checker("SMTP_CHECK")) else {
                        throw error(o.keyword, "unknown keyword \"\(o.keyword.text)\" in SMTP_CHECK host; expected "
                            + "connect_ip, connect_port or connect_timeout")
                    }
                }
            }
            checkers.append(c)
        }
        if !draft.hosts.isEmpty {
            warn(draft.hosts[0].keyword, "SMTP_CHECK host { … } is deprecated in keepalived; Switchyard runs one SMTP_CHECK "
                + "per host, as keepalived does: write them as separate SMTP_CHECK blocks")
        }
        return checkers
    }

    /// The UDP_CHECK read, refused where keepalived says it "will always fail".
    func udpCheck(_ draft: CheckerDraft, at t: Token) throws(ConfigDiagnostic) -> CheckKind {
        let u = draft.udp
        guard u.minReplyLength <= u.maxReplyLength else {
            throw error(draft.udpLengthToken ?? t, "UDP_CHECK min_reply_length \(u.minReplyLength) is above "
                + "max_reply_length \(u.maxReplyLength): the check could never pass")
        }
        return .udp(u)
    }

    /// keepalived's read_hex_str (lib/parser.c): hex digits, spaces between bytes allowed, a lone
    /// digit before a space is one byte; with `wildcards`, x or X matches any digit (its mask
    /// nibble is 1s). nil if a character is not hex or there are no bytes.
    func hexString(_ words: [Token], wildcards: Bool) -> (bytes: [UInt8], mask: [UInt8])? {
        var bytes: [UInt8] = [], mask: [UInt8] = []
        for word in words {
            var digits = Array(word.text.utf8)[...]
            while !digits.isEmpty {
                var value: UInt8 = 0, masked: UInt8 = 0
                for _ in 0..<min(2, digits.count) {
                    let c = digits.removeFirst()
                    value <<= 4
                    masked <<= 4
                    switch c {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): value |= c - UInt8(ascii: "0")
                    case UInt8(ascii: "a")...UInt8(ascii: "f"): value |= c - UInt8(ascii: "a") + 10
                    case UInt8(ascii: "A")...UInt8(ascii: "F"): value |= c - UInt8(ascii: "A") + 10
                    case UInt8(ascii: "x") where wildcards, UInt8(ascii: "X") where wildcards: masked |= 0x0F
                    default: return nil
                    }
                }
                bytes.append(value)
                mask.append(masked)
            }
        }
        return bytes.isEmpty ? nil : (bytes, mask)
    }

    /// The top-level `SSL { … }` block (check_parser.c, ssl_handler): files are checked to exist
    /// here, so a typo is a config error with its line rather than a checker that never passes.
    func tlsBlock(_ s: Statement) throws(ConfigDiagnostic) -> TLSClientSettings {
        var tls = TLSClientSettings()
        for c in try children(s) {
            switch c.keyword.text {
            case "password": tls.password = try text(c)
            case "ca", "certificate", "key":
                let file = try single(c)
                guard access(file.text, F_OK) == 0 else {
                    throw error(file, "SSL \(c.keyword.text) \(file.text): \(String(cString: strerror(errno)))")
                }
                switch c.keyword.text {
                case "ca": tls.ca = file.text
                case "certificate": tls.certificate = file.text
                default: tls.key = file.text
                }
            default:
                throw error(c.keyword, "unknown keyword \"\(c.keyword.text)\" in SSL; expected password, ca, certificate or key")
            }
        }
        return tls
    }
}

extension Config {
    /// Gives every SSL_GET checker the SSL block's settings (the block may come after them).
    mutating func applyTLS(_ tls: TLSClientSettings) {
        for s in services.indices {
            for r in services[s].reals.indices {
                for c in services[s].reals[r].checkers.indices {
                    if case .ssl(let urls, let host, let sni, _) = services[s].reals[r].checkers[c].kind {
                        services[s].reals[r].checkers[c].kind = .ssl(urls: urls, virtualHost: host, sni: sni, tls: tls)
                    }
                }
            }
        }
    }
}
