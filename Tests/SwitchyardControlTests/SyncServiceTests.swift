// Connection sync's service with no sockets: a master and a backup, each with a hub over one
// FlowExchange (the test plays the workers), joined by fake transports that the test carries
// datagrams between, on a clock the test sets.
import Synchronization
import XCTest
@testable import SwitchyardControl
import SwitchyardCore
import SwitchyardIO

final class FakeSyncTransport: SyncTransport, @unchecked Sendable {
    var sent: [[UInt8]] = []
    var inbox: [(bytes: [UInt8], source: IPv4Address)] = []
    var refuse = false
    func send(_ datagram: [UInt8]) -> Bool {
        if refuse { return false }
        sent.append(datagram)
        return true
    }
    func receive() -> (bytes: [UInt8], source: IPv4Address)? { inbox.isEmpty ? nil : inbox.removeFirst() }
    func wait(milliseconds: Int32) {}
    func take() -> [[UInt8]] {
        defer { sent = [] }
        return sent
    }
}

final class SyncServiceTests: XCTestCase {
    let vip: UInt32 = 0xC612_0164       // 198.18.1.100
    let rip: UInt32 = 0xC612_020B       // 198.18.2.11
    let client: UInt32 = 0xC612_010A    // 198.18.1.10
    let masterAddress = IPv4Address("198.18.9.1")!
    let backupAddress = IPv4Address("198.18.9.2")!

    struct Box {
        let exchange: FlowExchange
        let transport: FakeSyncTransport
        let service: SyncService
        let master: Locked<Bool>
    }

    func directory() -> SyncDirectory {
        var d = SyncDirectory()
        d.reals[SyncDirectory.RealKey(proto: IPProtocol.tcp, virtual: IPAddressBits(v4: vip), virtualPort: 80,
                                      real: IPAddressBits(v4: rip), realPort: 8080)] = SyncDirectory.Real(id: 5, nat: true)
        d.vipInterface[IPAddressBits(v4: vip)] = 1
        return d
    }

    func box(master: Bool, key: [UInt8]? = nil, refresh: Double = 30) -> Box {
        let exchange = FlowExchange(capacity: 64)
        let hub = FlowExchangeHub(exchanges: [exchange])
        let transport = FakeSyncTransport()
        let role = Locked(master)
        var config = SyncDaemonConfig(interface: "eth0", instance: "VI_1", location: SourceLocation(line: 1, column: 1))
        config.syncID = 51
        let d = directory()
        let service = SyncService(config: config, syncID: 51, hub: hub, transport: transport,
                                  isMaster: { role.withLock { $0 } }, generation: { 1 }, directory: { (d, 1) },
                                  auth: key.flatMap { SyncAuth(key: $0) }, refreshSeconds: refresh, firstSequence: 1_000)
        return Box(exchange: exchange, transport: transport, service: service, master: role)
    }

    func established(port: UInt16 = 40_000) -> FlowRecord {
        FlowRecord(client: IPAddressBits(v4: client), virtual: IPAddressBits(v4: vip), real: IPAddressBits(v4: rip), clientPort: port, virtualPort: 80, realPort: 8080,
                   proto: IPProtocol.tcp, state: .established, flags: FlowFlags.nat, peerMAC: MACAddress(bits: 0x0200_0000_000A),
                   expiresIn: 899_500, realID: 77)
    }

    func carry(_ from: Box, to: Box, source: IPv4Address) {
        for d in from.transport.take() { to.transport.inbox.append((d, source)) }
    }

    func installed(_ b: Box) -> [FlowRecord] {
        var records: [FlowRecord] = []
        while let r = b.exchange.inbound.pop() { records.append(r) }
        return records
    }

    /// The master sends what its workers queue; the backup installs it resolved against its own
    /// table (its real server ID, its VIP's interface), with the peer MAC the master saw.
    func testMasterSendsChangesAndTheBackupInstallsThem() {
        let m = box(master: true), b = box(master: false)
        m.service.tick(now: 0)
        XCTAssertTrue(m.exchange.isSending, "a master's workers queue changes")
        b.service.tick(now: 0)
        XCTAssertFalse(b.exchange.isSending)
        XCTAssertEqual(b.transport.take().map { SyncDatagramKind.classify($0) }, [.catchUp],
                       "a backup asks for everything when it starts")

        XCTAssertTrue(m.exchange.outbound.push(established()))
        XCTAssertTrue(m.exchange.outbound.push(established(port: 40_001)))
        m.service.tick(now: 0.01)
        let sent = m.transport.sent
        XCTAssertEqual(sent.count, 1, "two entries fit one message")
        let message = try? SyncCodec.decode(sent[0])
        XCTAssertEqual(message?.syncID, 51)
        XCTAssertEqual(message?.entries.map(\.clientPort), [40_000, 40_001])
        XCTAssertEqual(message?.entries.first?.timeout, 900, "899.5 s rounded up")
        XCTAssertEqual(message?.entries.first?.peerMAC, MACAddress(bits: 0x0200_0000_000A))
        XCTAssertEqual(message?.entries.first?.flags.forwarding, .masquerade)

        carry(m, to: b, source: masterAddress)
        b.service.tick(now: 0.02)
        let records = installed(b)
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records.first?.realID, 5, "the backup's own ID for the real server")
        XCTAssertEqual(records.first?.interface, 1)
        XCTAssertEqual(records.first?.state, .established)
        XCTAssertEqual(records.first?.peerMAC, MACAddress(bits: 0x0200_0000_000A))
        XCTAssertTrue(records.first?.isNAT ?? false)
        XCTAssertEqual(b.service.statistics.withLock { $0.entriesInstalled }, 2)
        XCTAssertEqual(m.service.statistics.withLock { $0.entriesSent }, 2)
    }

    /// A late backup's catch-up request makes the master walk its tables, once per request
    /// number; the walk's records go out like changes. A master walks every refresh period.
    func testCatchUpRequestAndRefreshStartWalks() {
        let m = box(master: true, refresh: 30), b = box(master: false)
        m.service.tick(now: 0)
        XCTAssertEqual(m.exchange.requestedWalk.number, 0, "no walk at start")
        b.service.tick(now: 0)
        let request = b.transport.sent
        carry(b, to: m, source: backupAddress)
        m.service.tick(now: 1)
        let walk = m.exchange.requestedWalk
        XCTAssertEqual(walk.purposes, FlowRecord.walkSync)
        XCTAssertEqual(walk.number, 1)
        // The worker walks: a record, then its done marker.
        var r = established()
        r.origin = FlowRecord.walkSync
        XCTAssertTrue(m.exchange.outbound.push(r))
        XCTAssertTrue(m.exchange.outbound.push(.done(walk: 1)))
        m.service.tick(now: 2)
        let out = m.transport.take()
        XCTAssertEqual(out.map { SyncDatagramKind.classify($0) }, [.ipvs, .catchUp], "the walked flow, then the answer")
        let number = SyncCatchUpRequest.decode(request[0])!.requestNumber
        XCTAssertEqual(SyncCatchUpRequest.decode(out[1]), SyncCatchUpRequest(syncID: 51, requestNumber: number, answered: true))
        // The same request again (a duplicate datagram) starts nothing.
        m.transport.inbox.append((request[0], backupAddress))
        m.service.tick(now: 3)
        XCTAssertEqual(m.exchange.requestedWalk.number, 1)
        XCTAssertEqual(m.service.statistics.withLock { $0.catchUpsAnswered }, 1)
        // Unanswered, the backup asks again after 3 s, and holds preemption; an ordinary message
        // is no answer. The answer (to its first request: a walk may outlast the retry) ends both.
        b.service.tick(now: 1)
        XCTAssertTrue(b.transport.sent.isEmpty)
        XCTAssertTrue(b.service.holdsPreemption)
        b.service.tick(now: 3.5)
        XCTAssertEqual(b.transport.take().count, 1)
        XCTAssertTrue(m.exchange.outbound.push(established()))
        m.service.tick(now: 4)
        carry(m, to: b, source: masterAddress)
        b.service.tick(now: 4)
        XCTAssertTrue(b.service.holdsPreemption, "a change message is no answer")
        b.service.tick(now: 6.6)
        XCTAssertEqual(b.transport.take().count, 1, "asked a third time")
        b.transport.inbox.append((out[1], masterAddress))
        b.service.tick(now: 7)
        XCTAssertFalse(b.service.holdsPreemption)
        XCTAssertEqual(b.service.statistics.withLock { $0.caughtUp }, 1)
        b.service.tick(now: 20)
        XCTAssertTrue(b.transport.sent.isEmpty, "no more requests once the master answers")
        // The refresh walk: due 30 s after the master started.
        m.service.tick(now: 29)
        XCTAssertEqual(m.exchange.requestedWalk.number, 1)
        m.service.tick(now: 30)
        XCTAssertEqual(m.exchange.requestedWalk.number, 2)
    }

    /// A backup holds preemption until its catch-up is answered: an answer to another number or
    /// sync ID does not end it; without an answer it ends after preemptionHoldSeconds (a kernel
    /// master never answers), and so do the requests. Becoming master ends it; stepping down
    /// starts it again.
    func testPreemptionHoldEndsWithTheAnswerOrAfterItsLimit() {
        let b = box(master: false)
        XCTAssertTrue(b.service.holdsPreemption, "held from the start, before the first turn")
        b.service.tick(now: 0)
        let number = SyncCatchUpRequest.decode(b.transport.take()[0])!.requestNumber
        for stranger in [SyncCatchUpRequest(syncID: 51, requestNumber: number &- 1, answered: true),
                         SyncCatchUpRequest(syncID: 52, requestNumber: number, answered: true),
                         SyncCatchUpRequest(syncID: 51, requestNumber: number)] {
            b.transport.inbox.append((stranger.encode(), masterAddress))
        }
        b.service.tick(now: 1)
        XCTAssertTrue(b.service.holdsPreemption, "not its answer")
        let limit = SyncService.preemptionHoldSeconds
        for t in [3, 6, limit - 0.01] { b.service.tick(now: t) }
        XCTAssertTrue(b.service.holdsPreemption)
        XCTAssertEqual(b.transport.take().count, 3, "asked again every 3 s")
        b.service.tick(now: limit)
        XCTAssertFalse(b.service.holdsPreemption, "no answer in the limit: preemption waits no longer")
        b.service.tick(now: limit + 10)
        XCTAssertTrue(b.transport.sent.isEmpty, "and it stops asking")
        XCTAssertEqual(b.service.statistics.withLock { $0.caughtUp }, 0)

        b.master.withLock { $0 = true }
        b.service.tick(now: 30)
        XCTAssertFalse(b.service.holdsPreemption)
        b.master.withLock { $0 = false }
        b.service.tick(now: 40)
        XCTAssertTrue(b.service.holdsPreemption, "a master turned backup waits for its catch-up again")
        let again = SyncCatchUpRequest.decode(b.transport.take()[0])!
        b.transport.inbox.append((SyncCatchUpRequest(syncID: 51, requestNumber: again.requestNumber, answered: true).encode(),
                                  masterAddress))
        b.service.tick(now: 40.5)
        XCTAssertFalse(b.service.holdsPreemption)
        // A master ignores answers; a backup ignores requests.
        let m = box(master: true)
        m.service.tick(now: 0)
        m.transport.inbox.append((SyncCatchUpRequest(syncID: 51, requestNumber: 1, answered: true).encode(), backupAddress))
        m.service.tick(now: 1)
        XCTAssertEqual(m.exchange.requestedWalk.number, 0)
        XCTAssertTrue(m.transport.sent.isEmpty)
    }

    /// Roles follow the instance: a backup that becomes master stops installing and starts
    /// sending; messages that reach a master are not installed.
    func testRolesFollowTheInstance() {
        let m = box(master: true), b = box(master: false)
        m.service.tick(now: 0)
        b.service.tick(now: 0)
        _ = b.transport.take()
        b.master.withLock { $0 = true }
        b.service.tick(now: 1)
        XCTAssertTrue(b.exchange.isSending)
        XCTAssertTrue(m.exchange.outbound.push(established()))
        m.service.tick(now: 1)
        carry(m, to: b, source: masterAddress)
        b.service.tick(now: 2)
        XCTAssertTrue(installed(b).isEmpty)
        XCTAssertEqual(b.service.statistics.withLock { $0.ignoredAsMaster }, 1)
        m.master.withLock { $0 = false }
        m.service.tick(now: 3)
        XCTAssertFalse(m.exchange.isSending)
        XCTAssertEqual(m.transport.take().map { SyncDatagramKind.classify($0) }, [.catchUp],
                       "a master turned backup asks the new master for everything")
    }

    /// With a key, messages are sealed; a backup refuses one sealed with another key, an
    /// unsealed one, and a replay; entries for real servers it does not have are counted.
    func testAuthenticationRefusesForgeriesAndReplays() {
        let key = Array("a shared secret of some length".utf8)
        let m = box(master: true, key: key), b = box(master: false, key: key)
        let stranger = box(master: true, key: Array("another secret, also long enough".utf8))
        let plain = box(master: true)
        for x in [m, b, stranger, plain] { x.service.tick(now: 0) }
        _ = b.transport.take()
        for x in [m, stranger, plain] { XCTAssertTrue(x.exchange.outbound.push(established())) }
        for x in [m, stranger, plain] { x.service.tick(now: 1) }
        let genuine = m.transport.sent[0]
        XCTAssertEqual(genuine.count, 8 + 36 + 8 + SyncAuth.trailerLength, "header, entry, MAC option, trailer")
        carry(stranger, to: b, source: masterAddress)
        carry(plain, to: b, source: masterAddress)
        carry(m, to: b, source: masterAddress)
        b.transport.inbox.append((genuine, masterAddress))
        b.service.tick(now: 2)
        XCTAssertEqual(installed(b).count, 1)
        let s = b.service.statistics.withLock { $0 }
        XCTAssertEqual(s.unauthenticated, 2)
        XCTAssertEqual(s.replayed, 1)

        var unknown = established()
        unknown.real = IPAddressBits(v4: 0xC612_02FF)
        XCTAssertTrue(m.exchange.outbound.push(unknown))
        m.service.tick(now: 3)
        carry(m, to: b, source: masterAddress)
        b.service.tick(now: 3)
        XCTAssertEqual(b.service.statistics.withLock { $0.entriesRefused }, ["unknownReal": 1])
    }
}

/// A persistence template from a master's pipeline to a backup's, through the wire format.
final class SyncTemplateRoundTripTests: XCTestCase {
    func testTemplateTravelsFromPipelineToPipeline() throws {
        let vip = IPv4Address("198.18.1.100")!
        let rip = IPv4Address("198.18.2.11")!
        let snapshot = ForwardingSnapshot(services: [ServiceSpec(
            id: 0, proto: IPProtocol.tcp, vip: vip, port: 8080, scheduler: .roundRobin, method: .nat,
            persistenceTimeout: 600,
            reals: [RealServerSpec(id: 3, address: rip, port: 8080, weight: 1, mac: MACAddress(bits: 0x21), interface: 1)])],
            schedulingKey: .defaultScheduling, maglevTableSize: 251)
        func pipeline(_ x: FlowExchange) -> Pipeline {
            var config = PipelineConfig(interfaceMACs: [MACAddress(bits: 0x01), MACAddress(bits: 0x03)], flowCapacity: 1_000)
            config.exchange = x
            return Pipeline(config)
        }
        let mx = FlowExchange(capacity: 64)
        var master = pipeline(mx)
        var frame = [UInt8](repeating: 0, count: 54)
        frame[12] = 0x08; frame[14] = 0x45; frame[17] = 40; frame[22] = 64; frame[23] = 6
        frame.replaceSubrange(26..<30, with: [198, 18, 1, 10])
        frame.replaceSubrange(30..<34, with: [198, 18, 1, 100])
        frame[34] = 0x9c; frame[35] = 0x40; frame[36] = 0x1f; frame[37] = 0x90; frame[46] = 0x50; frame[47] = 0x02
        frame[5] = 0x01  // to the balancer's MAC
        frame[11] = 0x0a
        var sum = stride(from: 14, to: 34, by: 2).reduce(UInt32(0)) { $0 + (UInt32(frame[$1]) << 8 | UInt32(frame[$1 + 1])) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        frame[24] = UInt8(~sum >> 8 & 0xFF)
        frame[25] = UInt8(~sum & 0xFF)
        _ = frame.withUnsafeMutableBytes {
            master.process($0.baseAddress!, length: $0.count, ingress: 0, checksumPending: false, now: 5,
                           snapshot: snapshot.view)
        }
        mx.requestWalk(number: 1, purposes: FlowRecord.walkSync)
        // An idle worker's budget: the whole of both tables (IPv4 and IPv6 slots) in one turn.
        _ = master.exchangeTurn(now: 6, snapshot: snapshot.view, walkBudget: Limits.idleWalkBudget)
        var walked: [FlowRecord] = []
        while let r = mx.outbound.pop() { walked.append(r) }
        XCTAssertEqual(master.counters[.newFlows], 1, "\(walked)")
        let template = try XCTUnwrap(walked.first { $0.isTemplate })
        let bytes = try XCTUnwrap(SyncCodec.encode([try XCTUnwrap(SyncTranslate.entry(template))], syncID: 1).first)
        let entry = try XCTUnwrap(SyncCodec.decode(bytes).entries.first)
        var directory = SyncDirectory()
        directory.reals[SyncDirectory.RealKey(proto: 6, virtual: IPAddressBits(vip), virtualPort: 8080, real: IPAddressBits(rip),
                                              realPort: 8080)] = SyncDirectory.Real(id: 3, nat: true)
        let placed = try SyncTranslate.record(entry, in: directory).get()
        XCTAssertTrue(placed.record.isTemplate)
        let bx = FlowExchange(capacity: 64)
        var backup = pipeline(bx)
        XCTAssertTrue(bx.inbound.push(placed.record))
        bx.requestWalk(number: 1, purposes: FlowRecord.walkList)
        _ = backup.exchangeTurn(now: 100, snapshot: snapshot.view, walkBudget: Limits.idleWalkBudget)
        XCTAssertEqual(backup.counters[.syncInstalled], 1)
        var listed: [FlowRecord] = []
        while let r = bx.outbound.pop() { listed.append(r) }
        XCTAssertEqual(listed.filter(\.isTemplate).map(\.client), [IPAddressBits(text: "198.18.1.10")!])
    }
}

/// IPv6 flows through connection sync: a master's NAT66 record as an IPv6 entry (STYPE_F_INET6)
/// on the wire and back, placed by the backup's directory on the worker its fanout program
/// gives the client.
final class SyncIPv6Tests: XCTestCase {
    func testAnIPv6RecordTravelsAndLandsOnItsClientsWorker() throws {
        let client = IPAddressBits(ipv6: "2001:db8:5::a7")!, vip = IPAddressBits(ipv6: "2001:db8:1::100")!
        let rip = IPAddressBits(ipv6: "2001:db8:2::11")!
        let record = FlowRecord(client: client, virtual: vip, real: rip, clientPort: 40_000, virtualPort: 80, realPort: 8080,
                                proto: IPProtocol.tcp, state: .established, flags: FlowFlags.nat, interface: 0,
                                peerMAC: MACAddress(bits: 0x0A), expiresIn: 899_500, realID: 7)
        let entry = try XCTUnwrap(SyncTranslate.entry(record))
        XCTAssertEqual(entry.addresses, .v6(client: SyncIPv6Address(client), virtual: SyncIPv6Address(vip),
                                            destination: SyncIPv6Address(rip)))
        let bytes = try XCTUnwrap(SyncCodec.encode([entry], syncID: 1).first)
        let decoded = try XCTUnwrap(SyncCodec.decode(bytes).entries.first)
        XCTAssertEqual(decoded, entry)

        var directory = SyncDirectory()
        directory.workers = 4
        directory.reals[SyncDirectory.RealKey(proto: IPProtocol.tcp, virtual: vip, virtualPort: 80, real: rip, realPort: 8080)] =
            SyncDirectory.Real(id: 7, nat: true)
        directory.vipInterface[vip] = 0
        let placed = try SyncTranslate.record(decoded, in: directory).get()
        XCTAssertEqual(placed.record.client, client)
        XCTAssertEqual(placed.record.real, rip)
        XCTAssertEqual(placed.record.realID, 7)
        XCTAssertEqual(placed.record.state, .established)
        XCTAssertEqual(placed.record.expiresIn, 900_000, "whole seconds, rounded up")
        XCTAssertEqual(placed.record.peerMAC, MACAddress(bits: 0x0A))
        XCTAssertEqual(placed.worker, FanoutProgram.worker(for6: client, workers: 4))
        directory.clientPrefix6 = 56
        XCTAssertEqual(try SyncTranslate.record(decoded, in: directory).get().worker,
                       FanoutProgram.worker(for6: client, workers: 4, clientPrefix6: 56))

        // Not in the backup's table: refused as an IPv4 one would be.
        XCTAssertEqual(try? SyncTranslate.record(decoded, in: SyncDirectory()).get().worker, nil)
        if case .failure(let why) = SyncTranslate.record(decoded, in: SyncDirectory()) { XCTAssertEqual(why, .unknownReal) }

        // An IPv6 entry naming IPv4-mapped addresses would pass for an IPv4 flow: refused.
        let mapped = IPAddressBits(v4: 0xC612_0164)
        var disguised = decoded
        disguised.addresses = .v6(client: SyncIPv6Address(mapped), virtual: SyncIPv6Address(mapped),
                                  destination: SyncIPv6Address(mapped))
        directory.reals[SyncDirectory.RealKey(proto: IPProtocol.tcp, virtual: mapped, virtualPort: 80, real: mapped,
                                              realPort: 8080)] = SyncDirectory.Real(id: 7, nat: true)
        if case .success = SyncTranslate.record(disguised, in: directory) { XCTFail("a mapped IPv6 entry was installed") }
    }
}
