import Synchronization
import XCTest
@testable import SwitchyardCore

final class NATTests: XCTestCase {
    let vipNAT = IPv4Address("198.18.1.100")!.value
    let client: UInt32 = 0xC612_010A  // 198.18.1.10
    let rip1: UInt32 = 0xC612_020B    // 198.18.2.11
    let rip2: UInt32 = 0xC612_020C

    func snapshot(scheduler: SchedulerKind = .roundRobin, persistence: Int = 0, mask: UInt32 = 0xFFFF_FFFF,
                  weights: [Int] = [1, 1]) -> ForwardingSnapshot {
        ForwardingSnapshot(services: [ServiceSpec(
            id: 0, proto: IPProtocol.tcp, vip: IPv4Address(vipNAT), port: 80, scheduler: scheduler, method: .nat,
            persistenceTimeout: persistence, persistenceMask: mask,
            reals: [RealServerSpec(id: 0, address: IPv4Address(rip1), port: 8080, weight: weights[0],
                                   mac: MACAddress(bits: 0x21), interface: 1),
                    RealServerSpec(id: 1, address: IPv4Address(rip2), port: 8080, weight: weights[1],
                                   mac: MACAddress(bits: 0x22), interface: 1)])],
            schedulingKey: .defaultScheduling, maglevTableSize: 251)
    }

    func pipeline(timeouts: FlowTimeouts = FlowTimeouts(), connections: ConnectionCounts? = nil) -> Pipeline {
        Pipeline(PipelineConfig(interfaceMACs: [lbMAC, MACAddress(bits: 0x03)], flowCapacity: 1_000, timeouts: timeouts,
                                connections: connections))
    }

    func send(_ p: inout Pipeline, _ frame: [UInt8], ingress: Int, now: UInt32, _ s: ForwardingSnapshot) -> (Verdict, [UInt8]) {
        var buffer = frame
        let v = buffer.withUnsafeMutableBytes {
            p.process($0.baseAddress!, length: $0.count, ingress: ingress, checksumPending: false, now: now, snapshot: s.view)
        }
        return (v, buffer)
    }

    func fromClient(_ flags: UInt8, port: UInt16 = 40_000, client c: UInt32? = nil, ttl: UInt8 = 64) -> [UInt8] {
        tcpFrame(client: c ?? client, port: port, to: vipNAT, dport: 80, flags: flags, ttl: ttl)
    }

    func fromServer(_ flags: UInt8, rip: UInt32? = nil, port: UInt16 = 40_000) -> [UInt8] {
        tcpFrame(client: rip ?? rip1, port: 8080, to: client, dport: port, flags: flags)
    }

    func state(_ p: inout Pipeline, port: UInt16 = 40_000, now: UInt32) -> FlowState? {
        let key = FlowKey(source: client, destination: vipNAT, sourcePort: port, destinationPort: 80, proto: IPProtocol.tcp)
        var expired: UInt64 = 0
        return p.flows.lookup(key, hash: p.flows.hash(key), now: now, expired: &expired).map { p.flows[$0].state }
    }

    /// A NAT packet with TTL 1 is answered with ICMP time exceeded (its flow is made first, as
    /// IPVS makes its connection before transmitting), and the answers are rate limited: a
    /// burst of 50, then one per millisecond.
    func testTimeExceededAnswersAreRateLimited() {
        let s = snapshot()
        var p = pipeline()
        let expiring = fromClient(TCPFlags.syn, ttl: 1)
        var replies = 0
        for _ in 0..<60 {
            let (v, out) = send(&p, expiring, ingress: 0, now: 7, s)
            XCTAssertEqual(out, expiring, "the received frame is never changed")
            if case .reply(egress: 0) = v { replies += 1 } else { XCTAssertEqual(v, .drop(.ttlExceeded)) }
        }
        XCTAssertEqual(replies, 50)
        XCTAssertEqual(p.counters[.ttlExceeded], 60)
        XCTAssertEqual(p.counters[.icmpTimeExceeded], 50)
        XCTAssertEqual(p.counters[.newFlows], 1, "the 60 packets are one flow")
        // 5 ms later: 5 more answers.
        replies = 0
        for _ in 0..<10 {
            if case .reply = send(&p, expiring, ingress: 0, now: 12, s).0 { replies += 1 }
        }
        XCTAssertEqual(replies, 5)
        // The answer goes to the sender, from the VIP, and parses as an ICMP error quoting it.
        _ = send(&p, expiring, ingress: 0, now: 1_000, s)
        let reply = Array(UnsafeRawBufferPointer(start: p.replyFrame, count: p.replyLength))
        // The whole 40-byte packet is quoted (the kernel quotes up to 548 bytes).
        XCTAssertEqual(reply.count, 14 + 20 + 8 + 40)
        XCTAssertEqual(Array(reply[0..<6]), Array(expiring[6..<12]))
        XCTAssertEqual(Array(reply[26..<30]), [198, 18, 1, 100])
        XCTAssertEqual(Array(reply[30..<34]), [198, 18, 1, 10])
        XCTAssertEqual(Array(reply[42...]), Array(expiring[14..<54]))
        // A packet with TTL 2 goes through with TTL 1.
        let (v, out) = send(&p, fromClient(TCPFlags.syn, ttl: 2), ingress: 0, now: 1_001, s)
        XCTAssertEqual(v, .forward(egress: 1))
        XCTAssertEqual(out[22], 1)
    }

    /// Client closes first: SYN_RECV → ESTABLISHED → FIN_WAIT → TIME_WAIT → expired.
    func testActiveCloseByClient() {
        var timeouts = FlowTimeouts()
        timeouts.tcpTimeWait = 5_000
        let s = snapshot(weights: [1, 0])
        var p = pipeline(timeouts: timeouts)
        XCTAssertEqual(send(&p, fromClient(TCPFlags.syn), ingress: 0, now: 0, s).0, .forward(egress: 1))
        XCTAssertEqual(state(&p, now: 0), .synRecv)
        XCTAssertEqual(send(&p, fromServer(TCPFlags.syn | TCPFlags.ack), ingress: 1, now: 1, s).0, .forward(egress: 0))
        XCTAssertEqual(state(&p, now: 1), .synRecv)
        _ = send(&p, fromClient(TCPFlags.ack), ingress: 0, now: 2, s)
        XCTAssertEqual(state(&p, now: 2), .established)
        _ = send(&p, fromClient(TCPFlags.fin | TCPFlags.ack), ingress: 0, now: 3, s)
        XCTAssertEqual(state(&p, now: 3), .finWait)
        _ = send(&p, fromServer(TCPFlags.fin | TCPFlags.ack), ingress: 1, now: 4, s)
        XCTAssertEqual(state(&p, now: 4), .timeWait)
        _ = send(&p, fromClient(TCPFlags.ack), ingress: 0, now: 5, s)
        XCTAssertEqual(state(&p, now: 5), .timeWait)
        XCTAssertEqual(state(&p, now: 5_005), .timeWait, "alive at its timeout")
        XCTAssertNil(state(&p, now: 5_006), "expired after TIME_WAIT's timeout")
        // The reply mapping expires with it: a late segment from the server is not ours.
        XCTAssertEqual(send(&p, fromServer(TCPFlags.ack), ingress: 1, now: 5_006, s).0, .pass)
    }

    /// Server closes first: CLOSE_WAIT → LAST_ACK → CLOSE → expired; and RST closes at once.
    func testPassiveCloseAndReset() {
        var timeouts = FlowTimeouts()
        timeouts.tcpClose = 2_000
        let s = snapshot(weights: [1, 0])
        var p = pipeline(timeouts: timeouts)
        _ = send(&p, fromClient(TCPFlags.syn), ingress: 0, now: 0, s)
        _ = send(&p, fromServer(TCPFlags.syn | TCPFlags.ack), ingress: 1, now: 0, s)
        _ = send(&p, fromClient(TCPFlags.ack), ingress: 0, now: 0, s)
        _ = send(&p, fromServer(TCPFlags.fin | TCPFlags.ack), ingress: 1, now: 10, s)
        XCTAssertEqual(state(&p, now: 10), .closeWait)
        _ = send(&p, fromClient(TCPFlags.fin | TCPFlags.ack), ingress: 0, now: 20, s)
        XCTAssertEqual(state(&p, now: 20), .lastAck)
        _ = send(&p, fromServer(TCPFlags.ack), ingress: 1, now: 30, s)
        XCTAssertEqual(state(&p, now: 30), .close)
        XCTAssertNil(state(&p, now: 2_031))

        _ = send(&p, fromClient(TCPFlags.syn, port: 40_001), ingress: 0, now: 0, s)
        _ = send(&p, fromClient(TCPFlags.ack, port: 40_001), ingress: 0, now: 0, s)
        XCTAssertEqual(state(&p, port: 40_001, now: 0), .established)
        _ = send(&p, fromServer(TCPFlags.rst, port: 40_001), ingress: 1, now: 1, s)
        XCTAssertEqual(state(&p, port: 40_001, now: 1), .close)
    }

    func testEstablishedAndUDPExpire() {
        var timeouts = FlowTimeouts()
        timeouts.tcpEstablished = 60_000
        timeouts.tcpSynRecv = 1_000
        let s = snapshot(weights: [1, 0])
        var p = pipeline(timeouts: timeouts)
        _ = send(&p, fromClient(TCPFlags.syn), ingress: 0, now: 0, s)
        XCTAssertNil(state(&p, now: 1_001), "a half-open flow expires after SYN_RECV's timeout")
        _ = send(&p, fromClient(TCPFlags.syn, port: 40_002), ingress: 0, now: 0, s)
        _ = send(&p, fromClient(TCPFlags.ack, port: 40_002), ingress: 0, now: 10, s)
        // Replies keep a flow alive too.
        _ = send(&p, fromServer(TCPFlags.ack, port: 40_002), ingress: 1, now: 50_000, s)
        XCTAssertEqual(state(&p, port: 40_002, now: 110_000), .established)
        XCTAssertNil(state(&p, port: 40_002, now: 110_001))
    }

    func testPersistenceKeepsAClientOnOneServer() {
        let persistent = snapshot(persistence: 300)
        var p = pipeline()
        var servers = Set<UInt64>()
        for port in 0..<50 as Range<UInt16> {
            let (v, out) = send(&p, fromClient(TCPFlags.syn, port: 30_000 + port), ingress: 0, now: UInt32(port), persistent)
            XCTAssertEqual(v, .forward(egress: 1))
            servers.insert(out.prefix(6).reduce(0) { $0 << 8 | UInt64($1) })
        }
        XCTAssertEqual(servers.count, 1, "50 connections, one real server")
        XCTAssertEqual(p.counters[.persistenceHits], 49)

        let plain = snapshot()
        var q = pipeline()
        servers = []
        for port in 0..<50 as Range<UInt16> {
            let (_, out) = send(&q, fromClient(TCPFlags.syn, port: 30_000 + port), ingress: 0, now: 0, plain)
            servers.insert(out.prefix(6).reduce(0) { $0 << 8 | UInt64($1) })
        }
        XCTAssertEqual(servers.count, 2, "without persistence they spread")
    }

    func testPersistenceTimeoutAndGranularity() {
        let s = snapshot(persistence: 10, mask: 0xFFFF_FF00)
        var p = pipeline()
        let (_, first) = send(&p, fromClient(TCPFlags.syn, port: 1, client: 0xC612_0105), ingress: 0, now: 0, s)
        let (_, neighbour) = send(&p, fromClient(TCPFlags.syn, port: 2, client: 0xC612_01F0), ingress: 0, now: 5_000, s)
        XCTAssertEqual(first.prefix(6), neighbour.prefix(6), "one /24, one real server")
        XCTAssertEqual(p.counters[.persistenceHits], 1)
        // 10 s after the last use the template is gone; rr moves on to the other server.
        let (_, later) = send(&p, fromClient(TCPFlags.syn, port: 3, client: 0xC612_0105), ingress: 0, now: 15_001, s)
        XCTAssertNotEqual(first.prefix(6), later.prefix(6))
        XCTAssertEqual(p.counters[.persistenceHits], 1)
    }

    /// lc and wlc read the workers' active/inactive counts (IPVS: active × 256 + inactive).
    func testLeastConnectionSchedulers() {
        let counts = ConnectionCounts(workers: 2)
        // Worker 1 already holds 3 established connections on real server 0.
        counts.row(1)[0].store(3, ordering: .relaxed)
        var p = pipeline(connections: counts)
        let lc = snapshot(scheduler: .leastConnection)
        let (_, out) = send(&p, fromClient(TCPFlags.syn, port: 1), ingress: 0, now: 0, lc)
        XCTAssertEqual(out[5], 0x22, "lc picks the server with fewer connections")
        XCTAssertEqual(counts.totals(realID: 1).inactive, 1, "the new half-open connection counts as inactive")
        _ = send(&p, fromClient(TCPFlags.ack, port: 1), ingress: 0, now: 1, lc)
        XCTAssertEqual(counts.totals(realID: 1).active, 1)
        XCTAssertEqual(counts.totals(realID: 1).inactive, 0)
        // wlc with weights 4:1: 3 active on server 0 (cost 768/4 = 192) < 1 active on server 1 (256/1).
        let wlc = snapshot(scheduler: .weightedLeastConnection, weights: [4, 1])
        let (_, out2) = send(&p, fromClient(TCPFlags.syn, port: 2), ingress: 0, now: 2, wlc)
        XCTAssertEqual(out2[5], 0x21)
        // nq sends to an idle server at once; sed uses (active + 1) / weight.
        counts.row(1)[0].store(0, ordering: .relaxed)
        var q = pipeline(connections: ConnectionCounts(workers: 1))
        let (_, out3) = send(&q, fromClient(TCPFlags.syn, port: 3), ingress: 0, now: 0, snapshot(scheduler: .neverQueue))
        XCTAssertEqual(out3[5], 0x21)
    }

    func testCountsFollowExpiry() {
        let counts = ConnectionCounts(workers: 1)
        var timeouts = FlowTimeouts()
        timeouts.tcpSynRecv = 100
        var p = pipeline(timeouts: timeouts, connections: counts)
        let s = snapshot(weights: [1, 0])
        for port in 0..<10 as Range<UInt16> { _ = send(&p, fromClient(TCPFlags.syn, port: port), ingress: 0, now: 0, s) }
        XCTAssertEqual(counts.totals(realID: 0).inactive, 10)
        p.flows.sweep(now: 1_000, budget: p.flows.slotCount)
        XCTAssertEqual(counts.totals(realID: 0).inactive, 0, "expired connections leave the counts")
        XCTAssertEqual(p.flows.count, 0, "and their reply mappings leave the table")
    }
}
