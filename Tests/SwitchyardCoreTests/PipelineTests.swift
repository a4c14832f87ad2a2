import XCTest
@testable import SwitchyardCore

final class PipelineTests: XCTestCase {
    func twoServers(weights: [Int] = [1, 1], scheduler: SchedulerKind = .maglev, ids: [UInt32] = [0, 1]) -> ForwardingSnapshot {
        ForwardingSnapshot(services: [ServiceSpec(
            id: 0, proto: IPProtocol.tcp, vip: vip, port: 80, scheduler: scheduler,
            reals: zip(ids, weights).map { id, w in
                RealServerSpec(id: id, address: IPv4Address(0xC612_000B + id), port: 80, weight: w,
                               mac: MACAddress(bits: 0x0200_0000_0011 + UInt64(id)))
            })], schedulingKey: .defaultScheduling, maglevTableSize: 1009)
    }

    func destinationMAC(_ frame: [UInt8]) -> UInt64 { frame.prefix(6).reduce(0) { $0 << 8 | UInt64($1) } }

    func testFlowsStickAndSpread() {
        let s = twoServers()
        var p = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 10_000))
        var perServer: [UInt64: Int] = [:]
        for client in 0..<2_000 {
            let syn = tcpFrame(client: 0xC612_1000 + UInt32(client), port: 40_000, to: vip.value, dport: 80)
            let (v1, out1) = feed(&p, syn, now: 1, snapshot: s)
            XCTAssertEqual(v1, .forward(egress: 0))
            let ack = tcpFrame(client: 0xC612_1000 + UInt32(client), port: 40_000, to: vip.value, dport: 80, flags: TCPFlags.ack)
            let (v2, out2) = feed(&p, ack, now: 2, snapshot: s)
            XCTAssertEqual(v2, .forward(egress: 0))
            XCTAssertEqual(destinationMAC(out1), destinationMAC(out2), "a flow stays on its real server")
            perServer[destinationMAC(out1), default: 0] += 1
        }
        XCTAssertEqual(perServer.count, 2)
        for (_, n) in perServer { XCTAssertGreaterThan(n, 800) }
        XCTAssertEqual(p.counters[.newFlows], 2_000)
        XCTAssertEqual(p.counters[.flowHits], 2_000)
        XCTAssertEqual(p.counters[.forwarded], 4_000)
        XCTAssertEqual(p.flows[p.flows.lookup(FlowKey(source: 0xC612_1000, destination: vip.value, sourcePort: 40_000,
                                                      destinationPort: 80, proto: IPProtocol.tcp),
                                              hash: p.flows.hash(FlowKey(source: 0xC612_1000, destination: vip.value,
                                                                         sourcePort: 40_000, destinationPort: 80,
                                                                         proto: IPProtocol.tcp)),
                                              now: 3, expired: &dummy)!].state, .established)
    }
    var dummy: UInt64 = 0

    /// The worker's flow hint: the key and hash the lookup will use, its home slot, nothing for
    /// frames of another shape, and a hint for another key is ignored.
    func testFlowHints() {
        let s = twoServers()
        var p = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000))
        let key = FlowKey(source: 0xC612_1000, destination: vip.value, sourcePort: 40_000, destinationPort: 80,
                          proto: IPProtocol.tcp)
        func hint(_ frame: [UInt8]) -> FlowHint {
            var f = frame
            return f.withUnsafeMutableBytes { p.flowHint($0.baseAddress!, length: $0.count, snapshot: s.view) }
        }
        let syn = tcpFrame(client: 0xC612_1000, port: 40_000, to: vip.value, dport: 80)
        let h = hint(syn)
        XCTAssertEqual(h.key, key)
        XCTAssertEqual(h.hash, p.flows.hash(key))
        XCTAssertEqual(p.flows.homeSlot(hash: h.hash),
                       UnsafeRawPointer(p.flows.v4.slots + (Int(h.hash) & (p.flows.v4.slotCount - 1))))
        // Not to a VIP (and no NAT service), ICMP, a fragment, a tagged frame, too short: none.
        XCTAssertEqual(hint(tcpFrame(client: 0xC612_1000, port: 1, to: 0xC612_0063, dport: 80)).hash, 0)
        XCTAssertEqual(hint(tcpFrame(client: 0xC612_1000, port: 1, to: vip.value, dport: 80, proto: IPProtocol.icmp)).hash, 0)
        var fragment = syn
        fragment[20] = 0x20  // MF
        XCTAssertEqual(hint(fragment).hash, 0)
        let tagged = Array(syn[0..<12]) + [0x81, 0x00, 0x00, 0x07] + Array(syn[12...])
        XCTAssertEqual(hint(tagged).hash, 0)
        let short = Array(syn.prefix(40))
        XCTAssertEqual(hint(short).hash, 0)

        // The first packet is bound with a hint for another flow: it must not be filed under
        // that flow's hash, so the next packet (no hint) finds it.
        let other = hint(tcpFrame(client: 0xC612_1001, port: 40_000, to: vip.value, dport: 80))
        var buffer = syn
        let v = buffer.withUnsafeMutableBytes {
            p.process($0.baseAddress!, length: $0.count, checksumPending: false, now: 1, snapshot: s.view, hint: other)
        }
        XCTAssertEqual(v, .forward(egress: 0))
        _ = feed(&p, tcpFrame(client: 0xC612_1000, port: 40_000, to: vip.value, dport: 80, flags: TCPFlags.ack), now: 2,
                 snapshot: s)
        XCTAssertEqual(p.counters[.newFlows], 1)
        XCTAssertEqual(p.counters[.flowHits], 1)
    }

    func testWeightZeroGetsNoNewFlowsButKeepsItsOwn() {
        var p = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000))
        let both = twoServers(scheduler: .roundRobin)
        // Two flows, one on each server.
        let a = tcpFrame(client: 0xC612_2000, port: 1, to: vip.value, dport: 80)
        let b = tcpFrame(client: 0xC612_2001, port: 1, to: vip.value, dport: 80)
        let (_, outA) = feed(&p, a, snapshot: both)
        let (_, outB) = feed(&p, b, snapshot: both)
        XCTAssertNotEqual(destinationMAC(outA), destinationMAC(outB))
        // Server 1 goes quiescent.
        let quiescent = twoServers(weights: [1, 0], scheduler: .roundRobin)
        let server1 = destinationMAC(outB) == 0x0200_0000_0012 ? outB : outA
        let flowOn1 = destinationMAC(outB) == 0x0200_0000_0012 ? b : a
        let (_, again) = feed(&p, flowOn1, now: 5, snapshot: quiescent)
        XCTAssertEqual(destinationMAC(again), destinationMAC(server1), "an existing flow stays")
        for c in 0..<100 {
            let (_, out) = feed(&p, tcpFrame(client: 0xC612_3000 + UInt32(c), port: 2, to: vip.value, dport: 80), now: 6,
                               snapshot: quiescent)
            XCTAssertEqual(destinationMAC(out), 0x0200_0000_0011, "new flows avoid the quiescent server")
        }
    }

    func testFlowToRemovedServerIsRescheduled() {
        var p = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000))
        let s = twoServers()
        var moved = 0
        for c in 0..<200 {
            let f = tcpFrame(client: 0xC612_4000 + UInt32(c), port: 3, to: vip.value, dport: 80, flags: TCPFlags.ack)
            _ = feed(&p, f, snapshot: s)
        }
        let onlyZero = twoServers(weights: [1], ids: [0])
        for c in 0..<200 {
            let f = tcpFrame(client: 0xC612_4000 + UInt32(c), port: 3, to: vip.value, dport: 80, flags: TCPFlags.ack)
            let (v, out) = feed(&p, f, now: 10, snapshot: onlyZero)
            XCTAssertEqual(v, .forward(egress: 0))
            XCTAssertEqual(destinationMAC(out), 0x0200_0000_0011)
            moved += 1
        }
        XCTAssertEqual(moved, 200)
        XCTAssertGreaterThan(p.counters[.newFlows], 200, "flows of the removed server were scheduled again")
    }

    func testNoRealServerAndNoService() {
        var p = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 100))
        let none = twoServers(weights: [0, 0])
        let (v, out) = feed(&p, tcpFrame(client: 1, port: 1, to: vip.value, dport: 80), snapshot: none)
        XCTAssertEqual(v, .drop(.noRealServer))
        XCTAssertEqual(out, tcpFrame(client: 1, port: 1, to: vip.value, dport: 80), "a dropped frame is not modified")
        let (v2, _) = feed(&p, tcpFrame(client: 1, port: 1, to: vip.value, dport: 81), snapshot: none)
        XCTAssertEqual(v2, .drop(.noService))
        let (v3, _) = feed(&p, tcpFrame(client: 1, port: 1, to: vip.value, dport: 80, proto: IPProtocol.udp), snapshot: none)
        XCTAssertEqual(v3, .drop(.noService), "UDP to a TCP-only VIP:port")
    }

    func testTCPAndUDPOnOneVIPPortAreTwoServices() {
        let s = ForwardingSnapshot(services: [
            ServiceSpec(id: 0, proto: IPProtocol.tcp, vip: vip, port: 53, scheduler: .roundRobin,
                        reals: [RealServerSpec(id: 0, address: IPv4Address(1), port: 53, weight: 1, mac: MACAddress(bits: 0xA))]),
            ServiceSpec(id: 1, proto: IPProtocol.udp, vip: vip, port: 53, scheduler: .roundRobin,
                        reals: [RealServerSpec(id: 1, address: IPv4Address(2), port: 53, weight: 1, mac: MACAddress(bits: 0xB))]),
        ], schedulingKey: .defaultScheduling, maglevTableSize: 251)
        var p = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 100))
        let (_, t) = feed(&p, tcpFrame(client: 9, port: 9, to: vip.value, dport: 53), snapshot: s)
        let (_, u) = feed(&p, tcpFrame(client: 9, port: 9, to: vip.value, dport: 53, proto: IPProtocol.udp), snapshot: s)
        XCTAssertEqual(destinationMAC(t), 0xA)
        XCTAssertEqual(destinationMAC(u), 0xB)
    }

    /// Every flow sees the same real server from any pipeline sharing the scheduling key
    /// (a restart, or a second LB), whatever their flow-table keys.
    func testSchedulingIsStableAcrossPipelines() {
        let s = twoServers()
        var a = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000, flowHashKey: .random()))
        var b = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000, flowHashKey: .random()))
        for c in 0..<300 {
            let f = tcpFrame(client: 0xC612_5000 + UInt32(c), port: UInt16(c), to: vip.value, dport: 80, flags: TCPFlags.ack)
            XCTAssertEqual(feed(&a, f, snapshot: s).1, feed(&b, f, snapshot: s).1)
        }
    }

    /// Larger than the MTU: TCP is forwarded (the worker cuts it with TCPSegmenter), anything
    /// else is dropped and counted.
    func testOversizeFrames() {
        var p = Pipeline(PipelineConfig(sourceMAC: lbMAC, mtu: 20, flowCapacity: 10))
        let s = ForwardingSnapshot(services: [
            ServiceSpec(id: 0, proto: IPProtocol.udp, vip: vip, port: 80, scheduler: .roundRobin,
                        reals: [RealServerSpec(id: 0, address: IPv4Address(1), port: 80, weight: 1, mac: rsMAC)]),
            ServiceSpec(id: 1, proto: IPProtocol.tcp, vip: vip, port: 80, scheduler: .roundRobin,
                        reals: [RealServerSpec(id: 1, address: IPv4Address(1), port: 80, weight: 1, mac: rsMAC)]),
        ], schedulingKey: .defaultScheduling, maglevTableSize: 251)
        let (udp, _) = feed(&p, tcpFrame(client: 1, port: 1, to: vip.value, dport: 80, proto: IPProtocol.udp), snapshot: s)
        XCTAssertEqual(udp, .drop(.oversize))
        let (tcp, _) = feed(&p, tcpFrame(client: 1, port: 1, to: vip.value, dport: 80), snapshot: s)
        XCTAssertEqual(tcp, .forward(egress: 0))
    }
}
