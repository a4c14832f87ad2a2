// The connection-sync codec against golden bytes from an independent oracle
// (Tests/fixtures/make_sync_golden.py), every refusal on a mutated message, the state mapping,
// and a round trip of many random entries.
import XCTest
@testable import SwitchyardControl
import SwitchyardCore

final class SyncCodecTests: XCTestCase {
    func testEncodeGivesTheGoldenBytes() {
        XCTAssertGreaterThanOrEqual(syncGoldenFixtures.count, 12)
        for fixture in syncGoldenFixtures {
            let messages = SyncCodec.encode(fixture.entries, syncID: fixture.syncID, maxLength: fixture.maxLength)
            XCTAssertEqual(messages.map(hex), fixture.messages, fixture.name)
        }
    }

    func testDecodeGivesTheGoldenEntries() throws {
        for fixture in syncGoldenFixtures {
            var entries: [SyncEntry] = []
            for message in fixture.messages {
                let datagram = bytes(hex: message)
                let decoded = try SyncCodec.decode(datagram)
                XCTAssertEqual(try datagram.withUnsafeBytes { try SyncCodec.decode($0) }, decoded, "from a raw buffer")
                XCTAssertEqual(decoded.syncID, fixture.syncID, fixture.name)
                XCTAssertEqual(decoded.skipped, [], fixture.name)
                entries += decoded.entries
            }
            XCTAssertEqual(entries, fixture.entries, fixture.name)
        }
    }

    /// The splits the oracle made are the ones the cases are named for, so a wrong oracle would show.
    func testTheGoldenSplitsAreTheIntendedOnes() throws {
        func counts(_ name: String) throws -> [Int] {
            let fixture = try XCTUnwrap(syncGoldenFixtures.first { $0.name.hasPrefix(name) }, name)
            return fixture.messages.map { Int(bytes(hex: $0)[4]) }
        }
        XCTAssertEqual(try counts("a batch split at the max length"), [3, 3, 1])
        XCTAssertEqual(try counts("padding counts: the second entry fits"), [2])
        XCTAssertEqual(try counts("padding counts: one byte less"), [1, 1])
        XCTAssertEqual(try counts("entries larger than the max length"), [1, 1])
        XCTAssertEqual(try counts("the default max length"), [40, 5])
        XCTAssertEqual(try counts("several entries"), [6])
        let several = try XCTUnwrap(syncGoldenFixtures.first { $0.name.hasPrefix("several") })
        // 36-byte entry at 8, 62-byte entry (sequence option) at 44, two bytes of padding, the
        // 53-byte SIP entry at 108, three bytes of padding, the IPv6 entry at 164.
        let message = bytes(hex: several.messages[0])
        XCTAssertEqual(Array(message[106..<108]), [0, 0])
        XCTAssertEqual(Array(message[108..<112]), [0, 17, 0, 53], "the SIP entry: type, protocol, size")
        XCTAssertEqual(Array(message[161..<164]), [0, 0, 0])
        XCTAssertEqual(message[164], 1, "the IPv6 entry starts on a 4-byte boundary")
    }

    func testAtMost255EntriesInAMessage() throws {
        let entries = (0..<300).map { i in
            SyncEntry.flow(protocolNumber: 6, state: .established, method: .directRoute,
                           addresses: .v4(client: IPv4Address(0xC612_0000 + UInt32(i)), virtual: vip, destination: rs),
                           clientPort: 40000, virtualPort: 80, destinationPort: 80, timeout: 900)
        }
        let messages = SyncCodec.encode(entries, syncID: 1, maxLength: 65535)
        XCTAssertEqual(messages.map { Int($0[4]) }, [255, 45])
        XCTAssertEqual(try messages.flatMap { try SyncCodec.decode($0).entries }, entries)
        XCTAssertEqual(SyncCodec.encode([SyncEntry](), syncID: 1), [])
    }

    // MARK: - Flags and states as a kernel master sets them

    func testFlowEntriesCarryTheKernelsFlagsAndStates() throws {
        let golden = syncGoldenFixtures.flatMap(\.entries)
        let client = IPv4Address("198.18.0.10")!
        let nat = SyncEntry.flow(protocolNumber: 6, state: .established, method: .masquerade,
                                 addresses: .v4(client: client, virtual: vip, destination: IPv4Address("198.18.1.11")!),
                                 clientPort: 40000, virtualPort: 80, destinationPort: 8080, timeout: 900)
        XCTAssertEqual(nat, golden[0])
        let dr = SyncEntry.flow(protocolNumber: 6, state: .synRecv, method: .directRoute,
                                addresses: .v4(client: IPv4Address("198.18.0.11")!, virtual: vip, destination: rs),
                                clientPort: 40001, virtualPort: 80, destinationPort: 80, timeout: 60)
        XCTAssertEqual(dr, golden[1])
        let udp = SyncEntry.flow(protocolNumber: 17, state: .udp, method: .masquerade,
                                 addresses: .v4(client: IPv4Address("198.18.0.12")!, virtual: vip,
                                                destination: IPv4Address("198.18.1.11")!),
                                 clientPort: 5353, virtualPort: 53, destinationPort: 53, timeout: 300)
        XCTAssertEqual(udp, golden[2])
        XCTAssertEqual(SyncFlags.connection(.directRoute, established: false, template: true), golden[3].flags)
        XCTAssertTrue(golden[3].isTemplate)
        let fwmarkTemplate = try XCTUnwrap(golden.first { $0.fwmark == 7 })
        XCTAssertEqual(SyncFlags.connection(.masquerade, established: false, template: true), fwmarkTemplate.flags)
        XCTAssertNil(golden[3].flowState, "a template's state is not a flow's")
        // The NAT connection the client began to close: IPVS's CLOSE_WAIT is our finWait.
        let closing = try XCTUnwrap(golden.first { $0.clientPort == 40002 })
        XCTAssertEqual(closing.flowState, .finWait)
        XCTAssertEqual(closing.state, IPVSTCPState.closeWait.rawValue)
        XCTAssertEqual(golden[0].flowState, .established)
        XCTAssertEqual(golden[1].flowState, .synRecv)
        XCTAssertEqual(golden[2].flowState, .udp)
        XCTAssertEqual(golden[1].flags.forwarding, .directRoute)
        XCTAssertEqual(golden[0].flags.forwarding, .masquerade)
    }

    /// Switchyard's peer-MAC option: type 0x50 (the may-ignore bit set), 6 bytes, after the
    /// fixed part; read back by us, and skippable by a kernel backup, which keeps the entry.
    func testPeerMACOptionTravelsAndIsOptional() throws {
        var entry = SyncEntry.flow(protocolNumber: 6, state: .established, method: .masquerade,
                                   addresses: .v4(client: IPv4Address("198.18.0.10")!, virtual: vip,
                                                  destination: IPv4Address("198.18.1.11")!),
                                   clientPort: 40000, virtualPort: 80, destinationPort: 8080, timeout: 900)
        entry.peerMAC = MACAddress("02:00:00:00:00:0a")
        let bytes = try XCTUnwrap(SyncCodec.encode([entry], syncID: 1).first)
        XCTAssertEqual(bytes.count, 8 + 36 + 8)
        XCTAssertEqual(Array(bytes[(8 + 36)...]), [0x50, 6, 2, 0, 0, 0, 0, 0x0a])
        XCTAssertEqual(Int(bytes[10]) << 8 | Int(bytes[11]), 44, "the entry's size counts the option")
        XCTAssertEqual(try SyncCodec.decode(bytes).entries, [entry])
        // Without the may-ignore bit it would be a mandatory unknown option: the entry is skipped.
        var mandatory = bytes
        mandatory[8 + 36] = 0x10
        let decoded = try SyncCodec.decode(mandatory)
        XCTAssertEqual(decoded.entries, [])
        XCTAssertEqual(decoded.skipped.map(\.reason), [.unknownMandatoryOption(type: 0x10)])
    }

    func testTCPStatesMapBothWaysForEveryMethod() {
        let tcpStates: [FlowState] = [.none, .synRecv, .established, .finWait, .closeWait, .lastAck, .timeWait, .close]
        for method in SyncForwarding.allCases {
            var seen = Set<UInt16>()
            for state in tcpStates {
                let wire = SyncStates.wireState(state, protocolNumber: 6, method: method)
                XCTAssertTrue(seen.insert(wire).inserted, "\(state) \(method): one wire state per state")
                XCTAssertEqual(SyncStates.flowState(wire: wire, protocolNumber: 6, method: method), state, "\(state) \(method)")
            }
        }
        // The closing states swap names for NAT only.
        XCTAssertEqual(SyncStates.wireState(.finWait, protocolNumber: 6, method: .masquerade), IPVSTCPState.closeWait.rawValue)
        XCTAssertEqual(SyncStates.wireState(.closeWait, protocolNumber: 6, method: .masquerade), IPVSTCPState.finWait.rawValue)
        XCTAssertEqual(SyncStates.wireState(.finWait, protocolNumber: 6, method: .directRoute), IPVSTCPState.finWait.rawValue)
        XCTAssertEqual(SyncStates.wireState(.established, protocolNumber: 6, method: .tunnel), 1)
        // IPVS states we have no twin for.
        XCTAssertEqual(SyncStates.flowState(wire: IPVSTCPState.synSent.rawValue, protocolNumber: 6, method: .masquerade), .synRecv)
        XCTAssertEqual(SyncStates.flowState(wire: IPVSTCPState.synAck.rawValue, protocolNumber: 6, method: .directRoute), .synRecv)
        XCTAssertEqual(SyncStates.flowState(wire: IPVSTCPState.listen.rawValue, protocolNumber: 6, method: .masquerade), FlowState.none)
        XCTAssertNil(SyncStates.flowState(wire: 11, protocolNumber: 6, method: .masquerade))
        XCTAssertEqual(IPVSTCPState.count, 11)
        // UDP's single state, and other protocols.
        XCTAssertEqual(SyncStates.wireState(.udp, protocolNumber: 17, method: .masquerade), 0)
        XCTAssertEqual(SyncStates.flowState(wire: 0, protocolNumber: 17, method: .directRoute), .udp)
        XCTAssertNil(SyncStates.flowState(wire: 1, protocolNumber: 17, method: .directRoute))
        XCTAssertEqual(SyncStates.flowState(wire: 0, protocolNumber: 1, method: .directRoute), .other)
    }

    func testSyncIDFilterAsAKernelBackup() {
        let message = SyncMessage(syncID: 7, entries: [])
        XCTAssertTrue(message.isFor(backupSyncID: 0))
        XCTAssertTrue(message.isFor(backupSyncID: 7))
        XCTAssertFalse(message.isFor(backupSyncID: 8))
    }

    func testPersistenceDataLengthsAreTheKernels() {
        XCTAssertNil(SyncPersistenceData(engine: [], data: [1]))
        XCTAssertNil(SyncPersistenceData(engine: Array("sip".utf8), data: []))
        XCTAssertNil(SyncPersistenceData(engine: [UInt8](repeating: 0x61, count: 17), data: [1]))
        XCTAssertNil(SyncPersistenceData(engine: Array("sip".utf8), data: [UInt8](repeating: 1, count: 256)))
        XCTAssertNotNil(SyncPersistenceData(engine: [UInt8](repeating: 0x61, count: 16), data: [UInt8](repeating: 1, count: 255)))
    }
}

private let vip = IPv4Address("198.18.0.100")!
private let rs = IPv4Address("198.18.1.12")!

// File-private so that other test files' helpers of the same name do not clash.
private func hex(_ b: [UInt8]) -> String {
    b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

private func bytes(hex: String) -> [UInt8] { hexBytes(hex) }
