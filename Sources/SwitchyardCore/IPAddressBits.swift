// One address type for both families in the data plane's keys and tables, as IPVS keeps a
// union nf_inet_addr and Katran a 16-byte address in its flow key: an IPv6 address as two
// 64-bit words, an IPv4 address in its mapped form ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). The
// parser drops IPv6 packets whose addresses lie in ::/64 (the mapped and compatible forms, ::
// and ::1 among them: never a valid address on the wire), so the two families never meet.

/// An IPv4 or IPv6 address as 128 bits, most significant word first (network order within).
public struct IPAddressBits: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64

    @inline(__always)
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address (host byte order), mapped.
    @inline(__always)
    public init(v4: UInt32) {
        high = 0
        low = 0x0000_FFFF_0000_0000 | UInt64(v4)
    }

    /// The IPv4 address of a mapped address (host byte order); meaningless for IPv6.
    @inline(__always)
    public var v4: UInt32 { UInt32(truncatingIfNeeded: low) }

    /// Whether the address is an IPv4 one (mapped).
    @inline(__always)
    public var isV4: Bool { high == 0 && low >> 32 == 0xFFFF }

    /// The all-zero address: an empty slot in the snapshot's VIP set, never a VIP.
    public static let zero = IPAddressBits(high: 0, low: 0)

    /// Reads the 16 bytes of an IPv6 address at `offset` (bounds checked by the caller).
    @inline(__always)
    static func load(_ p: UnsafeMutableRawPointer, _ offset: Int) -> IPAddressBits {
        IPAddressBits(high: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
                      low: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
    }

    /// Writes the 16 bytes of an IPv6 address at `offset`.
    @inline(__always)
    func store(_ p: UnsafeMutableRawPointer, _ offset: Int) {
        p.storeBytes(of: high.bigEndian, toByteOffset: offset, as: UInt64.self)
        p.storeBytes(of: low.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
    }

    /// The 16 bytes of the IPv6 (or mapped) address, in network order: for socket calls.
    public var octets: [UInt8] {
        (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? high : low) >> (56 - 8 * UInt64(i % 8))) }
    }

    /// The address of 16 bytes in network order (`octets` back).
    public init(octets: some Collection<UInt8>) {
        var high: UInt64 = 0, low: UInt64 = 0
        for (i, byte) in octets.prefix(16).enumerated() {
            if i < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    /// The address with only the bits `mask` keeps (a persistence granularity: prefixMask or
    /// v4Mask).
    @inline(__always)
    public func masked(_ mask: IPAddressBits) -> IPAddressBits {
        IPAddressBits(high: high & mask.high, low: low & mask.low)
    }

    /// The mask of an IPv6 prefix of `length` bits (0...128).
    public static func prefixMask(_ length: Int) -> IPAddressBits {
        let n = max(0, min(128, length))
        let high: UInt64 = n == 0 ? 0 : n >= 64 ? ~0 : ~0 << (64 - n)
        let low: UInt64 = n <= 64 ? 0 : n == 128 ? ~0 : ~0 << (128 - n)
        return IPAddressBits(high: high, low: low)
    }

    /// An IPv4 netmask (host byte order) as a mask of mapped addresses: the mapped prefix is
    /// kept whole, so a masked IPv4 address stays an IPv4 address.
    @inline(__always)
    public static func v4Mask(_ mask: UInt32) -> IPAddressBits {
        IPAddressBits(high: ~0, low: 0xFFFF_FFFF_0000_0000 | UInt64(mask))
    }

    /// The ones'-complement sum of the address's eight 16-bit words (for pseudo-header sums and
    /// their incremental updates; for a mapped address, the IPv4 address's two words and 0xFFFF).
    @inline(__always)
    public var wordSum: UInt64 {
        func words(_ x: UInt64) -> UInt64 { (x >> 48) &+ (x >> 32 & 0xFFFF) &+ (x >> 16 & 0xFFFF) &+ (x & 0xFFFF) }
        return words(high) &+ words(low)
    }
}
