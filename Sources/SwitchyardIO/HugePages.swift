// Flow-table slots on transparent huge pages: mapping them (a failure is a thrown error), and
// mapping a pipeline's tables ahead so that nothing can fail once the engine has changed the
// system.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardCore

/// Flow-table slots on transparent huge pages. A table of a million flows spans tens of
/// megabytes and every new packet's lookup lands on a random page of it: with 4 KiB pages that
/// is a TLB miss on top of the cache miss. The mapping is aligned to 2 MiB and marked
/// MADV_HUGEPAGE, which asks for huge pages also where the system's THP setting is `madvise`
/// (Debian's default). Where the kernel has no THP the advice fails and the table works on
/// small pages, as before.
public enum HugePages {
    static let size = 2 << 20

    /// The kernel refused the memory for a flow table.
    public struct MappingError: Error, CustomStringConvertible, Sendable {
        public var bytes: Int
        public var errno: Errno
        public var description: String {
            "cannot map \(bytes >> 20) MiB for a flow table: \(errno); lower switchyard_flow_capacity"
        }
    }

    /// `bytes` rounded up to whole huge pages, or nil if that overflows.
    static func mappedLength(_ bytes: Int) -> Int? {
        let (sum, overflow) = bytes.addingReportingOverflow(size - 1)
        return overflow || bytes < 0 ? nil : sum & ~(size - 1)
    }

    /// Maps `bytes` (rounded up to 2 MiB) on a 2 MiB boundary, advised onto huge pages.
    public static func map(_ bytes: Int) throws(MappingError) -> UnsafeMutableRawPointer {
        guard let length = mappedLength(bytes), length <= Int.max - size else {
            throw MappingError(bytes: bytes, errno: Errno(ENOMEM))
        }
        // Map one huge page more than needed, then trim to a 2 MiB-aligned range.
        let raw = mmap(nil, length + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else {
            // errno at once: nothing has run since mmap.
            throw MappingError(bytes: length, errno: Errno(Glibc.errno))
        }
        let base = UInt(bitPattern: raw)
        let aligned = (base + UInt(size) - 1) & ~UInt(size - 1)
        let head = Int(aligned - base)
        if head > 0 { munmap(raw, head) }
        let tail = size - head
        // Unsafe: the tail starts inside the mapping made above (aligned + length < base + length + size).
        if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(length)), tail) }
        // Unsafe: `aligned` is inside the mapping and non-zero.
        let pointer = UnsafeMutableRawPointer(bitPattern: aligned)!
        _ = madvise(pointer, length, Int32(MADV_HUGEPAGE))
        return pointer
    }

    /// Unmaps what `map(bytes)` returned.
    public static func unmap(_ pointer: UnsafeMutableRawPointer, _ bytes: Int) {
        munmap(pointer, mappedLength(bytes) ?? bytes)
    }

    /// Maps each table on demand, when a FlowTable is made. SlotMemory cannot throw, so a
    /// refused mapping stops the process here: the engine uses `slotMemory(for:)`, which maps
    /// a pipeline's tables ahead and throws. Kept for the micro-benchmarks and tests.
    public static let slotMemory = SlotMemory(
        allocate: { bytes in
            do { return try map(bytes) } catch { fatalError("\(error)") }
        },
        deallocate: { pointer, bytes in unmap(pointer, bytes) })

    /// Slot memory for the flow tables a `Pipeline(config)` makes, every one mapped now: a
    /// mapping the kernel refuses is thrown here, before the caller has changed anything.
    public static func slotMemory(for config: PipelineConfig) throws(MappingError) -> SlotMemory {
        try SlotReservation(for: config).slotMemory
    }

    /// Bytes of this process's anonymous memory on huge pages (AnonHugePages in
    /// /proc/self/smaps_rollup), or nil where the kernel does not say.
    public static func anonymousHugeBytes() -> Int? {
        guard let file = fopen("/proc/self/smaps_rollup", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = cString(line)
            guard text.hasPrefix("AnonHugePages:") else { continue }
            let digits = text.dropFirst("AnonHugePages:".count).filter(\.isNumber)
            return Int(digits).map { $0 * 1024 }
        }
        return nil
    }

    /// The huge-page mappings for one pipeline's flow tables, made ahead and handed out as the
    /// tables ask for them. A size nobody reserved (which `testPipelineTakesTheReservedSlots`
    /// keeps from happening) is mapped on demand as `slotMemory` does; regions never claimed
    /// are unmapped when the last table lets go.
    final class SlotReservation: @unchecked Sendable {
        /// Addresses (as integers: a pointer is not Sendable) of the regions not yet claimed.
        private let regions: Locked<[(bytes: Int, address: UInt)]>
        private let onDemand = Locked(0)

        init(for config: PipelineConfig) throws(MappingError) {
            var mapped: [(bytes: Int, address: UInt)] = []
            do throws(MappingError) {
                guard let regions = Pipeline.slotRegions(config) else {
                    throw MappingError(bytes: Int.max, errno: Errno(ENOMEM))
                }
                for bytes in regions { mapped.append((bytes, UInt(bitPattern: try map(bytes)))) }
            } catch {
                // Undo the mappings made before the one that failed.
                for r in mapped { unmap(UnsafeMutableRawPointer(bitPattern: r.address)!, r.bytes) }
                throw error
            }
            regions = Locked(mapped)
        }

        deinit {
            regions.withLock { for r in $0 { unmap(UnsafeMutableRawPointer(bitPattern: r.address)!, r.bytes) } }
        }

        var slotMemory: SlotMemory {
            SlotMemory(allocate: { bytes in self.claim(bytes) }, deallocate: { pointer, bytes in unmap(pointer, bytes) })
        }

        /// Regions still unclaimed, and tables mapped on demand (for tests).
        var unclaimed: Int { regions.withLock { $0.count } }
        var mappedOnDemand: Int { onDemand.withLock { $0 } }

        private func claim(_ bytes: Int) -> UnsafeMutableRawPointer {
            let address = regions.withLock { list -> UInt? in
                guard let i = list.firstIndex(where: { $0.bytes == bytes }) else { return nil }
                return list.remove(at: i).address
            }
            // Unsafe: the address came from `map`, which never returns zero.
            if let address { return UnsafeMutableRawPointer(bitPattern: address)! }
            onDemand.withLock { $0 += 1 }
            return HugePages.slotMemory.allocate(bytes)
        }
    }
}
