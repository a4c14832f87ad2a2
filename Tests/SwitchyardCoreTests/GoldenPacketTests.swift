import XCTest
@testable import SwitchyardCore

/// Katran-style golden packets: bytes in → expected verdict and exact bytes out.
final class GoldenPacketTests: XCTestCase {
    func testEveryFixture() {
        let snapshot = fixtureSnapshot()
        XCTAssertGreaterThanOrEqual(goldenFixtures.count, 15)
        for fixture in goldenFixtures {
            var pipeline = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 64))
            let (verdict, out) = feed(&pipeline, bytes(hex: fixture.input), pending: fixture.checksumPending,
                                     snapshot: snapshot)
            XCTAssertEqual(verdict, fixture.verdict, fixture.name)
            XCTAssertEqual(hex(out), fixture.output, fixture.name)
            if case .drop(let reason) = fixture.verdict {
                XCTAssertEqual(pipeline.counters[reason], 1, "\(fixture.name): drop counted")
            }
            if fixture.checksumPending {
                XCTAssertEqual(pipeline.counters[.checksumsFinished], 1, fixture.name)
            }
        }
    }

    /// With the flow hint the worker works out ahead (to prefetch the flow's slot), every
    /// fixture comes out the same, byte for byte, and counts the same.
    func testEveryFixtureWithFlowHints() {
        let snapshot = fixtureSnapshot()
        for fixture in goldenFixtures {
            var plain = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 64))
            var hinted = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 64))
            let input = bytes(hex: fixture.input)
            let (verdict, out) = feedHinted(&hinted, input, pending: fixture.checksumPending, snapshot: snapshot)
            _ = feed(&plain, input, pending: fixture.checksumPending, snapshot: snapshot)
            XCTAssertEqual(verdict, fixture.verdict, fixture.name)
            XCTAssertEqual(hex(out), fixture.output, fixture.name)
            for counter in Counter.allCases {
                XCTAssertEqual(hinted.counters[counter], plain.counters[counter], "\(fixture.name): \(counter)")
            }
        }
    }

    /// AF_XDP frames carry no CSUMNOTREADY flag: with detection on and the flag never given,
    /// every fixture still comes out byte for byte (partial checksums are finished, valid and
    /// bad ones are left alone).
    func testEveryFixtureWithDetectedChecksums() {
        let snapshot = fixtureSnapshot()
        for fixture in goldenFixtures {
            var config = PipelineConfig(sourceMAC: lbMAC, flowCapacity: 64)
            config.detectPartialChecksums = true
            var pipeline = Pipeline(config)
            let (verdict, out) = feed(&pipeline, bytes(hex: fixture.input), pending: false, snapshot: snapshot)
            XCTAssertEqual(verdict, fixture.verdict, fixture.name)
            XCTAssertEqual(hex(out), fixture.output, fixture.name)
            XCTAssertEqual(pipeline.counters[.checksumsFinished], fixture.checksumPending ? 1 : 0, fixture.name)
        }
    }
}

/// NAT in both directions, ICMP translation and echo, checked byte for byte.
final class NATGoldenTests: XCTestCase {
    static let outsideMAC = MACAddress("02:00:00:00:00:02")!
    static let insideMAC = MACAddress("02:00:00:00:00:03")!

    static func snapshot() -> ForwardingSnapshot {
        let rip = IPv4Address("198.18.2.11")!
        let mac = MACAddress("02:00:00:00:00:21")!
        return ForwardingSnapshot(services: [
            ServiceSpec(id: 0, proto: IPProtocol.tcp, vip: IPv4Address("198.18.1.100")!, port: 80, scheduler: .roundRobin,
                        method: .nat, reals: [RealServerSpec(id: 0, address: rip, port: 8080, weight: 1, mac: mac, interface: 1)]),
            ServiceSpec(id: 1, proto: IPProtocol.udp, vip: IPv4Address("198.18.1.100")!, port: 53, scheduler: .roundRobin,
                        method: .nat, reals: [RealServerSpec(id: 1, address: rip, port: 5353, weight: 1, mac: mac, interface: 1)]),
        ], schedulingKey: .defaultScheduling, maglevTableSize: 251)
    }

    func testEverySequence() {
        let snapshot = Self.snapshot()
        XCTAssertGreaterThanOrEqual(natSequences.count, 6)
        for sequence in natSequences {
            var pipeline = Pipeline(PipelineConfig(interfaceMACs: [Self.outsideMAC, Self.insideMAC], flowCapacity: 64))
            for (i, step) in sequence.steps.enumerated() {
                var buffer = bytes(hex: step.input)
                let verdict = buffer.withUnsafeMutableBytes { raw in
                    pipeline.process(raw.baseAddress!, length: raw.count, ingress: step.ingress,
                                     checksumPending: step.checksumPending, now: step.now, snapshot: snapshot.view)
                }
                XCTAssertEqual(verdict, step.verdict, "\(sequence.name), step \(i + 1)")
                XCTAssertEqual(hex(observed(verdict, buffer, pipeline)), step.output, "\(sequence.name), step \(i + 1)")
                if case .reply = verdict {
                    XCTAssertEqual(hex(buffer), step.input, "\(sequence.name), step \(i + 1): the received frame untouched")
                }
            }
        }
    }

    /// The same sequences with the worker's flow hints: replies are found through the hint's
    /// reply key, and every step comes out byte for byte.
    func testEverySequenceWithFlowHints() {
        let snapshot = Self.snapshot()
        var replyHints = 0
        for sequence in natSequences {
            var pipeline = Pipeline(PipelineConfig(interfaceMACs: [Self.outsideMAC, Self.insideMAC], flowCapacity: 64))
            for (i, step) in sequence.steps.enumerated() {
                var input = bytes(hex: step.input)
                let hint = input.withUnsafeMutableBytes {
                    pipeline.flowHint($0.baseAddress!, length: $0.count, snapshot: snapshot.view)
                }
                if hint.hash != 0 && hint.key.proto & Pipeline.replyMark != 0 { replyHints += 1 }
                let (verdict, out) = feedHinted(&pipeline, bytes(hex: step.input), ingress: step.ingress,
                                                pending: step.checksumPending, now: step.now, snapshot: snapshot)
                XCTAssertEqual(verdict, step.verdict, "\(sequence.name), step \(i + 1)")
                XCTAssertEqual(hex(out), step.output, "\(sequence.name), step \(i + 1)")
            }
        }
        XCTAssertGreaterThan(replyHints, 0, "replies were looked up through a hint")
    }

    /// The same sequences with partial checksums told from the bytes instead of the flag.
    func testEverySequenceWithDetectedChecksums() {
        let snapshot = Self.snapshot()
        for sequence in natSequences {
            var config = PipelineConfig(interfaceMACs: [Self.outsideMAC, Self.insideMAC], flowCapacity: 64)
            config.detectPartialChecksums = true
            var pipeline = Pipeline(config)
            for (i, step) in sequence.steps.enumerated() {
                var buffer = bytes(hex: step.input)
                let verdict = buffer.withUnsafeMutableBytes { raw in
                    pipeline.process(raw.baseAddress!, length: raw.count, ingress: step.ingress,
                                     checksumPending: false, now: step.now, snapshot: snapshot.view)
                }
                XCTAssertEqual(verdict, step.verdict, "\(sequence.name), step \(i + 1)")
                XCTAssertEqual(hex(observed(verdict, buffer, pipeline)), step.output, "\(sequence.name), step \(i + 1)")
            }
        }
    }
}
