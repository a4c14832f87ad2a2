import XCTest
@testable import SwitchyardCore

final class SchedulerTests: XCTestCase {
    func snapshot(_ kind: SchedulerKind, weights: [Int], macs: [MACAddress?]? = nil) -> ForwardingSnapshot {
        let reals = weights.enumerated().map { i, w in
            RealServerSpec(id: UInt32(i), address: IPv4Address(0xC612_0100 + UInt32(i)), port: 80, weight: w,
                           mac: macs.map { $0[i] } ?? MACAddress(bits: 0x0200_0000_0100 + UInt64(i)))
        }
        return ForwardingSnapshot(services: [ServiceSpec(id: 3, proto: IPProtocol.tcp, vip: vip, port: 80, scheduler: kind,
                                                         reals: reals)],
                                  schedulingKey: .defaultScheduling, maglevTableSize: 1009)
    }

    func picks(_ s: ForwardingSnapshot, _ n: Int, hash: (Int) -> UInt64 = { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }) -> [UInt32?] {
        let service = s.view.service(proto: IPProtocol.tcp, vip: vip.value, port: 80)!
        var cursor = SchedulerCursor()
        return (0..<n).map {
            service.pointee.scheduler.pick(service, in: s.view, request: ScheduleRequest(flowHash: hash($0), sourceHash: hash($0)),
                                           cursor: &cursor)
        }
    }

    func testRoundRobinCyclesAndSkipsQuiescent() {
        XCTAssertEqual(picks(snapshot(.roundRobin, weights: [1, 1, 1]), 6), [0, 1, 2, 0, 1, 2])
        XCTAssertEqual(picks(snapshot(.roundRobin, weights: [1, 0, 1]), 4), [0, 2, 0, 2])
        XCTAssertEqual(picks(snapshot(.roundRobin, weights: [0, 0]), 2), [nil, nil])
    }

    /// ip_vs_wrr's sequence for weights 4, 3, 2: a a b a b c a b c (one cycle of 9).
    func testWeightedRoundRobinSequence() {
        let seq = picks(snapshot(.weightedRoundRobin, weights: [4, 3, 2]), 18).map { $0! }
        XCTAssertEqual(Array(seq.prefix(9)), [0, 0, 1, 0, 1, 2, 0, 1, 2])
        XCTAssertEqual(Array(seq.suffix(9)), Array(seq.prefix(9)))
        XCTAssertEqual(picks(snapshot(.weightedRoundRobin, weights: [0, 5]), 3), [1, 1, 1])
    }

    func testSourceHashSameClientSameServer() {
        let s = snapshot(.sourceHash, weights: [1, 1, 1])
        let same = picks(s, 50, hash: { _ in 12345 })
        XCTAssertEqual(Set(same.map { $0! }).count, 1)
        let spread = picks(s, 3000)
        XCTAssertEqual(Set(spread.map { $0! }), [0, 1, 2])
    }

    func testUnresolvedMACTakesNoNewFlows() {
        let s = snapshot(.maglev, weights: [1, 1], macs: [nil, MACAddress("02:00:00:00:00:01")!])
        XCTAssertEqual(Set(picks(s, 1000).map { $0! }), [1])
        XCTAssertEqual(Set(picks(snapshot(.roundRobin, weights: [1, 1], macs: [nil, rsMAC]), 10).map { $0! }), [1])
    }

    func testSchedulerNames() {
        for k in SchedulerKind.allCases { XCTAssertEqual(SchedulerKind(name: k.name), k) }
        XCTAssertNil(SchedulerKind(name: "lblc"))
    }
}
