// IPv6 addresses as text: parsed in every form RFC 4291 §2.2 allows (hex words, one "::",
// a dotted IPv4 tail) and written in RFC 5952's canonical form (lower case, no leading zeros,
// the longest run of two or more zero words as "::", the first such run on a tie).

extension IPAddressBits {
    /// Parses IPv6 text ("2001:db8::1", "::ffff:198.18.0.1"); nil for anything else (no zone
    /// index, no brackets, no prefix length).
    public init?(ipv6 text: some StringProtocol) {
        let s = Substring(text)
        guard !s.isEmpty, s.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var compressed = false
        let halves = s.components("::")
        guard halves.count <= 2 else { return nil }
        compressed = halves.count == 2
        guard let first = Self.words(halves[0], last: !compressed) else { return nil }
        head = first
        if compressed {
            guard let second = Self.words(halves[1], last: true) else { return nil }
            tail = second
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard head.count == 8 else { return nil }
        }
        let all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<4 { high = high << 16 | UInt64(all[i]) }
        for i in 4..<8 { low = low << 16 | UInt64(all[i]) }
        self.init(high: high, low: low)
    }

    /// The 16-bit words of one side of "::" (empty text: none); `last`: the side that ends the
    /// address, where a dotted IPv4 address may stand for the last two words.
    private static func words(_ part: Substring, last: Bool) -> [UInt16]? {
        if part.isEmpty { return [] }
        let groups = part.split(separator: ":", omittingEmptySubsequences: false)
        var out: [UInt16] = []
        for (i, g) in groups.enumerated() {
            if last && i == groups.count - 1 && g.contains(".") {
                guard let v4 = IPv4Address(g) else { return nil }
                out += [UInt16(v4.value >> 16), UInt16(v4.value & 0xFFFF)]
            } else {
                guard (1...4).contains(g.count), g.allSatisfy(\.isHexDigit), let w = UInt16(g, radix: 16) else { return nil }
                out.append(w)
            }
        }
        return out
    }

    /// The address in RFC 5952's form (an IPv4 one, mapped, as "::ffff:a.b.c.d").
    public var ipv6Description: String {
        let w = (0..<8).map { i in UInt16(truncatingIfNeeded: (i < 4 ? high : low) >> (48 - 16 * (i % 4))) }
        if isV4 { return "::ffff:\(IPv4Address(v4))" }
        // The longest run of zero words, at least two long.
        var best = (start: -1, length: 0)
        var i = 0
        while i < 8 {
            guard w[i] == 0 else { i += 1; continue }
            var j = i
            while j < 8 && w[j] == 0 { j += 1 }
            if j - i > best.length && j - i >= 2 { best = (i, j - i) }
            i = j
        }
        func hex(_ r: Range<Int>) -> String { r.map { String(w[$0], radix: 16) }.joined(separator: ":") }
        guard best.start >= 0 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
    }
}

extension IPAddressBits: CustomStringConvertible {
    /// An IPv4 address dotted, an IPv6 one as RFC 5952 writes it.
    public var description: String { isV4 ? "\(IPv4Address(v4))" : ipv6Description }
}

extension Substring {
    /// The text split at each occurrence of `separator` (empty pieces kept). Written out: the
    /// standard library has no substring search without Foundation.
    fileprivate func components(_ separator: String) -> [Substring] {
        let needle = Array(separator)
        var pieces: [Substring] = []
        var start = startIndex
        var i = startIndex
        while i < endIndex {
            var j = i
            var k = 0
            while k < needle.count && j < endIndex && self[j] == needle[k] {
                j = index(after: j)
                k += 1
            }
            if k == needle.count {
                pieces.append(self[start..<i])
                start = j
                i = j
            } else {
                i = index(after: i)
            }
        }
        pieces.append(self[start..<endIndex])
        return pieces
    }
}

extension IPAddressBits: Comparable {
    /// By the 128 bits: every IPv4 address (mapped, ::ffff:0:0/96) sorts before any global
    /// IPv6 one, and IPv4 addresses among themselves as their numbers.
    public static func < (a: IPAddressBits, b: IPAddressBits) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

extension IPAddressBits {
    /// An address of either family as text: dotted IPv4 (mapped) or IPv6 as `init(ipv6:)` reads it.
    public init?(text: some StringProtocol) {
        if let v4 = IPv4Address(text) {
            self.init(v4: v4.value)
        } else if let v6 = IPAddressBits(ipv6: text) {
            self = v6
        } else {
            return nil
        }
    }

    /// The address with a port as ipvsadm writes it: "198.18.0.1:80", "[2001:db8::1]:80".
    public func withPort(_ port: UInt16) -> String { isV4 ? "\(self):\(port)" : "[\(self)]:\(port)" }
}

extension IPAddressBits {
    /// An IPv4 address, mapped.
    public init(_ address: IPv4Address) { self.init(v4: address.value) }

    /// The IPv4 address, or nil for an IPv6 one.
    public var ipv4: IPv4Address? { isV4 ? IPv4Address(v4) : nil }
}
