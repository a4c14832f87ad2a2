// The connection-sync authentication envelope: OpenSSL's HMAC-SHA256 against RFC 4231, a sealed
// datagram against bytes computed independently (Python's hmac module, below), every way an
// opened datagram is refused, the replay window, and where a sender's numbers start.
import Glibc
import XCTest
@testable import SwitchyardControl

final class SyncAuthTests: XCTestCase {
    static let key = Array("switchyard-sync-0123".utf8)
    /// syncGoldenFixtures' "one TCP NAT connection, ESTABLISHED" message.
    static let message = hexBytes("0001002c01010000000600240000000000019c4000501f900000000000000384c612000ac6120064c612010b")
    static let sequence: UInt64 = 0x6930_AB00_0000_0005
    /// python3: d = message + b"SYA1" + sequence.to_bytes(8, "big");
    ///          d + hmac.new(key, d, hashlib.sha256).digest()
    static let sealed = hexBytes("0001002c01010000000600240000000000019c4000501f900000000000000384c612000ac6120064c612010b"
        + "53594131" + "6930ab0000000005"
        + "7c6e74f6eb6383d6923933d6227d99e88bde5db595dc5505a696fea629e5675c")

    var auth: SyncAuth { SyncAuth(key: Self.key)! }

    func testHMACSHA256MatchesRFC4231() {
        // Test case 2: a key shorter than the block.
        XCTAssertEqual(SyncAuth.hmacSHA256(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8)[...]),
                       hexBytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
        // Test case 6: a key longer than the block (hashed first).
        XCTAssertEqual(SyncAuth.hmacSHA256(key: [UInt8](repeating: 0xAA, count: 131),
                                           Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)[...]),
                       hexBytes("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"))
    }

    func testSealedDatagramHasTheGoldenBytes() {
        XCTAssertEqual(SyncAuth.trailerLength, 44)
        XCTAssertEqual(auth.seal(Self.message, sequence: Self.sequence), Self.sealed)
    }

    func testOpenGivesBackMessageAndSequence() throws {
        let opened = try auth.open(Self.sealed).get()
        XCTAssertEqual(opened.message, Self.message)
        XCTAssertEqual(opened.sequence, Self.sequence)
        // And round trips for other lengths, the empty message included.
        for length in [0, 1, 12, 44, 1428] {
            let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let back = try auth.open(auth.seal(message, sequence: UInt64(length) << 40 | 3)).get()
            XCTAssertEqual(back.message, message, "length \(length)")
            XCTAssertEqual(back.sequence, UInt64(length) << 40 | 3)
        }
    }

    func testAKeyShorterThan16BytesIsRefused() {
        XCTAssertNil(SyncAuth(key: Array("fifteen-chars!!".utf8)))
        XCTAssertNotNil(SyncAuth(key: Array("sixteen-chars!!!".utf8)))
    }

    func testAFlippedBitAnywhereIsABadMAC() {
        // In the message, the magic excepted (that is noTrailer), the sequence and the MAC.
        let magic = Self.message.count..<Self.message.count + 4
        for index in Self.sealed.indices {
            for bit in [0, 7] {
                var changed = Self.sealed
                changed[index] ^= 1 << bit
                let expected: SyncAuthError = magic.contains(index) ? .noTrailer : .badMAC
                XCTAssertEqual(failure(auth.open(changed)), expected, "byte \(index) bit \(bit)")
            }
        }
    }

    func testAnotherKeyIsABadMAC() {
        let other = SyncAuth(key: Array("switchyard-sync-0124".utf8))!
        XCTAssertEqual(failure(other.open(Self.sealed)), .badMAC)
    }

    func testTruncatedIsTooShortAndABareMessageHasNoTrailer() {
        XCTAssertEqual(failure(auth.open([])), .tooShort(length: 0))
        XCTAssertEqual(failure(auth.open(Array(Self.sealed.prefix(43)))), .tooShort(length: 43))
        XCTAssertEqual(failure(auth.open(Array(Self.sealed.suffix(43)))), .tooShort(length: 43))
        // Cut anywhere longer than a trailer: the magic is no longer where it should be, or the
        // MAC no longer covers what is left.
        for cut in 1...Self.message.count {
            let shorter = Array(Self.sealed.dropLast(cut))
            XCTAssertNotNil(failure(auth.open(shorter)), "cut \(cut)")
        }
        // What a kernel master (or a Switchyard without the key) sends.
        XCTAssertEqual(failure(auth.open(Self.message)), .noTrailer)
    }

    func failure(_ result: Result<(message: [UInt8], sequence: UInt64), SyncAuthError>) -> SyncAuthError? {
        if case .failure(let e) = result { return e }
        return nil
    }

    // MARK: - Replay window

    func testReplayWindowTakesNewNumbersAndRefusesRepeats() {
        var window = SyncReplayWindow()
        XCTAssertNil(window.highest)
        XCTAssertEqual(window.check(1000), .accepted, "any first number")
        XCTAssertEqual(window.check(1000), .repeated)
        XCTAssertEqual(window.check(1001), .accepted)
        XCTAssertEqual(window.check(1005), .accepted, "a gap")
        XCTAssertEqual(window.check(1003), .accepted, "late but inside the window")
        XCTAssertEqual(window.check(1003), .repeated)
        XCTAssertEqual(window.check(1002), .accepted)
        XCTAssertEqual(window.check(1001), .repeated)
        XCTAssertEqual(window.highest, 1005)
    }

    func testReplayWindowIs64Wide() {
        var window = SyncReplayWindow()
        XCTAssertEqual(window.check(100), .accepted)
        XCTAssertEqual(window.check(37), .accepted, "100 - 63: the window's last place")
        XCTAssertEqual(window.check(36), .tooOld, "100 - 64")
        XCTAssertEqual(window.check(0), .tooOld)
        XCTAssertEqual(window.check(37), .repeated)
        // Sliding by 1 forgets 37's place; what is still inside keeps its bit.
        XCTAssertEqual(window.check(101), .accepted)
        XCTAssertEqual(window.check(37), .tooOld)
        XCTAssertEqual(window.check(100), .repeated)
        XCTAssertEqual(window.check(50), .accepted)
        // A jump of 64 or more leaves only the new highest seen.
        XCTAssertEqual(window.check(101 + 64), .accepted)
        XCTAssertEqual(window.check(101), .tooOld)
        XCTAssertEqual(window.check(102), .accepted)
        XCTAssertEqual(window.check(101 + 64), .repeated)
        XCTAssertEqual(window.check(UInt64.max), .accepted, "a jump of nearly 2^64 does not overflow the shift")
        XCTAssertEqual(window.check(UInt64.max - 63), .accepted)
        XCTAssertEqual(window.check(UInt64.max - 64), .tooOld)
    }

    func testEveryNumberOfAShuffledStreamIsTakenOnce() {
        var window = SyncReplayWindow()
        var generator = SystemRandomNumberGenerator()
        // Numbers arrive up to 32 late: all are taken, each once.
        var numbers = Array(UInt64(1)...2000)
        for start in stride(from: 0, to: numbers.count, by: 32) {
            numbers[start..<min(start + 32, numbers.count)].shuffle(using: &generator)
        }
        for n in numbers { XCTAssertEqual(window.check(n), .accepted, "\(n)") }
        XCTAssertEqual(window.highest, 2000)
        for n in UInt64(2000 - 63)...2000 { XCTAssertEqual(window.check(n), .repeated, "\(n)") }
        XCTAssertEqual(window.check(2000 - 64), .tooOld)
    }

    // MARK: - A sender's first number

    func testFirstSequenceIsTheRealtimeSecondsInTheHigh32Bits() {
        XCTAssertEqual(SyncAuthSequence.first(realtimeSeconds: 0x6930_AB00), 0x6930_AB00_0000_0000)
        // A master restarted one second later starts above 2^32 - 1 numbers of its former life.
        XCTAssertGreaterThan(SyncAuthSequence.first(realtimeSeconds: 0x6930_AB01),
                             SyncAuthSequence.first(realtimeSeconds: 0x6930_AB00) + UInt64(UInt32.max))
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let first = SyncAuthSequence.first()
        XCTAssertEqual(first & 0xFFFF_FFFF, 0)
        XCTAssertLessThanOrEqual(abs(Int64(first >> 32) - Int64(now.tv_sec)), 1, "the clock now")
    }
}
