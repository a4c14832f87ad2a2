// Network-byte-order loads and stores on raw frame memory.
// Every caller has checked the bounds of the header it reads before calling these;
// they do no checking of their own so the hot path pays for one check per header.

@inline(__always)
func load16(_ p: UnsafeMutableRawPointer, _ offset: Int) -> UInt16 {
    UInt16(bigEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

@inline(__always)
func load32(_ p: UnsafeMutableRawPointer, _ offset: Int) -> UInt32 {
    UInt32(bigEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

@inline(__always)
public func store16(_ p: UnsafeMutableRawPointer, _ offset: Int, _ value: UInt16) {
    p.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
}

@inline(__always)
public func store32(_ p: UnsafeMutableRawPointer, _ offset: Int, _ value: UInt32) {
    p.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
}

/// A MAC address packed in the low 48 bits of a UInt64, first octet most significant.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var bits: UInt64

    public init(bits: UInt64) { self.bits = bits & 0xFFFF_FFFF_FFFF }

    public init(_ octets: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) {
        var v: UInt64 = 0
        for o in [octets.0, octets.1, octets.2, octets.3, octets.4, octets.5] { v = v << 8 | UInt64(o) }
        self.bits = v
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":")
        guard parts.count == 6 else { return nil }
        var v: UInt64 = 0
        for part in parts {
            guard part.count <= 2, let octet = UInt8(part, radix: 16) else { return nil }
            v = v << 8 | UInt64(octet)
        }
        self.bits = v
    }

    public static let zero = MACAddress(bits: 0)
    public static let broadcast = MACAddress(bits: 0xFFFF_FFFF_FFFF)

    public var octets: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: bits >> UInt64(40 - 8 * $0)) } }

    /// Writes the six octets at `offset`.
    @inline(__always)
    public func store(to p: UnsafeMutableRawPointer, at offset: Int) {
        store32(p, offset, UInt32(truncatingIfNeeded: bits >> 16))
        store16(p, offset + 4, UInt16(truncatingIfNeeded: bits))
    }

    public var description: String {
        octets.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }
}

/// An IPv4 address in host byte order.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32
    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad text; nil for anything else (no shorthand forms, no leading zeros).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  !(part.count > 1 && part.first == "0"), let octet = UInt8(part) else { return nil }
            v = v << 8 | UInt32(octet)
        }
        self.value = v
    }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }
}
