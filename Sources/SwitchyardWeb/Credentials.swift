// HTTP Basic credentials against the config's switchyard_http_user lines: the header parsed,
// the password checked with bcrypt, and a pass remembered (as a salted SHA-256 of the header,
// never the password) so that a page refreshing every 2 s does not pay bcrypt's cost each time.
import CCrypto
import HummingbirdBcrypt
import Synchronization
import SwitchyardControl

/// Who a request's credentials name, once checked.
public struct SignedIn: Sendable, Equatable {
    public var name: String
    public var role: HTTPRole
}

final class Credentials: Sendable {
    /// Header digests that passed, with the user and the hash they passed against (a reload that
    /// changes a user's hash or removes the user makes its entries worthless).
    private let passed = Mutex<[[UInt8]: (name: String, hash: String)]>([:])
    /// One bcrypt at a time: each costs tens of milliseconds of CPU the data plane shares.
    private let bcrypt = Mutex(())
    private let salt: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }
    static let rememberedAtMost = 1_024

    /// The user an Authorization header names, if its password is right; nil otherwise.
    func check(_ authorization: String?, users: [HTTPUser]) -> SignedIn? {
        guard let authorization, let (name, password) = Self.basic(authorization),
              let user = users.first(where: { $0.name == name }) else { return nil }
        let digest = sha256(salt + Array(authorization.utf8))
        if let known = passed.withLock({ $0[digest] }), known.name == user.name, known.hash == user.hash {
            return SignedIn(name: user.name, role: user.role)
        }
        let ok = bcrypt.withLock { _ in Bcrypt.verify(password, hash: user.hash) }
        guard ok else { return nil }
        passed.withLock { table in
            if table.count >= Self.rememberedAtMost { table.removeAll() }
            table[digest] = (user.name, user.hash)
        }
        return SignedIn(name: user.name, role: user.role)
    }

    /// "Basic BASE64(name:password)" split into name and password.
    static func basic(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let decoded = base64Decode(parts[1].trimmingSpaces) else { return nil }
        let text = String(decoding: decoded, as: UTF8.self)
        guard let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// Standard base64 (RFC 4648 §4), padding required when the length asks for it.
    static func base64Decode(_ text: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0, bits = 0, padding = 0
        for c in text.utf8 {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="): padding += 1; continue
            default: return nil
            }
            guard padding == 0 else { return nil }
            buffer = buffer << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        guard (text.utf8.count % 4 == 0), padding <= 2 else { return nil }
        return out
    }

    private func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = EVP_Digest(bytes, bytes.count, &digest, &length, EVP_sha256(), nil)
        return digest
    }
}
