import XCTest
@testable import SwitchyardCore

/// IPv6 golden packets (make_golden6.py): DR and NAT66 byte for byte, the extension-header,
/// fragment and address policies, and an IPv4 service beside them in the same snapshot.
final class Golden6PacketTests: XCTestCase {
    static func address(_ text: String) -> IPAddressBits { IPAddressBits(ipv6: text)! }

    /// The DR fixtures' services: TCP [2001:db8::100]:80 and UDP :53 to [2001:db8::11], and the
    /// IPv4 fixtures' services too (a dual-stack snapshot).
    static func drSnapshot() -> ForwardingSnapshot {
        let vip6 = address("2001:db8::100")
        let rs6 = address("2001:db8::11")
        var services = fixtureSnapshot().services
        services += [
            ServiceSpec(id: 10, proto: IPProtocol.tcp, vip: vip6, port: 80, scheduler: .maglev,
                        persistenceMask: .prefixMask(128),
                        reals: [RealServerSpec(id: 10, address: rs6, port: 80, weight: 1, mac: rsMAC)]),
            ServiceSpec(id: 11, proto: IPProtocol.udp, vip: vip6, port: 53, scheduler: .roundRobin,
                        persistenceMask: .prefixMask(128),
                        reals: [RealServerSpec(id: 11, address: rs6, port: 53, weight: 1, mac: rsMAC)]),
        ]
        return ForwardingSnapshot(services: services, schedulingKey: .defaultScheduling, maglevTableSize: 251)
    }

    static func natSnapshot() -> ForwardingSnapshot {
        let vip6 = address("2001:db8:1::100")
        let rip6 = address("2001:db8:2::11")
        let mac = MACAddress("02:00:00:00:00:21")!
        return ForwardingSnapshot(services: [
            ServiceSpec(id: 0, proto: IPProtocol.tcp, vip: vip6, port: 80, scheduler: .roundRobin, method: .nat,
                        persistenceMask: .prefixMask(128),
                        reals: [RealServerSpec(id: 0, address: rip6, port: 8080, weight: 1, mac: mac, interface: 1)]),
            ServiceSpec(id: 1, proto: IPProtocol.udp, vip: vip6, port: 53, scheduler: .roundRobin, method: .nat,
                        persistenceMask: .prefixMask(128),
                        reals: [RealServerSpec(id: 1, address: rip6, port: 5353, weight: 1, mac: mac, interface: 1)]),
        ], schedulingKey: .defaultScheduling, maglevTableSize: 251)
    }

    func testEveryFixture() {
        let snapshot = Self.drSnapshot()
        XCTAssertGreaterThanOrEqual(golden6Fixtures.count, 20)
        for detect in [false, true] {
            for fixture in golden6Fixtures {
                var config = PipelineConfig(sourceMAC: lbMAC, flowCapacity: 64)
                config.detectPartialChecksums = detect
                var pipeline = Pipeline(config)
                let name = "\(fixture.name)\(detect ? " (checksums told from the bytes)" : "")"
                let (verdict, out) = feed(&pipeline, bytes(hex: fixture.input),
                                          pending: detect ? false : fixture.checksumPending, snapshot: snapshot)
                XCTAssertEqual(verdict, fixture.verdict, name)
                XCTAssertEqual(hex(out), fixture.output, name)
                if case .drop(let reason) = fixture.verdict {
                    XCTAssertEqual(pipeline.counters[reason], 1, "\(name): drop counted")
                }
                XCTAssertEqual(pipeline.counters[.checksumsFinished], fixture.checksumPending ? 1 : 0, name)
            }
        }
    }

    /// The IPv4 fixtures still come out byte for byte from the dual-stack snapshot.
    func testIPv4FixturesBesideIPv6Services() {
        let snapshot = Self.drSnapshot()
        for fixture in goldenFixtures {
            var pipeline = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 64))
            let (verdict, out) = feed(&pipeline, bytes(hex: fixture.input), pending: fixture.checksumPending,
                                      snapshot: snapshot)
            XCTAssertEqual(verdict, fixture.verdict, fixture.name)
            XCTAssertEqual(hex(out), fixture.output, fixture.name)
        }
    }

    func testEveryNAT66Sequence() {
        let snapshot = Self.natSnapshot()
        XCTAssertGreaterThanOrEqual(nat66Sequences.count, 6)
        for detect in [false, true] {
            for sequence in nat66Sequences {
                var config = PipelineConfig(interfaceMACs: [NATGoldenTests.outsideMAC, NATGoldenTests.insideMAC],
                                            flowCapacity: 64)
                config.detectPartialChecksums = detect
                var pipeline = Pipeline(config)
                for (i, step) in sequence.steps.enumerated() {
                    var buffer = bytes(hex: step.input)
                    let verdict = buffer.withUnsafeMutableBytes { raw in
                        pipeline.process(raw.baseAddress!, length: raw.count, ingress: step.ingress,
                                         checksumPending: detect ? false : step.checksumPending, now: step.now,
                                         snapshot: snapshot.view)
                    }
                    XCTAssertEqual(verdict, step.verdict, "\(sequence.name), step \(i + 1)")
                    XCTAssertEqual(hex(buffer), step.output, "\(sequence.name), step \(i + 1)")
                }
            }
        }
    }

    /// DR sequences (a flow, then an ICMPv6 error about it) over the DR fixtures' snapshot.
    func testEveryDR6Sequence() {
        let snapshot = Self.drSnapshot()
        XCTAssertGreaterThanOrEqual(dr6Sequences.count, 1)
        for sequence in dr6Sequences {
            var pipeline = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 64))
            for (i, step) in sequence.steps.enumerated() {
                var buffer = bytes(hex: step.input)
                let verdict = buffer.withUnsafeMutableBytes { raw in
                    pipeline.process(raw.baseAddress!, length: raw.count, ingress: step.ingress,
                                     checksumPending: step.checksumPending, now: step.now, snapshot: snapshot.view)
                }
                XCTAssertEqual(verdict, step.verdict, "\(sequence.name), step \(i + 1)")
                XCTAssertEqual(hex(buffer), step.output, "\(sequence.name), step \(i + 1)")
            }
            XCTAssertEqual(pipeline.counters[.icmpTranslated], 1, sequence.name)
        }
    }

    /// A flow is bound once: the second SYN of the same IPv6 5-tuple hits the flow table, and
    /// an IPv4 flow with the same ports is a flow of its own.
    func testIPv6FlowsHitTheTableAndStayApartFromIPv4() {
        let snapshot = Self.drSnapshot()
        var pipeline = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 64))
        let syn6 = bytes(hex: golden6Fixtures[0].input)
        let syn4 = bytes(hex: goldenFixtures[0].input)
        _ = feed(&pipeline, syn6, snapshot: snapshot)
        _ = feed(&pipeline, syn6, now: 1, snapshot: snapshot)
        _ = feed(&pipeline, syn4, now: 2, snapshot: snapshot)
        XCTAssertEqual(pipeline.counters[.newFlows], 2)
        XCTAssertEqual(pipeline.counters[.flowHits], 1)
        XCTAssertEqual(pipeline.flows.count, 2)
    }

    /// Persistence with an IPv6 prefix: clients in one /64 share a template (and a real server).
    func testPersistenceByIPv6Prefix() {
        let vip6 = Self.address("2001:db8::100")
        let reals = (0..<4).map { i in
            RealServerSpec(id: UInt32(i), address: Self.address("2001:db8::1\(i)"), port: 80, weight: 1, mac: rsMAC)
        }
        let snapshot = ForwardingSnapshot(services: [
            ServiceSpec(id: 0, proto: IPProtocol.tcp, vip: vip6, port: 80, scheduler: .roundRobin,
                        persistenceTimeout: 300, persistenceMask: .prefixMask(64), reals: reals),
        ], schedulingKey: .defaultScheduling, maglevTableSize: 251)
        var pipeline = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 64))
        for (i, client) in ["2001:db8:5:1::a", "2001:db8:5:1::b", "2001:db8:5:1:ffff::1"].enumerated() {
            var frame = bytes(hex: golden6Fixtures[0].input)
            frame.withUnsafeMutableBytes { raw in
                let p = raw.baseAddress!
                Self.address(client).store(p, 14 + 8)
                store16(p, 14 + 40, UInt16(41_000 + i))  // another source port: another flow
            }
            // DR checks no TCP checksum: the frame's is left stale on purpose.
            let (verdict, _) = feed(&pipeline, frame, now: UInt32(i), snapshot: snapshot)
            XCTAssertEqual(verdict, .forward(egress: 0), client)
        }
        let bound = Set((0..<pipeline.flows.slotCount).map { pipeline.flows[$0] }.filter { $0.hash != 0 }.map(\.realID))
        XCTAssertEqual(bound.count, 1, "round robin would have spread them; the /64 keeps them on one server")
        XCTAssertEqual(pipeline.counters[.persistenceHits], 2, "the second and third clients found the template")
        XCTAssertEqual(pipeline.templates.count, 1)
    }

    func testIPv6TextRoundTrips() {
        let cases = [("2001:db8::1", "2001:db8::1"), ("2001:0DB8:0:0:0:0:0:1", "2001:db8::1"),
                     ("::", "::"), ("::1", "::1"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
                     ("2001:db8::ffff:198.18.0.1", "2001:db8::ffff:c612:1"), ("::ffff:198.18.0.1", "::ffff:198.18.0.1"),
                     ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"), ("fe80::", "fe80::"),
                     ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1")]
        for (text, canonical) in cases {
            XCTAssertEqual(IPAddressBits(ipv6: text)?.ipv6Description, canonical, text)
        }
        for bad in ["", ":", "1:::2", "1::2::3", "12345::1", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "g::1",
                    "::198.18.0", "[2001:db8::1]", "2001:db8::1/64", "1:2:3:4:5:6:7::8:9"] {
            XCTAssertNil(IPAddressBits(ipv6: bad), bad)
        }
        XCTAssertEqual(IPAddressBits(ipv6: "::ffff:198.18.0.1"), IPAddressBits(v4: 0xC612_0001))
    }
}
