// The control socket `switchyard adm` talks to: the daemon's server side and the client side.

import CSwitchyard
import Glibc
import Synchronization

/// The daemon's control socket: a Unix stream socket, mode 0600 in a root-only directory, and
/// every peer's user ID checked (SO_PEERCRED): only root may control the balancer.
///
/// Protocol: the client sends its arguments as one line, separated by tabs, then any input
/// (`adm -R` reads the rules from its standard input), then shuts down its writing side. The
/// daemon answers with "OK\n" or "ERROR STATUS\n" and the text, and closes: STATUS is the exit
/// status `switchyard adm` takes (ipvsadm's for the same error; 0 when the text is only a warning
/// for standard error). A bare "ERROR\n" (an older daemon) means status 1.
public final class ControlServer: @unchecked Sendable {
    public typealias Handler = @Sendable (_ arguments: [String], _ input: String) -> (ok: Bool, text: String, status: Int32)
    /// Requests larger than this are refused (garbage or an attack, not a command).
    public static let maxRequest = 1 << 20
    public let path: String
    let fd: Int32
    let handler: Handler
    private let stopFlag = Atomic<Bool>(false)

    /// Binds the socket at `path`, creating its directory (0700) when missing. A stale socket
    /// file (no daemon answers on it) is replaced; a live one is an error: two daemons must not
    /// share a control socket.
    public init(path: String, handler: @escaping Handler) throws {
        self.path = path
        self.handler = handler
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let dir = String(path[..<slash])
            if case .failure(let e) = valueOrErrno({ mkdir(dir, 0o700) }), e.rawValue != EEXIST {
                throw SystemError("mkdir \(dir)", errno: e.rawValue)
            }
        }
        if ControlClient.isLive(path) {
            throw SetupError("another switchyard already answers on \(path); give this one --control PATH")
        }
        unlink(path)
        let fd = try systemCall("socket(AF_UNIX)", valueOrErrno {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        let old = umask(0o177)
        let bound = valueOrErrno { withAddress(path) { bind(fd, $0, $1) } }
        umask(old)
        // errno is captured by valueOrErrno before close can change it.
        if case .failure(let e) = bound.flatMap({ _ in valueOrErrno { listen(fd, 16) } }) {
            close(fd)
            throw SystemError("binding the control socket \(path)", errno: e.rawValue)
        }
        chmod(path, 0o600)
        self.fd = fd
    }

    deinit {
        close(fd)
        unlink(path)
    }

    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// Serves requests one at a time until stop().
    public func run() {
        while !stopFlag.load(ordering: .relaxed) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            serve(client)
            close(client)
        }
    }

    func serve(_ client: Int32) {
        // A client that sends nothing must not hold the daemon: 5 s to say what it wants.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var uid: UInt32 = 0
        guard sy_peer_uid(client, &uid) == 0, uid == 0 else {
            reply(client, ok: false, "permission denied: only root may control switchyard")
            return
        }
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = retryingOnInterrupt { buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) } }
            if n == 0 { break }
            if n < 0 {
                reply(client, ok: false, "the request did not arrive whole (timed out)")
                return
            }
            request.append(contentsOf: buffer[0..<n])
            if request.count > Self.maxRequest {
                reply(client, ok: false, "request larger than \(Self.maxRequest) bytes refused")
                // Read and drop the rest (bounded by the receive timeout and 64 MiB), so the
                // client is not reset before it reads the answer.
                shutdown(client, Int32(SHUT_WR))
                var drained = 0
                while drained < 64 << 20 {
                    let m = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                    if m <= 0 { break }
                    drained += m
                }
                return
            }
        }
        guard let newline = request.firstIndex(of: 10) else {
            reply(client, ok: false, "malformed request: expected the arguments on one line")
            return
        }
        let line = String(decoding: request[..<newline], as: UTF8.self)
        let input = String(decoding: request[(newline + 1)...], as: UTF8.self)
        let arguments = line.isEmpty ? [] : line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        let (ok, text, status) = handler(arguments, input)
        reply(client, ok: ok, text, status: status)
    }

    func reply(_ client: Int32, ok: Bool, _ text: String, status: Int32 = 1) {
        let bytes = Array(((ok ? "OK\n" : "ERROR \(status)\n") + text).utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(client, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}

/// Calls `body` with a sockaddr_un for `path`.
func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8.prefix(107)) + [0]
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, b) in bytes.enumerated() { raw[i] = b }
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

/// The client side, for `switchyard adm`.
public enum ControlClient {
    /// Sends arguments and input; returns (ok, text, exit status), or throws if no daemon answers.
    public static func send(path: String, arguments: [String], input: String = "") throws
        -> (ok: Bool, text: String, status: Int32) {
        let fd = try systemCall("socket(AF_UNIX)", valueOrErrno {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        defer { close(fd) }
        _ = try systemCall("connecting to \(path)", detail: "is switchyard running? give --control PATH",
                           valueOrErrno { withAddress(path) { connect(fd, $0, $1) } })
        let request = Array((arguments.joined(separator: "\t") + "\n" + input).utf8)
        var sent = 0
        while sent < request.count {
            let n = try systemCall("sending to \(path)", valueOrErrno {
                request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            })
            // The socket took nothing (no errno is set for that): the daemon has gone.
            if n == 0 { throw SystemError("sending to \(path)", errno: EPIPE) }
            sent += n
        }
        shutdown(fd, Int32(SHUT_WR))
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = retryingOnInterrupt { buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) } }
            if n <= 0 { break }
            response.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: response, as: UTF8.self)
        if text.hasPrefix("OK\n") { return (true, String(text.dropFirst(3)), 0) }
        if text.hasPrefix("ERROR\n") { return (false, String(text.dropFirst(6)), 1) }
        if text.hasPrefix("ERROR "), let newline = text.firstIndex(of: "\n"),
           let status = Int32(text[text.index(text.startIndex, offsetBy: 6)..<newline]) {
            return (false, String(text[text.index(after: newline)...]), status)
        }
        throw SetupError("no answer from \(path)")
    }

    /// Whether a daemon accepts connections at `path`.
    public static func isLive(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withAddress(path, { connect(fd, $0, $1) }) == 0
    }
}
