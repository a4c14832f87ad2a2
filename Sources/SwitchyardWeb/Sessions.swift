// The status page's sessions: a random id in an HttpOnly, SameSite=Strict cookie, bound to the
// signed-in user, with a CSRF token of its own that the page sends back on every POST.
import Synchronization

final class Sessions: Sendable {
    struct Session: Equatable {
        var user: String
        var csrf: String
        var lastUsed: Double
    }

    static let cookieName = "switchyard_session"
    /// Sessions kept at most (the oldest goes first) and idle seconds before one expires.
    static let keptAtMost = 256
    static let idleSeconds = 12 * 3600.0

    private let table = Mutex<[String: Session]>([:])

    /// The session a cookie names for `user`, refreshed; or a new one (the cookie to set is
    /// returned with it).
    func open(cookie: String?, user: String, now: Double) -> (id: String, session: Session, isNew: Bool) {
        table.withLock { t in
            if let id = cookie, var s = t[id], s.user == user, now - s.lastUsed < Self.idleSeconds {
                s.lastUsed = now
                t[id] = s
                return (id, s, false)
            }
            t = t.filter { now - $0.value.lastUsed < Self.idleSeconds }
            if t.count >= Self.keptAtMost, let oldest = t.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
                t[oldest] = nil
            }
            let id = Self.token()
            let s = Session(user: user, csrf: Self.token(), lastUsed: now)
            t[id] = s
            return (id, s, true)
        }
    }

    /// Whether `cookie` names a live session of `user` whose CSRF token is `csrf`.
    func admits(cookie: String?, user: String, csrf: String?, now: Double) -> Bool {
        guard let cookie, let csrf else { return false }
        return table.withLock { t in
            guard var s = t[cookie], s.user == user, now - s.lastUsed < Self.idleSeconds,
                  Self.sameBytes(Array(s.csrf.utf8), Array(csrf.utf8)) else { return false }
            s.lastUsed = now
            t[cookie] = s
            return true
        }
    }

    /// Forgets every session of users no longer configured.
    func keepOnly(users: Set<String>) {
        table.withLock { t in t = t.filter { users.contains($0.value.user) } }
    }

    /// 32 random bytes in hex.
    static func token() -> String {
        var g = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for _ in 0..<32 {
            let b = UInt8.random(in: 0...255, using: &g)
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compares without stopping at the first difference.
    static func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var d: UInt8 = 0
        for i in a.indices { d |= a[i] ^ b[i] }
        return d == 0
    }
}
