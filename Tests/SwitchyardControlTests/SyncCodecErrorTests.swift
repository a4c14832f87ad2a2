// The connection-sync decoder on bad input: each refusal on a message mutated for it, the entries
// a kernel backup skips one at a time, random damage that must never crash, and a round trip of
// many random entries through encode and decode.
import XCTest
@testable import SwitchyardControl
import SwitchyardCore

final class SyncCodecErrorTests: XCTestCase {
    /// A message of one IPv4 entry (36 bytes) and the entry's options, header and size fields
    /// made consistent, so that each test breaks only what it means to.
    private func message(state: UInt16 = 1, flags: UInt32 = 0, protocolNumber: UInt8 = 6,
                         options: [UInt8] = [], entries: Int = 1) -> [UInt8] {
        var entry: [UInt8] = [0, protocolNumber, 0, UInt8(36 + options.count)]
        entry += be32(flags) + [UInt8(state >> 8), UInt8(state & 0xFF)]
        entry += [0x9C, 0x40, 0, 80, 0x1F, 0x90] + be32(0) + be32(900)
        entry += [198, 18, 0, 10, 198, 18, 0, 100, 198, 18, 1, 11] + options
        var out: [UInt8] = [0, 1, 0, 0, UInt8(entries), 1, 0, 0]
        for i in 0..<entries {
            if i > 0 { out += [UInt8](repeating: 0, count: (4 - out.count & 3) & 3) }
            out += entry
        }
        return fixSize(out)
    }

    private func fixSize(_ m: [UInt8]) -> [UInt8] {
        var m = m
        m[2] = UInt8(m.count >> 8)
        m[3] = UInt8(m.count & 0xFF)
        return m
    }

    private func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    private func refusal(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> SyncDecodeError? {
        do {
            let decoded = try SyncCodec.decode(bytes)
            XCTFail("decoded \(decoded.entries.count) entries, expected a refusal", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    func testTheBaseMessageDecodes() throws {
        let decoded = try SyncCodec.decode(message(entries: 3))
        XCTAssertEqual(decoded.entries.count, 3)
        XCTAssertEqual(decoded.entries[0].clientPort, 40000)
        XCTAssertEqual(decoded.entries[0].destinationPort, 8080)
        XCTAssertEqual(decoded.entries[0].flowState, .established)
    }

    func testHeaderRefusals() {
        let good = message()
        XCTAssertEqual(refusal([]), .short(length: 0))
        XCTAssertEqual(refusal(Array(good[0..<7])), .short(length: 7))
        XCTAssertEqual(refusal(Array(good.dropLast())), .sizeMismatch(declared: 44, received: 43))
        XCTAssertEqual(refusal(good + [0]), .sizeMismatch(declared: 44, received: 45))
        var v0 = good
        v0[5] = 0
        XCTAssertEqual(refusal(v0), .wrongVersion(version: 0, reserved: 0, spare: 0))
        var v2 = good
        v2[5] = 2
        XCTAssertEqual(refusal(v2), .wrongVersion(version: 2, reserved: 0, spare: 0))
        var reserved = good
        reserved[0] = 1  // what a version 0 header has there: nr_conns
        XCTAssertEqual(refusal(reserved), .wrongVersion(version: 1, reserved: 1, spare: 0))
        var spare = good
        spare[7] = 1
        XCTAssertEqual(refusal(spare), .wrongVersion(version: 1, reserved: 0, spare: 1))
    }

    func testEntryRefusals() {
        var more = message(entries: 2)
        more[4] = 3  // promises a third entry that is not there
        XCTAssertEqual(refusal(more), .entryTruncated(index: 2))
        var overrun = message(entries: 2)
        overrun[8 + 36 + 3] = 40  // the second entry claims 40 bytes, 36 are left
        XCTAssertEqual(refusal(overrun), .entryOverrun(index: 1, size: 40))
        var version = message()
        version[8 + 2] = 0x10
        XCTAssertEqual(refusal(version), .unknownEntryVersion(index: 0, version: 1))
        var type = message()
        type[8] = 2
        XCTAssertEqual(refusal(type), .unknownEntryType(index: 0, type: 2))
        var type3 = message()
        type3[8] = 3  // the kernel would read it as IPv6; we refuse unknown bits
        XCTAssertEqual(refusal(type3), .unknownEntryType(index: 0, type: 3))
        var short = message()
        short[8 + 3] = 20
        XCTAssertEqual(refusal(short), .entryTooShort(index: 0, size: 20))
        var ipv6TooShort = message()
        ipv6TooShort[8] = 1  // an IPv6 entry needs 72 bytes; this one says 36
        XCTAssertEqual(refusal(ipv6TooShort), .entryTooShort(index: 0, size: 36))
        XCTAssertEqual(refusal(message(entries: 2) + [0, 0, 0, 0]), .sizeMismatch(declared: 80, received: 84))
        XCTAssertEqual(refusal(fixSize(message(entries: 2) + [0, 0, 0, 0])), .trailingBytes(count: 4))
    }

    func testOptionRefusals() {
        let seq = [UInt8](repeating: 7, count: 24)
        XCTAssertEqual(refusal(message(options: [1])), .badOption(index: 0, problem: .truncatedHeader))
        XCTAssertEqual(refusal(message(options: [2, 0])), .badOption(index: 0, problem: .badLength(type: 2, length: 0)))
        XCTAssertEqual(refusal(message(options: [2, 5, 1, 2, 3])),
                       .badOption(index: 0, problem: .badLength(type: 2, length: 5)))
        XCTAssertEqual(refusal(message(options: [1, 23] + seq.dropLast())),
                       .badOption(index: 0, problem: .wrongSequenceLength(length: 23)))
        XCTAssertEqual(refusal(message(options: [1, 24] + seq + [1, 24] + seq)),
                       .badOption(index: 0, problem: .repeated(type: 1)))
        XCTAssertEqual(refusal(message(options: [2, 1, 9, 2, 1, 9])), .badOption(index: 0, problem: .repeated(type: 2)))
        XCTAssertEqual(refusal(message(options: [3, 17] + [UInt8](repeating: 0x61, count: 17))),
                       .badOption(index: 0, problem: .tooLong(type: 3, length: 17)))
    }

    func testOptionsAreRead() throws {
        // The "may ignore" bit on a known type still means that type, as the kernel masks it off.
        let seq: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6]
        let decoded = try SyncCodec.decode(message(options: [0x41, 24] + seq + [0x4F, 2, 9, 9, 2, 2, 0xAB, 0xCD, 3, 3] + Array("sip".utf8)))
        let entry = try XCTUnwrap(decoded.entries.first)
        XCTAssertEqual(entry.sequence?.incoming, SyncSequenceAdjustment(initial: 1, delta: 2, previousDelta: 3))
        XCTAssertEqual(entry.sequence?.outgoing, SyncSequenceAdjustment(initial: 4, delta: 5, previousDelta: 6))
        XCTAssertEqual(entry.persistence, SyncPersistenceData(engine: Array("sip".utf8), data: [0xAB, 0xCD]))
        // A name without data is ignored, as the kernel ignores it.
        XCTAssertNil(try SyncCodec.decode(message(options: [3, 3] + Array("sip".utf8))).entries.first?.persistence)
    }

    /// What a kernel backup skips one entry at a time: the other entries still arrive.
    func testSkippedEntriesLeaveTheOthers() throws {
        func skipped(_ m: [UInt8]) throws -> [SyncSkippedEntry] {
            let decoded = try SyncCodec.decode(m)
            XCTAssertEqual(decoded.entries.count + decoded.skipped.count, Int(m[4]))
            return decoded.skipped
        }
        XCTAssertEqual(try skipped(message(options: [9, 1, 0])), [SyncSkippedEntry(index: 0, reason: .unknownMandatoryOption(type: 9))])
        XCTAssertEqual(try skipped(message(options: [0x49, 1, 0])), [], "an unknown optional option is ignored")
        XCTAssertEqual(try skipped(message(state: 11)), [SyncSkippedEntry(index: 0, reason: .invalidState(protocolNumber: 6, state: 11))])
        XCTAssertEqual(try skipped(message(state: 1, protocolNumber: 17)),
                       [SyncSkippedEntry(index: 0, reason: .invalidState(protocolNumber: 17, state: 1))])
        XCTAssertEqual(try skipped(message(state: 40, flags: 0x1000)), [], "a template's state is not checked")
        XCTAssertEqual(try skipped(message(options: [2, 2, 1, 2])), [SyncSkippedEntry(index: 0, reason: .persistenceDataWithoutEngine)])
        // A skipped entry in the middle: the next ones are read.
        var three = message(entries: 3)
        three[8 + 36 + 8] = 0
        three[8 + 36 + 9] = 99
        let decoded = try SyncCodec.decode(three)
        XCTAssertEqual(decoded.entries.count, 2)
        XCTAssertEqual(decoded.skipped, [SyncSkippedEntry(index: 1, reason: .invalidState(protocolNumber: 6, state: 99))])
    }

    /// Random damage to valid messages: every outcome is a decode or a typed refusal, never a trap.
    func testRandomDamageNeverCrashes() {
        var rng = SplitMix64(seed: 0x5EED)
        let seeds = syncGoldenMessages() + [message(options: [1, 24] + [UInt8](repeating: 1, count: 24), entries: 2)]
        var decoded = 0
        var refused = 0
        for _ in 0..<20_000 {
            var m = seeds[Int(rng.next() % UInt64(seeds.count))]
            switch rng.next() % 3 {
            case 0:  // flip bytes, keep the size right
                for _ in 0...(rng.next() % 4) { m[Int(rng.next() % UInt64(m.count))] = UInt8(truncatingIfNeeded: rng.next()) }
                if rng.next() % 2 == 0 { m = fixSize(m) }
            case 1:  // cut short, size fixed
                m = fixSize(Array(m[0..<max(8, Int(rng.next() % UInt64(m.count)))]))
            default:  // grow by random bytes, size fixed
                m = fixSize(m + (0..<(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            }
            if (try? SyncCodec.decode(m)) != nil { decoded += 1 } else { refused += 1 }
        }
        XCTAssertGreaterThan(decoded, 100, "some damage leaves a valid message")
        XCTAssertGreaterThan(refused, 1000)
    }

    /// Many random entries through encode and decode, at random max lengths: the same entries come
    /// back in order, every message within its limits.
    func testRandomEntriesRoundTrip() throws {
        var rng = SplitMix64(seed: 42)
        for round in 0..<40 {
            let entries = (0..<(50 + Int(rng.next() % 400))).map { _ in randomEntry(&rng) }
            let maxLength = 36 + Int(rng.next() % 3000)
            let syncID = UInt8(truncatingIfNeeded: rng.next())
            let messages = SyncCodec.encode(entries, syncID: syncID, maxLength: maxLength)
            var back: [SyncEntry] = []
            for m in messages {
                XCTAssertTrue(m.count <= maxLength || m[4] == 1, "round \(round): \(m.count) > \(maxLength) with \(m[4]) entries")
                let decoded = try SyncCodec.decode(m)
                XCTAssertEqual(decoded.syncID, syncID)
                XCTAssertEqual(decoded.skipped, [])
                back += decoded.entries
            }
            XCTAssertEqual(back, entries, "round \(round)")
        }
    }

    private func randomEntry(_ rng: inout SplitMix64) -> SyncEntry {
        let template = rng.next() % 5 == 0
        let protocolNumber: UInt8 = [6, 17, 6, 0, 132][Int(rng.next() % 5)]
        let state: UInt16 = template ? UInt16(rng.next() % 2)
            : protocolNumber == 6 ? UInt16(rng.next() % 11) : protocolNumber == 17 ? 0 : UInt16(rng.next() % 8)
        var flags = SyncFlags(rawValue: UInt32(truncatingIfNeeded: rng.next()) & 0xFFFF)
        if template { flags.insert(.template) } else { flags.remove(.template) }
        let addresses: SyncAddresses = rng.next() % 4 == 0
            ? .v6(client: ipv6(&rng), virtual: ipv6(&rng), destination: ipv6(&rng))
            : .v4(client: IPv4Address(UInt32(truncatingIfNeeded: rng.next())), virtual: IPv4Address(UInt32(truncatingIfNeeded: rng.next())),
                  destination: IPv4Address(UInt32(truncatingIfNeeded: rng.next())))
        func word() -> UInt32 { UInt32(truncatingIfNeeded: rng.next()) }
        func adjustment() -> SyncSequenceAdjustment { SyncSequenceAdjustment(initial: word(), delta: word(), previousDelta: word()) }
        let sequence = rng.next() % 4 == 0 ? SyncSequence(incoming: adjustment(), outgoing: adjustment()) : nil
        var persistence: SyncPersistenceData?
        if rng.next() % 4 == 0 {
            let engine = (0...(rng.next() % 16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let data = (0..<(1 + rng.next() % 255)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            persistence = SyncPersistenceData(engine: engine, data: data)  // 1–16 and 1–255 bytes: never nil
        }
        return SyncEntry(protocolNumber: protocolNumber, flags: flags, state: state, addresses: addresses,
                         clientPort: UInt16(truncatingIfNeeded: word()), virtualPort: UInt16(truncatingIfNeeded: word()),
                         destinationPort: UInt16(truncatingIfNeeded: word()), fwmark: word(), timeout: word(),
                         sequence: sequence, persistence: persistence)
    }

    private func ipv6(_ rng: inout SplitMix64) -> SyncIPv6Address { SyncIPv6Address(high: rng.next(), low: rng.next()) }

    private func syncGoldenMessages() -> [[UInt8]] {
        syncGoldenFixtures.flatMap(\.messages).map(hexBytes)
    }
}

/// A small seeded generator, so that a failing random case is the same on every run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
