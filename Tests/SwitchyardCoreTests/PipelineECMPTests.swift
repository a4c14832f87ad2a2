// Behind an ECMP router: a flow the router moves from one balancer to another keeps its real
// server, whatever order the balancers learned their real servers in, and an ICMP error about a
// flow this balancer never saw goes where the flow's own packets would.
import XCTest
@testable import SwitchyardCore

final class PipelineECMPTests: XCTestCase {
    /// Two real servers, 198.18.0.11 and .12, listed in `order` with ids in that order.
    func balancer(_ order: [UInt32], scheduler: SchedulerKind = .maglev) -> ForwardingSnapshot {
        ForwardingSnapshot(services: [ServiceSpec(
            id: 0, proto: IPProtocol.tcp, vip: vip, port: 80, scheduler: scheduler,
            reals: order.enumerated().map { id, host in
                RealServerSpec(id: UInt32(id), address: IPv4Address(0xC612_0000 + host), port: 80, weight: 1,
                               mac: MACAddress(bits: 0x0200_0000_0000 + UInt64(host)))
            })], schedulingKey: .defaultScheduling, maglevTableSize: 1009)
    }

    func destinationMAC(_ frame: [UInt8]) -> UInt64 { frame.prefix(6).reduce(0) { $0 << 8 | UInt64($1) } }

    func testAFlowMovedToAnotherBalancerKeepsItsRealServer() {
        let first = balancer([11, 12])
        let second = balancer([12, 11])
        var a = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000, flowHashKey: .random()))
        var b = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000, flowHashKey: .random()))
        var servers = Set<UInt64>()
        for c in 0..<200 {
            let client = 0xC612_6000 + UInt32(c)
            let syn = tcpFrame(client: client, port: 40_000, to: vip.value, dport: 80)
            let (v, started) = feed(&a, syn, snapshot: first)
            XCTAssertEqual(v, .forward(egress: 0))
            // The router moves the flow: its next packets, no SYN among them, reach b.
            let ack = tcpFrame(client: client, port: 40_000, to: vip.value, dport: 80, flags: TCPFlags.ack)
            let (w, moved) = feed(&b, ack, snapshot: second)
            XCTAssertEqual(w, .forward(egress: 0), "a packet with no flow here is scheduled, not dropped")
            XCTAssertEqual(destinationMAC(moved), destinationMAC(started), "client \(c) keeps its real server")
            XCTAssertEqual(destinationMAC(feed(&b, ack, snapshot: second).1), destinationMAC(started))
            servers.insert(destinationMAC(started))
        }
        XCTAssertEqual(servers.count, 2)
        XCTAssertEqual(b.counters[.newFlows], 200)
        XCTAssertEqual(b.counters[.flowHits], 200, "the moved flow is kept on b")
    }

    /// An ICMP error from a router on the way to the client, about a reply (VIP:80 → client),
    /// sent to the VIP: ECMP may bring it to a balancer that never saw the flow.
    func icmpError(client: UInt32, clientPort: UInt16) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: 14 + 20 + 8 + 20 + 8)
        f.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            lbMAC.store(to: p, at: 0)
            MACAddress("02:00:00:00:00:0b")!.store(to: p, at: 6)
            store16(p, 12, 0x0800)
            p.storeBytes(of: 0x45, toByteOffset: 14, as: UInt8.self)
            store16(p, 16, 20 + 8 + 28)
            p.storeBytes(of: 64, toByteOffset: 22, as: UInt8.self)
            p.storeBytes(of: IPProtocol.icmp, toByteOffset: 23, as: UInt8.self)
            store32(p, 26, 0xC612_00FE)
            store32(p, 30, vip.value)
            store16(p, 24, InternetChecksum.checksum(p + 14, 20))
            // Fragmentation needed, next-hop MTU 1400.
            p.storeBytes(of: 3, toByteOffset: 34, as: UInt8.self)
            p.storeBytes(of: 4, toByteOffset: 35, as: UInt8.self)
            store16(p, 40, 1400)
            // The quote: VIP:80 → client, TCP, its first 8 bytes.
            p.storeBytes(of: 0x45, toByteOffset: 42, as: UInt8.self)
            store16(p, 44, 1440)
            p.storeBytes(of: 63, toByteOffset: 50, as: UInt8.self)
            p.storeBytes(of: IPProtocol.tcp, toByteOffset: 51, as: UInt8.self)
            store32(p, 54, vip.value)
            store32(p, 58, client)
            store16(p, 52, InternetChecksum.checksum(p + 42, 20))
            store16(p, 62, 80)
            store16(p, 64, clientPort)
            store16(p, 36, InternetChecksum.checksum(p + 34, 8 + 28))
        }
        return f
    }

    func testAnICMPErrorAboutAnotherBalancersFlowGoesToItsRealServer() {
        for scheduler in [SchedulerKind.maglev, .sourceHash] {
            let first = balancer([11, 12], scheduler: scheduler)
            let second = balancer([12, 11], scheduler: scheduler)
            var a = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000))
            var b = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000))
            var servers = Set<UInt64>()
            for c in 0..<100 {
                let client = 0xC612_7000 + UInt32(c)
                let (_, started) = feed(&a, tcpFrame(client: client, port: 41_000, to: vip.value, dport: 80), snapshot: first)
                let (v, error) = feed(&b, icmpError(client: client, clientPort: 41_000), snapshot: second)
                XCTAssertEqual(v, .forward(egress: 0))
                XCTAssertEqual(destinationMAC(error), destinationMAC(started), "\(scheduler): client \(c)'s error follows its flow")
                servers.insert(destinationMAC(started))
            }
            XCTAssertEqual(servers.count, 2, "\(scheduler)")
            XCTAssertEqual(b.counters[.newFlows], 0, "an error starts no flow")
        }

        // A scheduler without a table has nothing to ask: the error is dropped as before.
        var c = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 1_000))
        let (v, _) = feed(&c, icmpError(client: 0xC612_7000, clientPort: 41_000), snapshot: balancer([11, 12], scheduler: .roundRobin))
        XCTAssertEqual(v, .drop(.icmpNoFlow))
    }
}
