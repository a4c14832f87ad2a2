// Tracing one client: what each of its packets met in the pipeline, read back from the
// worker's ring; nobody else's packets recorded; the ring's overflow counted, never torn.
import Glibc
import Synchronization
import XCTest
@testable import SwitchyardCore

final class FlowTraceTests: XCTestCase {
    let client: UInt32 = 0xC612_1005  // 198.18.16.5
    let other: UInt32 = 0xC612_1006

    func snapshot(trace: UInt32?, method: ForwardingMethod = .dr) -> ForwardingSnapshot {
        ForwardingSnapshot(services: [ServiceSpec(
            id: 0, proto: IPProtocol.tcp, vip: vip, port: 80, scheduler: .maglev, method: method,
            reals: [RealServerSpec(id: 3, address: IPv4Address("198.18.0.11")!, port: method == .nat ? 8080 : 80,
                                   weight: 1, mac: rsMAC)])],
            schedulingKey: .defaultScheduling, maglevTableSize: 251, traceClient: trace.map(IPv4Address.init))
    }

    func testEachPacketOfTheTracedClientAndNothingElse() {
        let trace = FlowTrace(workers: 1)
        var config = PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000)
        config.trace = trace
        var p = Pipeline(config)
        let s = snapshot(trace: client)
        XCTAssertEqual(feed(&p, tcpFrame(client: client, port: 40_000, to: vip.value, dport: 80), now: 5, snapshot: s).0,
                       .forward(egress: 0))
        _ = feed(&p, tcpFrame(client: client, port: 40_000, to: vip.value, dport: 80, flags: TCPFlags.ack), now: 6, snapshot: s)
        _ = feed(&p, tcpFrame(client: other, port: 40_000, to: vip.value, dport: 80), now: 7, snapshot: s)
        _ = feed(&p, tcpFrame(client: client, port: 40_001, to: vip.value, dport: 81), now: 8, snapshot: s)

        let (events, lost) = trace.read()
        XCTAssertEqual(lost, 0)
        XCTAssertEqual(events.map(\.event.kind), [.newFlow, .flowHit, .dropped], "the other client is not traced")
        XCTAssertEqual(events[0].event.realID, 3)
        XCTAssertEqual(events[0].event.state, .synRecv)
        XCTAssertEqual(events[0].event.egress, 0)
        XCTAssertEqual(events[0].event.time, 5)
        XCTAssertEqual(events[0].event.source, client)
        XCTAssertEqual(events[0].event.destination, vip.value, "as it arrived, before any rewrite")
        XCTAssertEqual(events[1].event.state, .established)
        XCTAssertEqual(events[2].event.reason, .noService)
        XCTAssertNil(events[2].event.realID)
        XCTAssertTrue(trace.read().events.isEmpty, "each event is read once")
    }

    func testANATReplyToTheTracedClient() {
        let trace = FlowTrace(workers: 1)
        var config = PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000)
        config.trace = trace
        var p = Pipeline(config)
        let s = snapshot(trace: client, method: .nat)
        _ = feed(&p, tcpFrame(client: client, port: 40_000, to: vip.value, dport: 80), now: 1, snapshot: s)
        let reply = tcpFrame(client: IPv4Address("198.18.0.11")!.value, port: 8080, to: client, dport: 40_000,
                             flags: TCPFlags.syn | TCPFlags.ack)
        XCTAssertEqual(feed(&p, reply, now: 2, snapshot: s).0, .forward(egress: 0))
        let events = trace.read().events.map(\.event)
        XCTAssertEqual(events.map(\.kind), [.newFlow, .reply])
        XCTAssertEqual(events[1].realID, 3)
        XCTAssertEqual(events[1].source, IPv4Address("198.18.0.11")!.value)
    }

    func testNoTraceWithoutAClientAndTheSameVerdictsWithOne() {
        let trace = FlowTrace(workers: 1)
        var config = PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000, flowHashKey: HashKey(k0: 0, k1: 1))
        config.trace = trace
        var plain = Pipeline(config)
        var traced = Pipeline(config)
        for (i, flags) in [TCPFlags.syn, TCPFlags.ack, TCPFlags.fin | TCPFlags.ack, TCPFlags.rst].enumerated() {
            let frame = tcpFrame(client: client, port: 40_000, to: vip.value, dport: 80, flags: flags)
            let a = feed(&plain, frame, now: UInt32(i), snapshot: snapshot(trace: nil))
            let b = feed(&traced, frame, now: UInt32(i), snapshot: snapshot(trace: client))
            XCTAssertEqual(a.0, b.0)
            XCTAssertEqual(a.1, b.1, "tracing changes nothing in the frame")
        }
        XCTAssertEqual(trace.read().events.count, 4, "only the traced pipeline wrote")
    }

    func testAnOverflowIsCountedAndTheNewestKept() {
        let trace = FlowTrace(workers: 2)
        for i in 0..<(FlowTrace.capacity + 44) {
            FlowTrace.record(TraceEvent(time: UInt32(i), kind: .passed, proto: 6, source: 1, destination: 2, sourcePort: 3,
                                        destinationPort: 4), in: trace.row(1))
        }
        let (events, lost) = trace.read()
        XCTAssertEqual(lost, 44)
        XCTAssertEqual(events.count, FlowTrace.capacity)
        XCTAssertEqual(events.first?.event.time, 44)
        XCTAssertEqual(events.last?.event.time, UInt32(FlowTrace.capacity + 43))
        XCTAssertTrue(events.allSatisfy { $0.worker == 1 })
    }

    func testEventWordsRoundTrip() {
        var e = TraceEvent(time: 123_456, kind: .dropped, proto: 17, source: 0xC612_0001, destination: 0xC612_0064,
                           sourcePort: 65_535, destinationPort: 53)
        XCTAssertEqual(TraceEvent(words: e.words), e)
        e.reason = .noRealServer
        e.realID = 0
        e.state = .udp
        e.egress = 3
        XCTAssertEqual(TraceEvent(words: e.words), e)
    }

    /// A writer recording flat out while the reader reads: every event read is whole (its
    /// fields agree with each other), and read plus lost is what was written.
    func testAReaderBesideAWriterGetsWholeEventsOrCountsThemLost() {
        let trace = FlowTrace(workers: 1)
        let total = 200_000
        final class Writer: @unchecked Sendable {
            let row: UnsafeMutablePointer<Atomic<UInt64>>
            let total: Int
            init(_ row: UnsafeMutablePointer<Atomic<UInt64>>, _ total: Int) { (self.row, self.total) = (row, total) }
        }
        let writer = Writer(trace.row(0), total)
        var thread = pthread_t()
        let box = Unmanaged.passRetained(writer).toOpaque()
        pthread_create(&thread, nil, { raw in
            let w = Unmanaged<Writer>.fromOpaque(raw!).takeRetainedValue()
            for i in 0..<w.total {
                // Every field derived from i: a torn read mixes two events and shows.
                var e = TraceEvent(time: UInt32(i), kind: .flowHit, proto: 6, source: UInt32(i), destination: ~UInt32(i),
                                   sourcePort: UInt16(truncatingIfNeeded: i), destinationPort: UInt16(truncatingIfNeeded: ~i))
                e.realID = UInt32(i) ^ 0x5A5A
                FlowTrace.record(e, in: w.row)
            }
            return nil
        }, box)
        var read = 0
        var lost: UInt64 = 0
        var torn = 0
        var last: UInt32 = 0
        var ordered = true
        while read + Int(lost) < total {
            let (events, l) = trace.read()
            lost += l
            for (_, e) in events {
                read += 1
                if e.source != e.time || e.destination != ~e.time || e.sourcePort != UInt16(truncatingIfNeeded: e.time)
                    || e.realID != e.time ^ 0x5A5A { torn += 1 }
                if read > 1 && e.time <= last { ordered = false }
                last = e.time
            }
        }
        pthread_join(thread, nil)
        XCTAssertEqual(torn, 0, "no event is read torn")
        XCTAssertTrue(ordered, "events come in the order they were written")
        XCTAssertEqual(read + Int(lost), total)
        XCTAssertGreaterThan(read, 0)
    }
}
