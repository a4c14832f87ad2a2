import Glibc

/// A failed system call: which call, on what, and errno, printed the way an operator can act on.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var call: String
    public var errno: Int32
    public var detail: String

    public init(_ call: String, errno: Int32 = Glibc.errno, detail: String = "") {
        self.call = call
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        var text = "\(call) failed: \(reason)"
        if !detail.isEmpty { text += " (\(detail))" }
        if errno == EPERM || errno == EACCES { text += "; run as root (CAP_NET_RAW and CAP_NET_ADMIN are needed)" }
        return text
    }
}

/// A problem found while setting up, with the words to fix it.
public struct SetupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a libc call that returns a negative value and sets errno on failure, and reads errno
/// at once, before anything else can change it (the close or munmap of an error path, or a
/// String being built for the message): swift-system's `valueOrErrno`. With
/// `retryingOnInterrupt`, a call that failed with EINTR is made again (the one EINTR loop here).
@inline(__always)
func valueOrErrno<T: BinaryInteger>(retryingOnInterrupt retry: Bool = false, _ body: () -> T) -> Result<T, Errno> {
    while true {
        let r = body()
        if r >= 0 { return .success(r) }
        let e = Glibc.errno
        if retry && e == EINTR { continue }
        return .failure(Errno(e))
    }
}

/// The same for a call that returns NULL and sets errno on failure (a C shim's mapping or
/// allocation).
@inline(__always)
func valueOrErrno<P>(_ body: () -> P?) -> Result<P, Errno> {
    if let p = body() { return .success(p) }
    return .failure(Errno(Glibc.errno))
}

/// Runs `body` (a call through `valueOrErrno`) and turns its failure into a SystemError that
/// names `call`.
@inline(__always)
func systemCall<T>(_ call: @autoclosure () -> String, detail: @autoclosure () -> String = "",
                   _ result: Result<T, Errno>) throws(SystemError) -> T {
    switch result {
    case .success(let value): return value
    case .failure(let e): throw SystemError(call(), errno: e.rawValue, detail: detail())
    }
}

/// An errno value, captured right after the call that set it.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public var description: String { String(cString: strerror(rawValue)) }
}

/// Retries a call that failed with EINTR (`valueOrErrno(retryingOnInterrupt:)` for callers that
/// want the raw return value).
@inline(__always)
func retryingOnInterrupt<T: BinaryInteger>(_ body: () -> T) -> T {
    var r: T = 0
    _ = valueOrErrno(retryingOnInterrupt: true) { () -> T in
        r = body()
        return r
    }
    return r
}

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

/// Writes a small file (a sysctl); false on failure.
@discardableResult
public func writeSmallFile(_ path: String, _ text: String) -> Bool {
    let fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
}

/// A String from a NUL-terminated C buffer (libpcap and libnet error buffers).
func cString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
