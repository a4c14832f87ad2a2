import XCTest
import SwitchyardCore
@testable import SwitchyardIO

final class HugePagesTests: XCTestCase {
    /// The system's THP mode ("always", "madvise" or "never"), or nil without THP.
    func transparentHugePageMode() -> String? {
        guard let text = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8),
              let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]")
        else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    func testMappingIsAlignedWritableAndFreed() {
        let bytes = 5 << 20 + 123
        let p = HugePages.slotMemory.allocate(bytes)
        XCTAssertEqual(UInt(bitPattern: p) % UInt(2 << 20), 0, "mapping starts on a 2 MiB boundary")
        p.storeBytes(of: 0xAB, toByteOffset: bytes - 1, as: UInt8.self)
        p.storeBytes(of: 0xCD, toByteOffset: 0, as: UInt8.self)
        XCTAssertEqual(p.load(fromByteOffset: bytes - 1, as: UInt8.self), 0xAB)
        HugePages.slotMemory.deallocate(p, bytes)
    }

    func testFlowTableOnHugePages() throws {
        let before = HugePages.anonymousHugeBytes() ?? 0
        var table = FlowTable(capacity: 1 << 20, key: HashKey(k0: 1, k1: 2), memory: HugePages.slotMemory)
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        for i in 0..<10_000 {
            let k = FlowKey(source: 0xC612_0000 | UInt32(i), destination: 0xC612_0064, sourcePort: UInt16(i & 0xFFFF),
                            destinationPort: 80, proto: 6)
            _ = table.insert(k, hash: table.hash(k), realID: UInt32(i % 7), state: .established, now: 1,
                             expired: &expired, evicted: &evicted)
        }
        for i in stride(from: 0, to: 10_000, by: 97) {
            let k = FlowKey(source: 0xC612_0000 | UInt32(i), destination: 0xC612_0064, sourcePort: UInt16(i & 0xFFFF),
                            destinationPort: 80, proto: 6)
            let slot = try XCTUnwrap(table.lookup(k, hash: table.hash(k), now: 2, expired: &expired))
            XCTAssertEqual(table[slot].realID, UInt32(i % 7))
        }
        XCTAssertEqual(table.count, 10_000)
        // Where the kernel has THP and it is not switched off, the table (tens of MiB, touched
        // when it is made) sits at least partly on huge pages.
        guard let mode = transparentHugePageMode(), mode != "never", let after = HugePages.anonymousHugeBytes() else {
            throw XCTSkip("transparent huge pages are not available here")
        }
        XCTAssertGreaterThan(after, before, "AnonHugePages did not grow (THP mode \(mode))")
    }

    /// A mapping the kernel refuses is a typed error that says what to lower, not a crash.
    func testFailedMappingIsThrown() {
        // 1 PiB: more than a process's address space, so mmap refuses it (ENOMEM).
        XCTAssertThrowsError(try HugePages.map(1 << 50)) { error in
            guard let e = error as? HugePages.MappingError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.errno, Errno(ENOMEM))
            XCTAssertTrue(e.description.contains("switchyard_flow_capacity"), e.description)
        }
    }

    /// The slots of a pipeline whose tables cannot be mapped: thrown before any is made.
    func testPipelineSlotMemoryThatCannotBeMappedIsThrown() {
        var config = PipelineConfig(sourceMAC: .zero, flowCapacity: 1 << 46)
        XCTAssertThrowsError(try HugePages.slotMemory(for: config)) { XCTAssertTrue($0 is HugePages.MappingError) }
        // An overflowing size is the same error, not a trap.
        config.flowCapacity = Int.max / 2
        XCTAssertThrowsError(try HugePages.slotMemory(for: config)) { XCTAssertTrue($0 is HugePages.MappingError) }
    }

    /// The memory mapped ahead is exactly what the pipeline's tables ask for (the sizes are
    /// worked out outside FlowTable: this catches them drifting apart), and it is freed.
    func testPipelineTakesTheReservedSlots() throws {
        for capacity in [1, 1_000, 8_191, 1 << 16, 3 << 18] {
            var config = PipelineConfig(sourceMAC: .zero, flowCapacity: capacity)
            let reservation = try HugePages.SlotReservation(for: config)
            config.slotMemory = reservation.slotMemory
            XCTAssertEqual(reservation.unclaimed, 4, "flows and templates, each an IPv4 and an IPv6 table, mapped ahead")
            let pipeline = Pipeline(config)
            XCTAssertEqual(reservation.unclaimed, 0, "capacity \(capacity): a table's size was not reserved")
            XCTAssertEqual(reservation.mappedOnDemand, 0, "capacity \(capacity): a table was mapped on demand")
            XCTAssertEqual(pipeline.flows.capacity, capacity)
        }
    }
}
