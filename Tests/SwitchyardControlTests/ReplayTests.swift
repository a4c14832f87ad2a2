// switchyard replay and explain: the golden fixtures written to pcap files with libpcap and
// replayed come out byte for byte as the independent oracle says; explain's packets and words.
import Foundation
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

/// Tests/fixtures/golden-frames.json, written by make_golden.py with GoldenFixtures.swift
/// (hex strings, read with VRRPAdvertTests' hexBytes).
private struct GoldenFrames: Decodable {
    struct Fixture: Decodable {
        let name: String, input: String, pending: Bool, verdict: String, output: String
    }
    struct Step: Decodable {
        let ingress: Int, input: String, pending: Bool, verdict: String, output: String, now: UInt64
    }
    struct Sequence: Decodable {
        let name: String, steps: [Step]
    }
    let fixtures: [Fixture]
    let sequences: [Sequence]

    static func load() throws -> GoldenFrames {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixturesDirectory("golden-frames.json")))
        return try JSONDecoder().decode(GoldenFrames.self, from: data)
    }
}

/// A verdict as the fixtures write it (".forward(egress: 0)", ".drop(.truncatedIPv4)").
private func text(_ verdict: Verdict) -> String {
    switch verdict {
    case .forward(let egress): ".forward(egress: \(egress))"
    case .reply(let egress): ".reply(egress: \(egress))"
    case .pass: ".pass"
    case .drop(let reason): ".drop(.\(reason))"
    }
}

final class ReplayTests: XCTestCase {
    /// GoldenPacketTests' services (TCP VIP:80 by Maglev, UDP VIP:53 round robin, DR).
    static let drConfig = """
        virtual_server 198.18.0.100 80 {
            lb_algo mh
            lb_kind DR
            real_server 198.18.0.11 80 { weight 1 }
        }
        virtual_server 198.18.0.100 53 {
            lb_algo rr
            lb_kind DR
            protocol UDP
            real_server 198.18.0.11 53 { weight 1 }
        }
        """
    /// NATGoldenTests' services: two-arm, the real server behind the inside interface (1).
    static let natConfig = """
        virtual_server 198.18.1.100 80 {
            lb_algo rr
            lb_kind NAT
            real_server 198.18.2.11 8080 { weight 1 }
        }
        virtual_server 198.18.1.100 53 {
            lb_algo rr
            lb_kind NAT
            protocol UDP
            real_server 198.18.2.11 5353 { weight 1 }
        }
        """

    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "replay-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Writes frames to a pcap file with libpcap and reads them back.
    func roundTrip(_ frames: [CapturedFrame], name: String) throws -> [CapturedFrame] {
        let path = "\(directory)/\(name).pcap"
        do {
            let writer = try PcapWriter(path: path)
            frames.forEach(writer.write)
        }
        let reader = try PcapReader(path: path)
        var read: [CapturedFrame] = []
        while let frame = try reader.next() { read.append(frame) }
        return read
    }

    func testGoldenFixturesReplayedFromAPcapFile() throws {
        let golden = try GoldenFrames.load()
        let config = try Config.parse(Self.drConfig, path: "dr.conf")
        var setup = ReplaySetup()
        setup.interfaces = [("eth0", MACAddress("02:00:00:00:00:02")!)]
        setup.neighbours[IPv4Address("198.18.0.11")!] = (MACAddress("02:00:00:00:00:11")!, 0)
        // The replay cannot know a frame's checksum was left to offload (a capture on the wire
        // has none such): those fixtures are the pipeline tests' alone.
        let fixtures = golden.fixtures.filter { !$0.pending }
        XCTAssertGreaterThanOrEqual(fixtures.count, 15)
        for (i, fixture) in fixtures.enumerated() {
            let read = try roundTrip([CapturedFrame(bytes: hexBytes(fixture.input), microseconds: 1_700_000_000_000_000)],
                                     name: "fixture-\(i)")
            XCTAssertEqual(read.map(\.bytes), [hexBytes(fixture.input)], "\(fixture.name): the pcap file keeps the frame")
            // A pipeline of its own for each, as GoldenPacketTests runs them.
            let replay = PacketReplay(config: config, setup: setup)
            let outcome = replay.process(read[0].bytes, microseconds: read[0].microseconds)
            XCTAssertEqual(text(outcome.verdict), fixture.verdict, fixture.name)
            switch outcome.verdict {
            case .forward, .reply: XCTAssertEqual(outcome.output, hexBytes(fixture.output), fixture.name)
            case .drop, .pass: XCTAssertNil(outcome.output, "\(fixture.name): nothing leaves")
            }
            if case .drop(let reason) = outcome.verdict {
                XCTAssertTrue(outcome.words.hasSuffix("dropped: \(reason.name)"), "\(fixture.name): \(outcome.words)")
            } else {
                XCTAssertFalse(outcome.words.contains("dropped"), "\(fixture.name): \(outcome.words)")
            }
        }
    }

    func testNATSequencesReplayedFromAPcapFile() throws {
        let golden = try GoldenFrames.load()
        let config = try Config.parse(Self.natConfig, path: "nat.conf")
        var setup = ReplaySetup()
        setup.interfaces = [("outside", MACAddress("02:00:00:00:00:02")!), ("inside", MACAddress("02:00:00:00:00:03")!)]
        setup.neighbours[IPv4Address("198.18.2.11")!] = (MACAddress("02:00:00:00:00:21")!, 1)
        var replayed = 0
        for (i, sequence) in golden.sequences.enumerated() where !sequence.steps.contains(where: \.pending) {
            // Each step's clock (milliseconds) becomes its capture time.
            let frames = sequence.steps.map { CapturedFrame(bytes: hexBytes($0.input), microseconds: 1_000_000 + $0.now * 1_000) }
            let read = try roundTrip(frames, name: "sequence-\(i)")
            XCTAssertEqual(read, frames, "\(sequence.name): the pcap file keeps frames and times")
            let replay = PacketReplay(config: config, setup: setup)
            for (step, frame) in zip(sequence.steps, read) {
                let outcome = replay.process(frame.bytes, microseconds: frame.microseconds)
                XCTAssertEqual(outcome.ingress, step.ingress, "\(sequence.name): the interface the frame is addressed to")
                XCTAssertEqual(text(outcome.verdict), step.verdict, sequence.name)
                switch outcome.verdict {
                case .forward, .reply: XCTAssertEqual(outcome.output, hexBytes(step.output), sequence.name)
                case .drop, .pass: XCTAssertNil(outcome.output, "\(sequence.name): nothing leaves")
                }
            }
            replayed += 1
        }
        XCTAssertGreaterThanOrEqual(replayed, 4)
    }

    func testWordsNameTheServiceFlowAndRealServer() throws {
        let config = try Config.parse(Self.drConfig, path: "dr.conf")
        let replay = PacketReplay(config: config)
        var syn = PacketDescription(proto: IPProtocol.tcp, source: IPv4Address("198.18.0.10")!, sourcePort: 40000,
                                    destination: IPv4Address("198.18.0.100")!, destinationPort: 80)
        let first = replay.process(syn.frame(to: ReplaySetup.defaultMAC))
        XCTAssertEqual(first.verdict, .forward(egress: 0))
        XCTAssertEqual(first.words, """
            TCP 198.18.0.10:40000 > 198.18.0.100:80: new flow, scheduled to 198.18.0.11:80 (DR), SYN_RECV; sent out of eth0
              leaves as 198.18.0.10:40000 > 198.18.0.100:80, TTL 63, 02:00:00:00:00:01 > 02:00:c6:12:00:0b
            """)
        syn.tcpFlags = TCPFlags.ack
        let second = replay.process(syn.frame(to: ReplaySetup.defaultMAC), microseconds: 1_000)
        XCTAssertTrue(second.words.contains(": flow hit, to 198.18.0.11:80 (DR), ESTABLISHED"), second.words)
        let noService = PacketDescription(proto: IPProtocol.udp, source: IPv4Address("198.18.0.10")!, sourcePort: 5000,
                                          destination: IPv4Address("198.18.0.100")!, destinationPort: 54)
        let dropped = replay.process(noService.frame(to: ReplaySetup.defaultMAC))
        XCTAssertEqual(dropped.verdict, .drop(.noService))
        XCTAssertEqual(dropped.words, "UDP 198.18.0.10:5000 > 198.18.0.100:54: dropped: drop_no_service")
        XCTAssertNil(dropped.output)
        let elsewhere = PacketDescription(proto: IPProtocol.udp, source: IPv4Address("198.18.0.10")!, sourcePort: 5000,
                                          destination: IPv4Address("198.18.0.77")!, destinationPort: 53)
        let passed = replay.process(elsewhere.frame(to: ReplaySetup.defaultMAC))
        XCTAssertEqual(passed.verdict, .pass)
        XCTAssertEqual(passed.words, "UDP 198.18.0.10:5000 > 198.18.0.77:53: not the engine's: left to the kernel")
        XCTAssertNil(passed.output)
        var expiring = syn
        expiring.ttl = 1
        expiring.sourcePort = 40001
        let answered = replay.process(expiring.frame(to: ReplaySetup.defaultMAC))
        XCTAssertEqual(answered.verdict, .reply(egress: 0))
        XCTAssertTrue(answered.words.hasPrefix("TCP 198.18.0.10:40001 > 198.18.0.100:80: answered by the balancer itself (ICMP)"),
                      answered.words)
        XCTAssertTrue(answered.words.hasSuffix("leaves as 198.18.0.100 > 198.18.0.10, TTL 64, 02:00:00:00:00:01 > 02:00:00:00:00:fe"),
                      answered.words)
        let ping = PacketDescription(proto: IPProtocol.icmp, source: IPv4Address("198.18.0.10")!, sourcePort: 0,
                                     destination: IPv4Address("198.18.0.100")!, destinationPort: 0)
        let echo = replay.process(ping.frame(to: ReplaySetup.defaultMAC))
        XCTAssertEqual(echo.verdict, .forward(egress: 0), "the echo reply goes back the way it came")
        XCTAssertEqual(echo.words, """
            ICMP 198.18.0.10 > 198.18.0.100: answered by the balancer itself (ICMP); sent out of eth0
              leaves as 198.18.0.100 > 198.18.0.10, TTL 64, 02:00:00:00:00:01 > 02:00:00:00:00:fe
            """)
        let arp = [UInt8](repeating: 0xFF, count: 6) + [2, 0, 0, 0, 0, 0xfe, 0x08, 0x06] + [UInt8](repeating: 0, count: 28)
        XCTAssertEqual(replay.process(arp).words, "ARP frame of 42 bytes: not the engine's: left to the kernel")
    }

    /// explain's frames are valid packets: the parser (which checks the IPv4 header checksum)
    /// takes them, and the L4 checksum sums to zero with the pseudo-header.
    func testDescribedPacketsAreWellFormed() {
        for proto in [IPProtocol.tcp, IPProtocol.udp, IPProtocol.icmp] {
            var d = PacketDescription(proto: proto, source: IPv4Address("198.18.0.10")!, sourcePort: 40000,
                                      destination: IPv4Address("198.18.0.100")!, destinationPort: 80)
            d.payloadLength = 33
            var frame = d.frame(to: ReplaySetup.defaultMAC)
            let parsed = frame.withUnsafeMutableBytes { PacketParser.parse($0.baseAddress!, length: $0.count) }
            guard case .ipv4(let info) = parsed else { return XCTFail("\(proto): not parsed: \(parsed)") }
            XCTAssertEqual(info.proto, proto)
            let l4Length = frame.count - 34
            let sum = frame.withUnsafeBytes { raw -> UInt16 in
                let p = raw.baseAddress!
                guard proto != IPProtocol.icmp else { return InternetChecksum.fold(InternetChecksum.sum(p + 34, l4Length)) }
                let pseudo = InternetChecksum.sum(p + 26, 8) &+ UInt64(proto) &+ UInt64(l4Length)
                return InternetChecksum.fold(pseudo &+ InternetChecksum.sum(p + 34, l4Length))
            }
            XCTAssertEqual(sum, 0xFFFF, "\(proto): the checksum")
        }
        XCTAssertEqual(PacketDescription.tcpFlags("SA"), 0x12)
        XCTAssertEqual(PacketDescription.tcpFlags("."), 0x10)
        XCTAssertNil(PacketDescription.tcpFlags("SX"))
        XCTAssertNil(PacketDescription.endpoint("198.18.0.1", needsPort: true))
        XCTAssertNil(PacketDescription.endpoint("198.18.0.1:0", needsPort: true))
        XCTAssertEqual(PacketDescription.endpoint("198.18.0.1:80", needsPort: true)?.1, 80)
    }

    func testAReaderRefusesWhatIsNotAnEthernetCapture() throws {
        XCTAssertThrowsError(try PcapReader(path: "\(directory)/missing.pcap")) { error in
            XCTAssertTrue("\(error)".contains("missing.pcap"), "\(error)")
        }
        // A pcap file header (little-endian, version 2.4, snap length 65535) of link type 101,
        // raw IP: frames without an Ethernet header.
        var header: [UInt8] = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0] + [UInt8](repeating: 0, count: 8)
        header += [0xff, 0xff, 0, 0, 101, 0, 0, 0]
        let raw = "\(directory)/raw.pcap"
        XCTAssertTrue(FileManager.default.createFile(atPath: raw, contents: Data(header)))
        XCTAssertThrowsError(try PcapReader(path: raw)) { error in
            XCTAssertTrue("\(error)".contains("is not Ethernet (DLT_EN10MB)"), "\(error)")
        }
    }

    func testOddTimesAndEmptyFrames() throws {
        let config = try Config.parse(Self.drConfig, path: "dr.conf")
        let replay = PacketReplay(config: config)
        let syn = PacketDescription(proto: IPProtocol.tcp, source: IPv4Address("198.18.0.10")!, sourcePort: 40000,
                                    destination: IPv4Address("198.18.0.100")!, destinationPort: 80)
        XCTAssertEqual(replay.process(syn.frame(to: ReplaySetup.defaultMAC), microseconds: 5_000_000).verdict,
                       .forward(egress: 0))
        XCTAssertEqual(replay.process([], microseconds: 5_000_001).words, "an empty frame: not replayed")
        // Stamped before the first frame: taken at the first one's time, so the flow is still there.
        var ack = syn
        ack.tcpFlags = TCPFlags.ack
        let early = replay.process(ack.frame(to: ReplaySetup.defaultMAC), microseconds: 1_000_000)
        XCTAssertTrue(early.words.contains("flow hit"), early.words)
    }
}
