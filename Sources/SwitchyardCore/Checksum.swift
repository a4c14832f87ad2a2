// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

/// Ones'-complement sum helpers. The sums are kept in 32 bits and folded at the end.
public enum InternetChecksum {
    /// Adds `length` bytes at `p` to `initial` (not folded, not complemented).
    /// An odd trailing byte is padded with zero, as RFC 1071 §4.1 says.
    @inline(__always)
    public static func sum(_ p: UnsafeRawPointer, _ length: Int, initial: UInt64 = 0) -> UInt64 {
        var acc = initial
        var i = 0
        // 32-bit words into a 64-bit accumulator: carries collect in the high half.
        while i + 4 <= length {
            acc &+= UInt64(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            i += 4
        }
        if i + 2 <= length {
            acc &+= UInt64(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt16.self)))
            i += 2
        }
        if i < length {
            acc &+= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << 8
        }
        return acc
    }

    /// `sum(p, 20)` unrolled: an IPv4 header without options, five 32-bit words.
    @inline(__always)
    public static func sum20(_ p: UnsafeRawPointer) -> UInt64 {
        func word(_ offset: Int) -> UInt64 { UInt64(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
        return word(0) &+ word(4) &+ word(8) &+ word(12) &+ word(16)
    }

    /// Folds a wide sum to 16 bits (not complemented).
    @inline(__always)
    public static func fold(_ sum: UInt64) -> UInt16 {
        var s = sum
        s = (s & 0xFFFF_FFFF) &+ (s >> 32)
        s = (s & 0xFFFF_FFFF) &+ (s >> 32)
        s = (s & 0xFFFF) &+ (s >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        return UInt16(truncatingIfNeeded: s)
    }

    /// The checksum of a byte range: the complement of the folded sum.
    public static func checksum(_ p: UnsafeRawPointer, _ length: Int, initial: UInt64 = 0) -> UInt16 {
        ~fold(sum(p, length, initial: initial))
    }

    /// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit field changing from m to m'.
    @inline(__always)
    public static func update(_ checksum: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        let s = UInt32(~checksum) &+ UInt32(~old) &+ UInt32(new)
        return ~fold(UInt64(s))
    }

    /// RFC 1624 for a 32-bit field (an IPv4 address): two 16-bit updates in one sum.
    @inline(__always)
    public static func update(_ checksum: UInt16, old: UInt32, new: UInt32) -> UInt16 {
        var s = UInt32(~checksum)
        s &+= UInt32(~UInt16(truncatingIfNeeded: old >> 16)) &+ UInt32(~UInt16(truncatingIfNeeded: old))
        s &+= (new >> 16) &+ (new & 0xFFFF)
        return ~fold(UInt64(s))
    }

    /// RFC 1624 for a 128-bit field (an IPv6 address): eight 16-bit updates in one sum.
    @inline(__always)
    public static func update(_ checksum: UInt16, old: IPAddressBits, new: IPAddressBits) -> UInt16 {
        // ~m summed word by word is (8 × 0xFFFF) − Σm: the complement of the old address's sum.
        let s = UInt64(~checksum) &+ (8 &* 0xFFFF &- old.wordSum) &+ new.wordSum
        return ~fold(s)
    }

    /// The IPv6 pseudo-header sum (RFC 8200 §8.1) for a TCP, UDP or ICMPv6 checksum: both
    /// addresses, the upper-layer length and the next-header value.
    @inline(__always)
    public static func pseudoHeaderSum6(source: IPAddressBits, destination: IPAddressBits, nextHeader: UInt8,
                                        length: Int) -> UInt64 {
        source.wordSum &+ destination.wordSum &+ UInt64(length >> 16) &+ UInt64(length & 0xFFFF) &+ UInt64(nextHeader)
    }

    /// The IPv4 pseudo-header sum (RFC 793 §3.1, RFC 768) for a TCP or UDP checksum.
    @inline(__always)
    public static func pseudoHeaderSum(source: UInt32, destination: UInt32, protocol proto: UInt8, length: Int) -> UInt64 {
        UInt64(source >> 16) &+ UInt64(source & 0xFFFF) &+ UInt64(destination >> 16) &+ UInt64(destination & 0xFFFF)
            &+ UInt64(proto) &+ UInt64(length)
    }
}
