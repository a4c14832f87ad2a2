// global_defs' HTTP listener settings: `switchyard_http ADDR PORT`, one
// `switchyard_http_user NAME "HASH" viewer|operator` per user, and `switchyard_http_metrics_auth`.
// The settings and their reader; the listener itself is SwitchyardHTTP's.
import Glibc
import SwitchyardCore

/// Who may open the status page, and what they may do there.
public enum HTTPRole: String, Sendable, Equatable, Codable {
    /// Reads the page, /status.json and /metrics.
    case viewer
    /// Also drains, makes ready and sets weights.
    case `operator`
}

/// One `switchyard_http_user` line.
public struct HTTPUser: Sendable, Equatable {
    public var name: String
    /// A bcrypt hash (`switchyard passwd` prints one): $2a$, $2b$ or $2y$, cost, 53 characters.
    public var hash: String
    public var role: HTTPRole
    /// Where the line is (nil for a user made in code).
    public var location: SourceLocation?

    public init(name: String, hash: String, role: HTTPRole, location: SourceLocation? = nil) {
        self.name = name
        self.hash = hash
        self.role = role
        self.location = location
    }
}

/// The HTTP listener's settings (off while `address` is nil).
public struct HTTPSettings: Sendable, Equatable {
    /// The address to listen on, as written (an IPv4 or IPv6 literal), and the port.
    public var address: String?
    public var port: UInt16 = 0
    public var users: [HTTPUser] = []
    /// /metrics asks for a user too (any role).
    public var metricsAuth = false

    public init() {}

    public var isOn: Bool { address != nil }

    /// Whether `hash` has bcrypt's modular-crypt shape: `$2b$12$` and 53 characters of its alphabet.
    public static func isBcryptHash(_ hash: String) -> Bool {
        let b = Array(hash.utf8)
        guard b.count == 60, b[0] == UInt8(ascii: "$"), b[1] == UInt8(ascii: "2"),
              [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(b[2]), b[3] == UInt8(ascii: "$"),
              let cost = Int(String(decoding: b[4..<6], as: UTF8.self)), (4...31).contains(cost), b[6] == UInt8(ascii: "$")
        else { return false }
        return b[7...].allSatisfy { c in
            c == UInt8(ascii: ".") || c == UInt8(ascii: "/") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
        }
    }

    /// Whether `text` is an IPv4 or IPv6 address literal.
    static func isAddressLiteral(_ text: String) -> Bool {
        if IPv4Address(text) != nil { return true }
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}

extension ConfigReader {
    /// The HTTP keywords of global_defs; false for any other keyword.
    mutating func httpGlobal(_ s: Statement) throws(ConfigDiagnostic) -> Bool {
        switch s.keyword.text {
        case "switchyard_http":
            guard s.arguments.count == 2, s.children == nil else {
                throw error(s.keyword, "switchyard_http takes an address and a port: switchyard_http 198.18.0.1 8080")
            }
            let address = s.arguments[0].text
            guard HTTPSettings.isAddressLiteral(address) else {
                throw error(s.arguments[0], "switchyard_http: \"\(address)\" is not an IPv4 or IPv6 address (0.0.0.0 or :: for all)")
            }
            guard let port = UInt16(s.arguments[1].text), port > 0 else {
                throw error(s.arguments[1], "switchyard_http: the port must be from 1 to 65535, not \"\(s.arguments[1].text)\"")
            }
            config.http.address = address
            config.http.port = port
        case "switchyard_http_user":
            guard s.arguments.count == 3, s.children == nil else {
                throw error(s.keyword, "switchyard_http_user takes a name, a bcrypt hash in double quotes and a role: "
                    + "switchyard_http_user alice \"$2b$10$…\" operator (switchyard passwd prints the hash)")
            }
            let name = s.arguments[0].text
            guard !name.isEmpty, name.utf8.count <= 64, !name.contains(":"),
                  name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7f }) else {
                throw error(s.arguments[0], "switchyard_http_user: a user name is 1 to 64 printable characters without \":\"")
            }
            guard !config.http.users.contains(where: { $0.name == name }) else {
                throw error(s.arguments[0], "switchyard_http_user: \(name) is already defined")
            }
            let hash = s.arguments[1].text
            guard HTTPSettings.isBcryptHash(hash) else {
                throw error(s.arguments[1], "switchyard_http_user: the password must be a bcrypt hash such as "
                    + "\"$2b$10$…\" (60 characters; `switchyard passwd` prints one), in double quotes")
            }
            guard let role = HTTPRole(rawValue: s.arguments[2].text) else {
                throw error(s.arguments[2], "switchyard_http_user: the role is viewer or operator, not \"\(s.arguments[2].text)\"")
            }
            config.http.users.append(HTTPUser(name: name, hash: hash, role: role, location: s.keyword.location))
        case "switchyard_http_metrics_auth":
            guard s.arguments.isEmpty, s.children == nil else {
                throw error(s.keyword, "switchyard_http_metrics_auth takes no value")
            }
            config.http.metricsAuth = true
        default:
            return false
        }
        return true
    }

    /// After the whole file: users without a listener, or a listener nobody can open.
    mutating func settleHTTP() {
        if !config.http.isOn, let first = config.http.users.first, let location = first.location {
            warn(at: location, "switchyard_http_user without switchyard_http: no HTTP listener runs")
        }
    }
}
