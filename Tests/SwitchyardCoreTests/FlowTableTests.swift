import XCTest
@testable import SwitchyardCore

final class FlowTableTests: XCTestCase {
    func key(_ i: Int) -> FlowKey {
        FlowKey(source: 0xC612_0000 | UInt32(i & 0xFFFF), destination: vip.value, sourcePort: UInt16(1024 + i % 50_000),
                destinationPort: 80, proto: IPProtocol.tcp)
    }

    func testInsertLookupRemove() {
        var t = FlowTable(capacity: 100, key: HashKey(k0: 1, k1: 2))
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        for i in 0..<100 {
            let h = t.hash(key(i))
            XCTAssertNil(t.lookup(key(i), hash: h, now: 0, expired: &expired))
            _ = t.insert(key(i), hash: h, realID: UInt32(i), state: .synRecv, now: 0, expired: &expired, evicted: &evicted)
        }
        XCTAssertEqual(t.count, 100)
        for i in 0..<100 {
            let slot = t.lookup(key(i), hash: t.hash(key(i)), now: 1, expired: &expired)
            XCTAssertNotNil(slot)
            XCTAssertEqual(t[slot!].realID, UInt32(i))
        }
        let s = t.lookup(key(7), hash: t.hash(key(7)), now: 1, expired: &expired)!
        t.remove(at: s)
        XCTAssertNil(t.lookup(key(7), hash: t.hash(key(7)), now: 1, expired: &expired))
        XCTAssertEqual(t.count, 99)
        for i in 0..<100 where i != 7 {
            XCTAssertNotNil(t.lookup(key(i), hash: t.hash(key(i)), now: 1, expired: &expired), "flow \(i) survives")
        }
        XCTAssertEqual(expired, 0)
        XCTAssertEqual(evicted, 0)
    }

    /// Idle timeouts per state with an injected clock: a flow lives exactly its timeout.
    func testExpiryPerStateWithInjectedClock() {
        var timeouts = FlowTimeouts()
        timeouts.tcpSynRecv = 1_000
        timeouts.tcpEstablished = 10_000
        timeouts.udp = 5_000
        var t = FlowTable(capacity: 16, key: HashKey(k0: 3, k1: 4), timeouts: timeouts)
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        let a = key(1), b = key(2), c = key(3)
        _ = t.insert(a, hash: t.hash(a), realID: 1, state: .synRecv, now: 100, expired: &expired, evicted: &evicted)
        _ = t.insert(b, hash: t.hash(b), realID: 2, state: .established, now: 100, expired: &expired, evicted: &evicted)
        _ = t.insert(c, hash: t.hash(c), realID: 3, state: .udp, now: 100, expired: &expired, evicted: &evicted)
        XCTAssertNotNil(t.lookup(a, hash: t.hash(a), now: 1_100, expired: &expired), "at the timeout: alive")
        XCTAssertNil(t.lookup(a, hash: t.hash(a), now: 1_101, expired: &expired), "past it: gone")
        XCTAssertEqual(expired, 1)
        XCTAssertNotNil(t.lookup(c, hash: t.hash(c), now: 5_100, expired: &expired))
        XCTAssertNotNil(t.lookup(b, hash: t.hash(b), now: 10_100, expired: &expired))
        XCTAssertEqual(t.sweep(now: 20_000, budget: t.slotCount), 2, "the sweeper removes the rest")
        XCTAssertEqual(t.count, 0)
    }

    /// The clock wraps (UInt32 milliseconds, ~49 days) without expiring live flows.
    func testClockWrap() {
        var t = FlowTable(capacity: 4, key: HashKey(k0: 5, k1: 6))
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        let k = key(9)
        _ = t.insert(k, hash: t.hash(k), realID: 1, state: .established, now: UInt32.max - 10, expired: &expired,
                     evicted: &evicted)
        XCTAssertNotNil(t.lookup(k, hash: t.hash(k), now: 50, expired: &expired))
    }

    /// Full table: an expired flow is reused first, then the oldest half-open flow is evicted,
    /// then the oldest flow; counters say which, and the count never exceeds the capacity.
    func testFullTablePolicy() {
        var timeouts = FlowTimeouts()
        timeouts.tcpEstablished = 1_000_000
        timeouts.tcpSynRecv = 1_000_000
        var t = FlowTable(capacity: 8, key: HashKey(k0: 7, k1: 8), timeouts: timeouts)
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        for i in 0..<8 {
            _ = t.insert(key(i), hash: t.hash(key(i)), realID: UInt32(i), state: i == 5 ? .synRecv : .established,
                         now: UInt32(i * 10), expired: &expired, evicted: &evicted)
        }
        XCTAssertEqual(t.count, 8)
        // The table is small (16 slots), so the eviction window covers it all.
        _ = t.insert(key(100), hash: t.hash(key(100)), realID: 100, state: .synRecv, now: 100, expired: &expired,
                     evicted: &evicted)
        XCTAssertEqual(t.count, 8)
        XCTAssertEqual(evicted, 1)
        XCTAssertNil(t.lookup(key(5), hash: t.hash(key(5)), now: 100, expired: &expired), "the half-open flow went first")
        _ = t.insert(key(101), hash: t.hash(key(101)), realID: 101, state: .established, now: 110, expired: &expired,
                     evicted: &evicted)
        XCTAssertEqual(evicted, 2)
        XCTAssertNotNil(t.lookup(key(101), hash: t.hash(key(101)), now: 110, expired: &expired))
        // Now the only half-open flow is key(100), the newest: it still goes before older established ones.
        XCTAssertNil(t.lookup(key(100), hash: t.hash(key(100)), now: 110, expired: &expired))
        // A closing flow (key(6), TIME_WAIT, newer than key(0)) goes before older established ones.
        t.setState(t.lookup(key(6), hash: t.hash(key(6)), now: 110, expired: &expired)!, .timeWait)
        _ = t.insert(key(104), hash: t.hash(key(104)), realID: 104, state: .established, now: 115, expired: &expired,
                     evicted: &evicted)
        XCTAssertNil(t.lookup(key(6), hash: t.hash(key(6)), now: 115, expired: &expired), "then closing flows")
        XCTAssertNotNil(t.lookup(key(0), hash: t.hash(key(0)), now: 115, expired: &expired))
        _ = t.insert(key(102), hash: t.hash(key(102)), realID: 102, state: .established, now: 120, expired: &expired,
                     evicted: &evicted)
        XCTAssertNil(t.lookup(key(0), hash: t.hash(key(0)), now: 120, expired: &expired), "then the oldest")
        // An expired flow is reused instead of evicting.
        _ = t.insert(key(103), hash: t.hash(key(103)), realID: 103, state: .established, now: 2_000_000,
                     expired: &expired, evicted: &evicted)
        XCTAssertEqual(evicted, 4)
        XCTAssertEqual(expired, 1)
        XCTAssertEqual(t.count, 8)
    }

    /// Random inserts, removals, lookups and sweeps against a dictionary model: backward-shift
    /// deletion never loses or duplicates a flow.
    func testRandomOperationsAgainstModel() {
        var rng = SystemRandomNumberGenerator()
        var t = FlowTable(capacity: 600, key: .random())
        var model: [Int: UInt32] = [:]
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        for step in 0..<40_000 {
            let k = Int.random(in: 0..<1_000, using: &rng)
            let fk = key(k)
            let h = t.hash(fk)
            let slot = t.lookup(fk, hash: h, now: 0, expired: &expired)
            XCTAssertEqual(slot.map { t[$0].realID }, model[k], "step \(step)")
            if let slot, Bool.random(using: &rng) {
                t.remove(at: slot)
                model[k] = nil
            } else if slot == nil, model.count < 600 {
                _ = t.insert(fk, hash: h, realID: UInt32(step), state: .established, now: 0, expired: &expired,
                             evicted: &evicted)
                model[k] = UInt32(step)
            }
            XCTAssertEqual(t.count, model.count)
        }
        XCTAssertEqual(evicted, 0)
    }

    /// One sweep over every slot removes every expired flow, however their probe chains lie
    /// (removals shift later flows back into the slot just looked at).
    func testFullSweepRemovesEveryExpiredFlow() {
        for round in 0..<50 {
            var timeouts = FlowTimeouts()
            timeouts.tcpSynRecv = 10
            var t = FlowTable(capacity: 48, key: HashKey(k0: UInt64(round), k1: 99), timeouts: timeouts)
            var expired: UInt64 = 0
            var evicted: UInt64 = 0
            for i in 0..<48 {
                _ = t.insert(key(i * 7 + round), hash: t.hash(key(i * 7 + round)), realID: 0,
                             state: i % 3 == 0 ? .established : .synRecv, now: 0, expired: &expired, evicted: &evicted)
            }
            t.sweep(now: 100, budget: t.slotCount)
            XCTAssertEqual(t.count, 16, "round \(round): only the established flows stay")
        }
    }

    func testTCPStateMachine() {
        XCTAssertEqual(FlowState.none.next(tcpFlags: TCPFlags.syn), .synRecv)
        XCTAssertEqual(FlowState.synRecv.next(tcpFlags: TCPFlags.ack), .established)
        XCTAssertEqual(FlowState.established.next(tcpFlags: TCPFlags.ack | TCPFlags.fin), .finWait)
        XCTAssertEqual(FlowState.finWait.next(tcpFlags: TCPFlags.ack), .finWait)
        XCTAssertEqual(FlowState.established.next(tcpFlags: TCPFlags.rst), .close)
        XCTAssertEqual(FlowState.close.next(tcpFlags: TCPFlags.syn), .synRecv)
        XCTAssertEqual(FlowState.none.next(tcpFlags: TCPFlags.ack), .established, "mid-stream pickup")
    }
}
