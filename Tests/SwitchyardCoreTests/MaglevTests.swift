import XCTest
@testable import SwitchyardCore

final class MaglevTests: XCTestCase {
    func backends(_ n: Int, weight: (Int) -> Int = { _ in 1 }, size: Int = Maglev.defaultTableSize) -> [Maglev.Backend] {
        (0..<n).map {
            Maglev.Backend(id: Int32($0), address: 0xC612_0100 + UInt32($0), port: 80, weight: weight($0), tableSize: size,
                           key: .defaultScheduling)
        }
    }

    func flowHashes(_ n: Int) -> [UInt64] {
        (0..<n).map { SipHash.hash(UInt64($0) << 20 | 0xC612_0000, UInt64($0 % 65_000) << 48 | 80 << 32 | 6,
                                   key: .defaultScheduling) }
    }

    func lookups(_ table: [Int32], _ hashes: [UInt64]) -> [Int32] {
        hashes.map { table[Maglev.slot($0, size: table.count)] }
    }

    func testSameInputSameTableWhateverTheOrder() {
        let b = backends(7)
        let t1 = Maglev.buildTable(b, size: Maglev.defaultTableSize)
        let t2 = Maglev.buildTable(b.reversed(), size: Maglev.defaultTableSize)
        XCTAssertEqual(t1, t2)
        XCTAssertFalse(t1.contains(-1))
    }

    func testBalanceWithinFivePercentForEqualWeights() {
        for n in [2, 3, 5, 10] {
            let table = Maglev.buildTable(backends(n), size: Maglev.defaultTableSize)
            let picks = lookups(table, flowHashes(100_000))
            let expected = 100_000.0 / Double(n)
            for id in 0..<n {
                let got = Double(picks.filter { $0 == Int32(id) }.count)
                XCTAssertLessThan(abs(got - expected) / expected, 0.05, "n=\(n) backend \(id): \(got) vs \(expected)")
            }
        }
    }

    func testRemovingOneMovesAtMostOneNthPlusTwoPercent() {
        for n in [3, 5, 10, 20] {
            let all = backends(n)
            let hashes = flowHashes(100_000)
            let before = lookups(Maglev.buildTable(all, size: Maglev.defaultTableSize), hashes)
            let after = lookups(Maglev.buildTable(all.filter { $0.id != 1 }, size: Maglev.defaultTableSize), hashes)
            let moved = zip(before, after).filter { $0 != $1 }.count
            let share = Double(moved) / 100_000
            XCTAssertLessThanOrEqual(share, 1.0 / Double(n) + 0.02, "n=\(n): \(share) moved")
            // Every flow of the removed backend moved, of course.
            XCTAssertFalse(after.contains(1))
        }
    }

    func testAddingOneMovesAtMostOneNthPlusTwoPercent() {
        let n = 10
        let hashes = flowHashes(100_000)
        let before = lookups(Maglev.buildTable(backends(n - 1), size: Maglev.defaultTableSize), hashes)
        let after = lookups(Maglev.buildTable(backends(n), size: Maglev.defaultTableSize), hashes)
        let share = Double(zip(before, after).filter { $0 != $1 }.count) / 100_000
        XCTAssertLessThanOrEqual(share, 1.0 / Double(n) + 0.02)
    }

    func testWeightsProportional() {
        let weights = [1, 2, 3, 4]
        let table = Maglev.buildTable(backends(4, weight: { weights[$0] }), size: Maglev.defaultTableSize)
        let picks = lookups(table, flowHashes(100_000))
        for id in 0..<4 {
            let expected = 100_000.0 * Double(weights[id]) / 10
            let got = Double(picks.filter { $0 == Int32(id) }.count)
            XCTAssertLessThan(abs(got - expected) / expected, 0.05, "backend \(id) weight \(weights[id])")
        }
    }

    func testWeightZeroGetsNothingAndAllZeroIsEmpty() {
        let table = Maglev.buildTable(backends(3, weight: { $0 == 0 ? 0 : 5 }), size: 251)
        XCTAssertFalse(table.contains(0))
        XCTAssertFalse(table.contains(-1))
        XCTAssertEqual(Maglev.buildTable(backends(2, weight: { _ in 0 }, size: 251), size: 251), [Int32](repeating: -1, count: 251))
    }

    func testPrimeCheck() {
        XCTAssertTrue(Maglev.isPrime(65537))
        XCTAssertTrue(Maglev.isPrime(251))
        XCTAssertFalse(Maglev.isPrime(65536))
        XCTAssertFalse(Maglev.isPrime(1))
    }
}
