// The authentication envelope of connection sync between Switchyard balancers: HMAC-SHA256 with
// a shared key over each datagram and a sequence number, so that a backup installs flows only
// from a master that knows the key, and never the same datagram twice. Pure apart from the hash
// (OpenSSL's libcrypto through CCrypto) and the one clock read that starts a sender's numbers.
//
// A datagram is the message as it would travel unauthenticated (an IPVS version 1 sync message,
// or our catch-up request) followed by a 44-byte trailer:
//   0–3   magic "SYA1"
//   4–11  sequence number, big-endian
//   12–43 HMAC-SHA256(key, message ‖ magic ‖ sequence)
//
// A kernel IPVS backup cannot check the trailer, and would not take such a datagram anyway: it
// refuses a message whose length differs from the header's size field. So authentication is for
// Switchyard pairs; a pair without a key sends the bare message and stays wire-compatible with
// the kernel (and with keepalived driving it).
//
// Replays: the receiver keeps a SyncReplayWindow per sender address and moves it only for a
// datagram whose MAC checked. A sender starts its numbers at (realtime seconds << 32), so a
// restarted master's numbers are still above those it sent before (unless its clock went back).
// What the window cannot stop: a backup that restarted has an empty window and takes one replay
// of an old datagram from before; its state is refreshed by the live stream right after.
import CCrypto
import Glibc

/// Why an authenticated datagram was refused.
public enum SyncAuthError: Error, Hashable, Sendable {
    /// Shorter than the 44-byte trailer (an unauthenticated catch-up request is too).
    case tooShort(length: Int)
    /// No "SYA1" where the trailer starts: an unauthenticated message (a kernel master, or a
    /// Switchyard without the key).
    case noTrailer
    /// The HMAC does not match: another key, or bytes changed on the way.
    case badMAC
}

/// HMAC-SHA256 sealing and opening of sync datagrams with one shared key.
public struct SyncAuth: Sendable {
    /// The trailer's magic, "SYA1".
    public static let magic: [UInt8] = [0x53, 0x59, 0x41, 0x31]
    /// Bytes of an HMAC-SHA256.
    public static let macLength = 32
    /// Bytes of the trailer: magic, sequence, HMAC.
    public static let trailerLength = 4 + 8 + macLength
    /// The shortest key accepted: 16 bytes, 128 bits.
    public static let minimumKeyLength = 16

    private let key: [UInt8]

    /// An envelope with `key`; nil for a key shorter than `minimumKeyLength`.
    public init?(key: [UInt8]) {
        guard key.count >= Self.minimumKeyLength else { return nil }
        self.key = key
    }

    /// `message` followed by the trailer for `sequence`.
    public func seal(_ message: [UInt8], sequence: UInt64) -> [UInt8] {
        var datagram = message
        datagram.reserveCapacity(message.count + Self.trailerLength)
        datagram += Self.magic
        for shift in stride(from: 56, through: 0, by: -8) { datagram.append(UInt8(truncatingIfNeeded: sequence >> UInt64(shift))) }
        datagram += Self.hmacSHA256(key: key, datagram[...])
        return datagram
    }

    /// The message and sequence number of a sealed datagram whose MAC checks. The sequence is
    /// not checked here: give it to the sender's SyncReplayWindow afterwards.
    public func open(_ datagram: [UInt8]) -> Result<(message: [UInt8], sequence: UInt64), SyncAuthError> {
        guard datagram.count >= Self.trailerLength else { return .failure(.tooShort(length: datagram.count)) }
        let trailer = datagram.count - Self.trailerLength
        guard datagram[trailer..<trailer + 4].elementsEqual(Self.magic) else { return .failure(.noTrailer) }
        let macStart = datagram.count - Self.macLength
        let expected = Self.hmacSHA256(key: key, datagram[..<macStart])
        let same = expected.withUnsafeBytes { want in
            datagram.withUnsafeBytes { got in
                // Constant time: how many leading bytes matched must not show in the timing.
                CRYPTO_memcmp(want.baseAddress!, got.baseAddress! + macStart, Self.macLength) == 0
            }
        }
        guard same else { return .failure(.badMAC) }
        var sequence: UInt64 = 0
        for byte in datagram[trailer + 4..<macStart] { sequence = sequence << 8 | UInt64(byte) }
        return .success((message: Array(datagram[..<trailer]), sequence: sequence))
    }

    /// HMAC-SHA256 of `data` with `key` (RFC 2104 with SHA-256, as RFC 4231 tests it), by
    /// OpenSSL's one-shot HMAC. `key` must not be empty (OpenSSL reads a NULL key as "the last
    /// one again").
    public static func hmacSHA256(key: [UInt8], _ data: ArraySlice<UInt8>) -> [UInt8] {
        precondition(!key.isEmpty, "HMAC-SHA256 needs a key")
        var mac = [UInt8](repeating: 0, count: macLength)
        var length: UInt32 = 0
        let done = key.withUnsafeBytes { keyBytes in
            data.withUnsafeBytes { dataBytes in
                mac.withUnsafeMutableBytes { out in
                    HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(key.count),
                         dataBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count,
                         out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
                }
            }
        }
        // Only an allocation failure inside OpenSSL gets here; nothing sensible can go on.
        precondition(done != nil && length == UInt32(macLength), "OpenSSL HMAC-SHA256 failed")
        return mac
    }
}

/// Where a sender's sequence numbers start.
public enum SyncAuthSequence {
    /// The first sequence number for a sender started at `realtimeSeconds` (seconds since the
    /// epoch): the seconds in the high 32 bits, so a master restarted a second or more later
    /// starts above anything it sent before, as long as it sent fewer than 2^32 datagrams a
    /// second of its previous life.
    public static func first(realtimeSeconds: UInt64) -> UInt64 {
        realtimeSeconds << 32
    }

    /// The first sequence number for a sender starting now (CLOCK_REALTIME).
    public static func first() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return first(realtimeSeconds: UInt64(max(0, now.tv_sec)))
    }
}

/// What a replay window says about a sequence number.
public enum SyncReplayVerdict: Hashable, Sendable {
    /// New: above the highest seen, or in the window and not seen before.
    case accepted
    /// Seen before: a replay, or the network delivered it twice.
    case repeated
    /// Below the window: too old to tell, refused.
    case tooOld
}

/// The sliding window of RFC 4303 section 3.4.3 (IPsec's anti-replay) for one sender: the
/// highest sequence number seen and a 64-entry bitmap of those just below it. Pure; the caller
/// keeps one per sender address and checks a number only once its datagram's MAC checked.
public struct SyncReplayWindow: Hashable, Sendable {
    /// How many numbers below the highest are remembered, the highest included.
    public static let width: UInt64 = 64

    /// The highest sequence number accepted; nil before the first.
    public private(set) var highest: UInt64?
    /// Bit i: `highest - i` was accepted.
    private var seen: UInt64 = 0

    /// An empty window: it accepts any first number.
    public init() {}

    /// Accepts `sequence` and remembers it, or says why not.
    public mutating func check(_ sequence: UInt64) -> SyncReplayVerdict {
        guard let top = highest else {
            highest = sequence
            seen = 1
            return .accepted
        }
        if sequence > top {
            let ahead = sequence - top
            seen = ahead >= Self.width ? 1 : seen << ahead | 1
            highest = sequence
            return .accepted
        }
        let behind = top - sequence
        guard behind < Self.width else { return .tooOld }
        let bit: UInt64 = 1 << behind
        if seen & bit != 0 { return .repeated }
        seen |= bit
        return .accepted
    }
}
