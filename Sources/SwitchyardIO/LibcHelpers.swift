// Small conveniences over libc for the rest of the module: the monotonic clock in
// milliseconds, whole small files (procfs, sysfs, sysctls), and C strings from buffers.

import Glibc

/// Milliseconds on the monotonic clock, wrapping at 2^32 (the flow table compares with wrapping
/// arithmetic, so the wrap after ~49 days is harmless).
public func monotonicMilliseconds() -> UInt32 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt32(truncatingIfNeeded: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
}

/// Reads a whole small file (procfs, sysfs); nil if it cannot be opened.
public func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 8192)
    while true {
        let n = retryingOnInterrupt { buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
        if n <= 0 { break }
        data.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: data, as: UTF8.self)
}

/// Writes a small file (a sysctl; with `createMode`, a file of ours, created with that mode if
/// missing); false on failure.
@discardableResult
public func writeSmallFile(_ path: String, _ text: String, createMode: mode_t? = nil) -> Bool {
    let fd = createMode.map { open(path, O_WRONLY | O_CLOEXEC | O_TRUNC | O_CREAT, $0) } ?? open(path, O_WRONLY | O_CLOEXEC | O_TRUNC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
}

/// A String from a NUL-terminated C buffer (libpcap and libnet error buffers).
func cString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
