// Errors from the system and from setting up, and the one function every libc call's result
// goes through so that errno is read at once (swift-system's valueOrErrno, and its EINTR loop).

import Glibc

/// A failed system call: which call, on what, and errno, printed the way an operator can act on.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var call: String
    public var errno: Int32
    public var detail: String

    /// `errno` defaults to the thread's errno now: make the error straight after the failed
    /// call, or better, take errno from `valueOrErrno`.
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

/// The value of a call made through `valueOrErrno`, or its failure as a SystemError naming
/// `call` (the words are only built on failure).
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
