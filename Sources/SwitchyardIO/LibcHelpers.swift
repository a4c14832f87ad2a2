// Small conveniences over libc for the rest of the module: the monotonic clock in
// milliseconds, whole small files (procfs, sysfs, sysctls), C strings from buffers, and socket
// options of a plain value type.

import Glibc

/// Milliseconds on the monotonic clock, wrapping at 2^32 (the flow table compares with wrapping
/// arithmetic, so the wrap after ~49 days is harmless).
public func monotonicMilliseconds() -> UInt32 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt32(truncatingIfNeeded: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
}

/// The monotonic clock in microseconds (a worker's busy-poll budget).
@inline(__always)
public func monotonicMicroseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000 &+ UInt64(ts.tv_nsec) / 1_000
}

/// The CPU time the calling thread has used, in nanoseconds (a worker's busy time).
public func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
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

/// setsockopt with a typed value; its failure names the option and the interface.
///
/// BitwiseCopyable: the kernel gets the value's bytes, which only mean something for a plain C
/// value (an int, a struct ip_mreqn), never for a type holding a reference; the bytes are lent
/// for the call alone, inside withUnsafeBytes.
func setSocketOption<T: BitwiseCopyable>(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: T, _ what: String,
                                         _ interface: String) throws(SystemError) {
    let result = withUnsafeBytes(of: value) { bytes in
        valueOrErrno { setsockopt(fd, level, name, bytes.baseAddress, socklen_t(bytes.count)) }
    }
    _ = try systemCall("setsockopt \(what)", detail: interface, result)
}

/// SO_BINDTODEVICE: the socket takes only what arrives on `interface`, and sends by it.
func bindToDevice(_ fd: Int32, _ interface: String) throws(SystemError) {
    let bound = interface.withCString { name in
        valueOrErrno { setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, socklen_t(strlen(name) + 1)) }
    }
    _ = try systemCall("SO_BINDTODEVICE", detail: interface, bound)
}
