// SipHash-1-3 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012) over a fixed
// 16-byte input (an IPv4 flow) or 40-byte one (IPv6). A keyed PRF: with a secret random key an
// attacker cannot aim flows at one bucket of the flow table, and with a shared fixed key every
// LB hashes a flow the same way.

/// A 128-bit SipHash key.
public struct HashKey: Hashable, Sendable {
    public var k0: UInt64
    public var k1: UInt64
    public init(k0: UInt64, k1: UInt64) { self.k0 = k0; self.k1 = k1 }

    /// The scheduling key used when the config sets none: the same in every build, so LBs
    /// that share a config (or use the default) send a flow to the same real server.
    public static let defaultScheduling = HashKey(k0: 0x5377_6974_6368_7961, k1: 0x7264_2D6D_6167_6C65)

    /// A key from the system's random source (for the flow table: hash-flooding resistance).
    public static func random() -> HashKey {
        var g = SystemRandomNumberGenerator()
        return HashKey(k0: g.next(), k1: g.next())
    }

    /// Parses 32 hex digits (an optional 0x prefix), as written in the config.
    public init?(hex text: some StringProtocol) {
        var s = Substring(text)
        if s.hasPrefix("0x") || s.hasPrefix("0X") { s = s.dropFirst(2) }
        guard s.count == 32, let a = UInt64(s.prefix(16), radix: 16), let b = UInt64(s.suffix(16), radix: 16) else {
            return nil
        }
        self.k0 = a
        self.k1 = b
    }
}

public enum SipHash {
    @inline(__always)
    static func round(_ v0: inout UInt64, _ v1: inout UInt64, _ v2: inout UInt64, _ v3: inout UInt64) {
        v0 &+= v1; v1 = v1.rotatedLeft(13); v1 ^= v0; v0 = v0.rotatedLeft(32)
        v2 &+= v3; v3 = v3.rotatedLeft(16); v3 ^= v2
        v0 &+= v3; v3 = v3.rotatedLeft(21); v3 ^= v0
        v2 &+= v1; v1 = v1.rotatedLeft(17); v1 ^= v2; v2 = v2.rotatedLeft(32)
    }

    /// SipHash's state: keyed, fed 8 bytes at a time (one compression round each: the "1"),
    /// finished with the length and three rounds (the "3").
    struct State {
        var v0, v1, v2, v3: UInt64

        @inline(__always)
        init(_ key: HashKey) {
            v0 = key.k0 ^ 0x736f_6d65_7073_6575
            v1 = key.k1 ^ 0x646f_7261_6e64_6f6d
            v2 = key.k0 ^ 0x6c79_6765_6e65_7261
            v3 = key.k1 ^ 0x7465_6462_7974_6573
        }

        @inline(__always)
        mutating func absorb(_ m: UInt64) {
            v3 ^= m; round(&v0, &v1, &v2, &v3); v0 ^= m
        }

        @inline(__always)
        mutating func finish(length: UInt64) -> UInt64 {
            absorb(length << 56)
            v2 ^= 0xFF
            round(&v0, &v1, &v2, &v3); round(&v0, &v1, &v2, &v3); round(&v0, &v1, &v2, &v3)
            return v0 ^ v1 ^ v2 ^ v3
        }
    }

    /// SipHash-1-3 of the 16 bytes `m0` (little-endian first word) and `m1`.
    @inline(__always)
    public static func hash(_ m0: UInt64, _ m1: UInt64, key: HashKey) -> UInt64 {
        var s = State(key)
        s.absorb(m0)
        s.absorb(m1)
        return s.finish(length: 16)
    }

    /// SipHash-1-3 of the 40 bytes `m0` … `m4` (an IPv6 flow key).
    @inline(__always)
    public static func hash(_ m0: UInt64, _ m1: UInt64, _ m2: UInt64, _ m3: UInt64, _ m4: UInt64,
                            key: HashKey) -> UInt64 {
        var s = State(key)
        s.absorb(m0)
        s.absorb(m1)
        s.absorb(m2)
        s.absorb(m3)
        s.absorb(m4)
        return s.finish(length: 40)
    }
}

extension UInt64 {
    @inline(__always)
    func rotatedLeft(_ n: UInt64) -> UInt64 { (self << n) | (self >> (64 - n)) }
}
