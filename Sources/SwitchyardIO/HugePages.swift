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

    public static let slotMemory = SlotMemory(
        allocate: { bytes in
            let length = (bytes + size - 1) & ~(size - 1)
            // Map one huge page more than needed, then trim to a 2 MiB-aligned range.
            guard let raw = mmap(nil, length + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                  raw != MAP_FAILED
            else {
                fatalError("cannot map \(length >> 20) MiB for a flow table: \(String(cString: strerror(errno))); "
                    + "lower switchyard_flow_capacity")
            }
            let base = UInt(bitPattern: raw)
            let aligned = (base + UInt(size) - 1) & ~UInt(size - 1)
            let head = Int(aligned - base)
            if head > 0 { munmap(raw, head) }
            let tail = size - head
            if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(length)), tail) }
            let pointer = UnsafeMutableRawPointer(bitPattern: aligned)!
            _ = madvise(pointer, length, Int32(MADV_HUGEPAGE))
            return pointer
        },
        deallocate: { pointer, bytes in
            munmap(pointer, (bytes + size - 1) & ~(size - 1))
        })

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
}
