// Connection sync's worker side with no sockets: what a master's pipeline queues (IPVS's rules for
// when), what a backup's pipeline does with the records handed in (forwards the flow mid-stream
// in both directions, as if it had seen it begin), and table walks for listings.
import XCTest
@testable import SwitchyardCore

final class PipelineSyncTests: XCTestCase {
    let vip = IPv4Address("198.18.1.100")!.value
    let client: UInt32 = 0xC612_010A  // 198.18.1.10
    let rip1: UInt32 = 0xC612_020B    // 198.18.2.11
    let rip2: UInt32 = 0xC612_020C
    let clientMAC = MACAddress("02:00:00:00:00:0a")!

    func snapshot(method: ForwardingMethod = .nat, persistence: Int = 0, mask: UInt32 = 0xFFFF_FFFF,
                  proto: UInt8 = IPProtocol.tcp) -> ForwardingSnapshot {
        ForwardingSnapshot(services: [ServiceSpec(
            id: 0, proto: proto, vip: IPv4Address(vip), port: 80, scheduler: .roundRobin, method: method,
            persistenceTimeout: persistence, persistenceMask: mask,
            reals: [RealServerSpec(id: 0, address: IPv4Address(rip1), port: 8080, weight: 1,
                                   mac: MACAddress(bits: 0x21), interface: 1),
                    RealServerSpec(id: 1, address: IPv4Address(rip2), port: 8080, weight: 1,
                                   mac: MACAddress(bits: 0x22), interface: 1)])],
            schedulingKey: .defaultScheduling, maglevTableSize: 251)
    }

    func pipeline(_ exchange: FlowExchange) -> Pipeline {
        // 500 flows: all four tables (IPv4 and IPv6 flows and templates, 3,456 slots) fit one
        // turn's walk budget, so the turns a walk takes depend on the ring alone.
        var config = PipelineConfig(interfaceMACs: [lbMAC, MACAddress(bits: 0x03)], flowCapacity: 500)
        config.exchange = exchange
        return Pipeline(config)
    }

    func send(_ p: inout Pipeline, _ frame: [UInt8], ingress: Int = 0, now: UInt32, _ s: ForwardingSnapshot) -> Verdict {
        var buffer = frame
        return buffer.withUnsafeMutableBytes {
            p.process($0.baseAddress!, length: $0.count, ingress: ingress, checksumPending: false, now: now,
                      snapshot: s.view)
        }
    }

    func fromClient(_ flags: UInt8, port: UInt16 = 40_000) -> [UInt8] {
        tcpFrame(client: client, port: port, to: vip, dport: 80, flags: flags)
    }

    func drain(_ ring: FlowRecordRing) -> [FlowRecord] {
        var records: [FlowRecord] = []
        while let r = ring.pop() { records.append(r) }
        return records
    }

    /// A master queues a TCP flow when it becomes ESTABLISHED, every 50th packet after the 3rd
    /// while established, and on each closing state; never while half open; nothing while
    /// sending is off.
    func testMasterQueuesAsIPVSSyncs() {
        let s = snapshot()
        let exchange = FlowExchange(capacity: 64)
        var p = pipeline(exchange)
        _ = send(&p, fromClient(TCPFlags.syn), now: 1, s)
        XCTAssertTrue(drain(exchange.outbound).isEmpty, "sending is off until the control plane turns it on")

        exchange.setSending(true)
        _ = p.exchangeTurn(now: 2, snapshot: s.view)
        _ = send(&p, fromClient(TCPFlags.syn, port: 40_001), now: 3, s)
        XCTAssertTrue(drain(exchange.outbound).isEmpty, "a half-open flow is not synced")
        _ = send(&p, fromClient(TCPFlags.ack), now: 4, s)
        let established = drain(exchange.outbound)
        XCTAssertEqual(established.count, 1)
        let r = established[0]
        XCTAssertEqual(r.state, .established)
        XCTAssertEqual(r.origin, FlowRecord.change)
        XCTAssertEqual([r.client, r.virtual, r.real], [client, vip, rip1].map { IPAddressBits(v4: $0) })
        XCTAssertEqual([r.clientPort, r.virtualPort, r.realPort], [40_000, 80, 8080])
        XCTAssertEqual(r.proto, IPProtocol.tcp)
        XCTAssertTrue(r.isNAT)
        XCTAssertFalse(r.isTemplate)
        XCTAssertEqual(r.peerMAC, clientMAC)
        XCTAssertEqual(r.expiresIn, FlowTimeouts().tcpEstablished)

        // The SYN counted 1 and the ACK 2: of 50 more ACKs the first is the 3rd packet
        // (3 % 50 == 3), and the 53rd is not reached.
        var queued = 0
        for i in 0..<50 {
            _ = send(&p, fromClient(TCPFlags.ack), now: 10 + UInt32(i), s)
            queued += drain(exchange.outbound).count
        }
        XCTAssertEqual(queued, 1)
        _ = send(&p, fromClient(TCPFlags.fin | TCPFlags.ack), now: 100, s)
        XCTAssertEqual(drain(exchange.outbound).map(\.state), [.finWait])
        XCTAssertEqual(p.counters[.syncQueued], 3)

        exchange.setSending(false)
        _ = p.exchangeTurn(now: 101, snapshot: s.view)
        _ = send(&p, fromClient(TCPFlags.rst), now: 102, s)
        XCTAssertTrue(drain(exchange.outbound).isEmpty)
    }

    /// A UDP flow is synced at its third packet (sync_threshold), then 50 packets later.
    func testUDPFlowIsSyncedAtTheThresholdPacket() {
        let s = snapshot(method: .dr, proto: IPProtocol.udp)
        let exchange = FlowExchange(capacity: 64)
        var p = pipeline(exchange)
        exchange.setSending(true)
        _ = p.exchangeTurn(now: 0, snapshot: s.view)
        let datagram = tcpFrame(client: client, port: 5353, to: vip, dport: 80, proto: IPProtocol.udp)
        var at: [Int] = []
        for i in 1...60 {
            _ = send(&p, datagram, now: UInt32(i), s)
            if !drain(exchange.outbound).isEmpty { at.append(i) }
        }
        XCTAssertEqual(at, [3, 53], "the packet that makes the flow counts as the first")
    }

    /// A backup given the master's record forwards the flow mid-stream: the client's next packet
    /// goes to the same real server as a hit, and the real server's reply is translated back to
    /// the client's MAC with no flow made.
    func testBackupForwardsAnInstalledNATFlowBothWays() {
        let s = snapshot()
        let master = FlowExchange(capacity: 64)
        var m = pipeline(master)
        master.setSending(true)
        _ = m.exchangeTurn(now: 0, snapshot: s.view)
        // Two connections so that round robin has moved on: the second is bound to rip2.
        for port: UInt16 in [40_000, 40_001] {
            _ = send(&m, fromClient(TCPFlags.syn, port: port), now: 1, s)
            _ = send(&m, fromClient(TCPFlags.ack, port: port), now: 2, s)
        }
        let records = drain(master.outbound)
        XCTAssertEqual(records.map(\.real), [rip1, rip2].map { IPAddressBits(v4: $0) })

        let backup = FlowExchange(capacity: 64)
        var b = pipeline(backup)
        for r in records { XCTAssertTrue(backup.inbound.push(r)) }
        XCTAssertFalse(b.exchangeTurn(now: 500, snapshot: s.view))
        XCTAssertEqual(b.counters[.syncInstalled], 2)

        // The real server rip2 answers first (a download): translated back to the client.
        var reply = tcpFrame(client: rip2, port: 8080, to: client, dport: 40_001, flags: TCPFlags.ack)
        let verdict = reply.withUnsafeMutableBytes {
            b.process($0.baseAddress!, length: $0.count, ingress: 1, checksumPending: false, now: 501,
                      snapshot: s.view)
        }
        XCTAssertEqual(verdict, .forward(egress: 0))
        XCTAssertEqual(Array(reply[0..<6]), [2, 0, 0, 0, 0, 0x0a], "to the MAC the master saw the client's packets from")
        XCTAssertEqual(Array(reply[26..<30]), [198, 18, 1, 100], "from the VIP")
        XCTAssertEqual(b.counters[.natReplies], 1)

        // The client's next packet: a hit, to the same real server, no new flow.
        var ack = fromClient(TCPFlags.ack, port: 40_001)
        _ = ack.withUnsafeMutableBytes {
            b.process($0.baseAddress!, length: $0.count, ingress: 0, checksumPending: false, now: 502,
                      snapshot: s.view)
        }
        XCTAssertEqual(Array(ack[30..<34]), [198, 18, 2, 12], "to rip2, as on the master")
        XCTAssertEqual(b.counters[.newFlows], 0)
        XCTAssertEqual(b.counters[.flowHits], 1)
    }

    /// A record whose real server is not under that ID in the backup's snapshot is left out (the
    /// next packet schedules afresh), and a newer record moves a flow to the master's binding.
    func testInstallChecksTheRealServerAndTheMasterWins() {
        let s = snapshot(method: .dr)
        let exchange = FlowExchange(capacity: 8)
        var b = pipeline(exchange)
        var r = FlowRecord(client: IPAddressBits(v4: client), virtual: IPAddressBits(v4: vip), real: IPAddressBits(v4: rip2),
                           clientPort: 40_000, virtualPort: 80, realPort: 8080,
                           proto: IPProtocol.tcp, state: .established, flags: 0, realID: 0)
        XCTAssertTrue(exchange.inbound.push(r))
        _ = b.exchangeTurn(now: 1, snapshot: s.view)
        XCTAssertEqual(b.counters[.syncInstalled], 0, "ID 0 is rip1, not rip2")
        XCTAssertEqual(b.flows.count, 0)

        r.realID = 1
        XCTAssertTrue(exchange.inbound.push(r))
        _ = b.exchangeTurn(now: 2, snapshot: s.view)
        XCTAssertEqual(b.flows.count, 1)
        r.realID = 0
        r.real = IPAddressBits(v4: rip1)
        r.state = .finWait
        XCTAssertTrue(exchange.inbound.push(r))
        _ = b.exchangeTurn(now: 3, snapshot: s.view)
        let key = FlowKey(source: client, destination: vip, sourcePort: 40_000, destinationPort: 80, proto: IPProtocol.tcp)
        var expired: UInt64 = 0
        let slot = b.flows.lookup(key, hash: b.flows.hash(key), now: 4, expired: &expired)
        XCTAssertNotNil(slot)
        XCTAssertEqual(slot.map { b.flows[$0].realID }, 0)
        XCTAssertEqual(slot.map { b.flows[$0].state }, .finWait)
        XCTAssertEqual(slot.map { b.flows[$0].flags & FlowFlags.synced }, FlowFlags.synced)
        XCTAssertEqual(b.flows.count, 1)
    }

    /// A walk queues every live connection (not NAT reply mappings) and every persistence
    /// template with its purposes, then the done marker; a ring too small for the table makes
    /// the worker resume where it stopped.
    func testWalkListsConnectionsAndTemplatesThenMarksDone() {
        let s = snapshot(persistence: 300, mask: 0xFFFF_FF00)
        let exchange = FlowExchange(capacity: 4)
        var p = pipeline(exchange)
        for port: UInt16 in 40_000..<40_010 {
            _ = send(&p, fromClient(TCPFlags.syn, port: port), now: 1, s)
        }
        XCTAssertEqual(p.flows.count, 20, "ten connections and their reply mappings")
        exchange.requestWalk(number: 7, purposes: FlowRecord.walkList)
        var records: [FlowRecord] = []
        var turns = 0
        while turns < 1_000 {
            turns += 1
            _ = p.exchangeTurn(now: 2, snapshot: s.view)
            records += drain(exchange.outbound)
            if records.last?.isDoneMarker == true { break }
        }
        XCTAssertEqual(turns, 3, "12 records through a ring of 4: the walk stops and resumes twice")
        XCTAssertEqual(records.last, .done(walk: 7))
        let listed = records.dropLast()
        XCTAssertTrue(listed.allSatisfy { $0.origin == FlowRecord.walkList })
        XCTAssertEqual(listed.filter { !$0.isTemplate }.map(\.clientPort).sorted(), Array(40_000..<40_010))
        let templates = listed.filter(\.isTemplate)
        XCTAssertEqual(templates.count, 1)
        XCTAssertEqual(templates.first?.client, IPAddressBits(v4: client & 0xFFFF_FF00))
        XCTAssertEqual(templates.first?.expiresIn, 300_000 - 1)
        XCTAssertFalse(p.exchangeTurn(now: 3, snapshot: s.view), "nothing left to do")
        XCTAssertTrue(drain(exchange.outbound).isEmpty, "the walk is not repeated")
    }

    /// The ring keeps order, refuses when full, and overwrites nothing.
    func testFlowRecordRingIsABoundedFIFO() {
        let ring = FlowRecordRing(capacity: 3)
        XCTAssertEqual(ring.capacity, 4)
        for i in 0..<4 { XCTAssertTrue(ring.push(.done(walk: UInt32(i)))) }
        XCTAssertFalse(ring.push(.done(walk: 9)))
        XCTAssertEqual(ring.pop(), .done(walk: 0))
        XCTAssertTrue(ring.push(.done(walk: 4)))
        XCTAssertEqual(drain(ring).map(\.realID), [1, 2, 3, 4])
        XCTAssertTrue(ring.isEmpty)
    }

    /// A NAT66 flow is listed with its whole addresses (adm -Lnc), and connection sync, which
    /// carries IPv4 only, makes no entry of it.
    func testAWalkListsIPv6FlowsWithTheirAddresses() throws {
        let snapshot = Golden6PacketTests.natSnapshot()
        let exchange = FlowExchange(capacity: 64)
        var config = PipelineConfig(interfaceMACs: [NATGoldenTests.outsideMAC, NATGoldenTests.insideMAC], flowCapacity: 500)
        config.exchange = exchange
        var p = Pipeline(config)
        let step = try XCTUnwrap(nat66Sequences.first?.steps.first)
        var frame = bytes(hex: step.input)
        _ = frame.withUnsafeMutableBytes {
            p.process($0.baseAddress!, length: $0.count, ingress: step.ingress, checksumPending: step.checksumPending,
                      now: step.now, snapshot: snapshot.view)
        }
        XCTAssertEqual(p.counters[.newFlows], 1)
        exchange.requestWalk(number: 1, purposes: FlowRecord.walkList)
        _ = p.exchangeTurn(now: step.now, snapshot: snapshot.view, walkBudget: Limits.idleWalkBudget)
        let listed = drain(exchange.outbound).filter { !$0.isDoneMarker }
        XCTAssertEqual(listed.count, 1, "the connection, not its reply mapping")
        let r = try XCTUnwrap(listed.first)
        XCTAssertEqual(r.virtual, IPAddressBits(ipv6: "2001:db8:1::100"))
        XCTAssertEqual(r.real, IPAddressBits(ipv6: "2001:db8:2::11"))
        XCTAssertFalse(r.client.isV4)
        XCTAssertEqual(r.realPort, 8080)
        XCTAssertTrue(r.isNAT)
    }
    /// A backup handed a master's NAT66 record answers the flow's first reply as the master
    /// would: the golden SYN-ACK, byte for byte, with no flow of its own made.
    func testBackupForwardsAnInstalledIPv6NATFlow() throws {
        let snapshot = Golden6PacketTests.natSnapshot()
        let steps = try XCTUnwrap(nat66Sequences.first?.steps)
        func pipeline6(_ exchange: FlowExchange) -> Pipeline {
            var config = PipelineConfig(interfaceMACs: [NATGoldenTests.outsideMAC, NATGoldenTests.insideMAC], flowCapacity: 500)
            config.exchange = exchange
            return Pipeline(config)
        }
        func feed(_ p: inout Pipeline, _ step: GoldenStep) -> (Verdict, [UInt8]) {
            var frame = bytes(hex: step.input)
            let verdict = frame.withUnsafeMutableBytes {
                p.process($0.baseAddress!, length: $0.count, ingress: step.ingress, checksumPending: step.checksumPending,
                          now: step.now, snapshot: snapshot.view)
            }
            return (verdict, frame)
        }
        let master = FlowExchange(capacity: 64)
        var m = pipeline6(master)
        _ = feed(&m, steps[0])
        master.requestWalk(number: 1, purposes: FlowRecord.walkSync)
        _ = m.exchangeTurn(now: steps[0].now, snapshot: snapshot.view, walkBudget: Limits.idleWalkBudget)
        let records = drain(master.outbound).filter { !$0.isDoneMarker }
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(records.first?.client, IPAddressBits(ipv6: "2001:db8:1::a"))

        let backup = FlowExchange(capacity: 64)
        var b = pipeline6(backup)
        for r in records { XCTAssertTrue(backup.inbound.push(r)) }
        _ = b.exchangeTurn(now: steps[1].now, snapshot: snapshot.view)
        XCTAssertEqual(b.counters[.syncInstalled], 1)
        let (verdict, out) = feed(&b, steps[1])
        XCTAssertEqual(verdict, steps[1].verdict)
        XCTAssertEqual(hex(out), steps[1].output, "the master's translation, to the client's MAC it saw")
        XCTAssertEqual(b.counters[.natReplies], 1)
        XCTAssertEqual(b.counters[.newFlows], 0)
    }
}
