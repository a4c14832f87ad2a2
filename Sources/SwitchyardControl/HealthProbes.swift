// The checkers' probes as blocking calls, and the pieces (connect to an IPv4 or IPv6 address,
// HTTP request and verdict, script spawn and verdict) that the event loop's nonblocking probes
// share with them. PING_CHECK's echo is PingEcho.swift's.
import Glibc
import SwitchyardCore
import SwitchyardIO

/// The outcome of one probe: up, or down with the reason an operator reads in the log.
public enum ProbeResult: Sendable, Equatable {
    case up
    /// Up with this weight: a MISC_CHECK with misc_dynamic that exited 2...255 (weight = code − 2).
    case weighted(Int)
    case down(String)

    public var isUp: Bool {
        if case .down = self { return false }
        return true
    }

    /// The weight the verdict sets: nil for the configured one (.up), the script's for .weighted;
    /// a down verdict sets none (nil too; the server is out anyway).
    public var dynamicWeight: Int? {
        if case .weighted(let w) = self { return w }
        return nil
    }
}

/// The probes behind the checkers, blocking: each waits at most its timeout. The event loop
/// (CheckLoop) drives the same steps without blocking (SocketProbes); it calls these only for
/// MISC_CHECK on a kernel without pidfd, on its script pool. Tests use them directly.
public enum HealthProbes {
    /// Seconds on the monotonic clock.
    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Starts a nonblocking connect to address:port: the socket (connected or still connecting),
    /// or the reason it failed at once. Shared by the blocking probes and the event loop's.
    static func beginConnect(_ address: IPAddressBits, _ port: UInt16) -> (Int32?, String) {
        let fd = socket(family(address), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return (nil, "socket: \(String(cString: strerror(errno)))") }
        if connect(fd, to: address, port) != 0 && errno != EINPROGRESS {
            // Read errno before close can change it.
            let reason = String(cString: strerror(errno))
            close(fd)
            return (nil, "connect to \(address.withPort(port)): \(reason)")
        }
        return (fd, "")
    }

    /// The socket family for an address: AF_INET or AF_INET6.
    static func family(_ address: IPAddressBits) -> Int32 { address.isV4 ? AF_INET : AF_INET6 }

    /// Calls `body` with address:port as a sockaddr_in or sockaddr_in6 and its length.
    static func withSocketAddress<R>(_ address: IPAddressBits, _ port: UInt16,
                                     _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        if let v4 = address.ipv4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = v4.value.bigEndian
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
            raw.storeBytes(of: address.high.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: address.low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        return withUnsafePointer(to: &sin6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }

    /// connect(2) of `fd` to address:port (TCP or UDP): 0, or -1 with errno set.
    static func connect(_ fd: Int32, to address: IPAddressBits, _ port: UInt16) -> Int32 {
        withSocketAddress(address, port) { Glibc.connect(fd, $0, $1) }
    }

    /// Once a connecting socket is writable: nil if the connection is up, else why not.
    static func connectOutcome(_ fd: Int32, _ address: IPAddressBits, _ port: UInt16) -> String? {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0 ? nil : "connect to \(address.withPort(port)): \(String(cString: strerror(error)))"
    }

    static func connectTimedOut(_ address: IPAddressBits, _ port: UInt16, _ timeout: Double) -> String {
        "connect to \(address.withPort(port)): no answer within \(timeout) s"
    }

    /// Connects to address:port within `timeout` seconds; the connected socket, or the reason.
    static func connect(_ address: IPAddressBits, _ port: UInt16, timeout: Double) -> (Int32?, String) {
        let (started, reason) = beginConnect(address, port)
        guard let fd = started else { return (nil, reason) }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&p, 1, Int32(timeout * 1000))
        if ready <= 0 {
            close(fd)
            return (nil, connectTimedOut(address, port, timeout))
        }
        if let failed = connectOutcome(fd, address, port) {
            close(fd)
            return (nil, failed)
        }
        return (fd, "")
    }

    /// TCP_CHECK: the port accepts a connection.
    public static func tcp(_ address: IPAddressBits, _ port: UInt16, timeout: Double) -> ProbeResult {
        let (fd, reason) = connect(address, port, timeout: timeout)
        guard let fd else { return .down(reason) }
        close(fd)
        return .up
    }

    /// HTTP_GET: every URL answers with its status code (and digest, and regex match) within
    /// the timeout, over HTTP/1.0 with Connection: close.
    public static func http(_ address: IPAddressBits, _ port: UInt16, urls: [URLCheck], virtualHost: String?,
                            timeout: Double) -> ProbeResult {
        for url in urls {
            let result = httpOne(address, port, url: url, host: virtualHost ?? hostHeader(address), timeout: timeout)
            if !result.isUp { return result }
        }
        return .up
    }

    static func httpOne(_ address: IPAddressBits, _ port: UInt16, url: URLCheck, host: String, timeout: Double) -> ProbeResult {
        let deadline = monotonicSeconds() + timeout
        let (connected, reason) = connect(address, port, timeout: timeout)
        guard let fd = connected else { return .down("HTTP_GET \(url.path): \(reason)") }
        defer { close(fd) }
        let request = httpRequest(url, host: host)
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if n < 0 && errno == EAGAIN {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&p, 1, Int32(max(0, deadline - monotonicSeconds()) * 1000)) > 0 { continue }
            }
            return .down("HTTP_GET \(url.path): sending the request failed")
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let left = deadline - monotonicSeconds()
            if left <= 0 { return .down("HTTP_GET \(url.path): no complete answer within \(timeout) s") }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(left * 1000) + 1) <= 0 { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return .down("HTTP_GET \(url.path): \(String(cString: strerror(errno)))")
            }
            response.append(contentsOf: buffer[0..<n])
            if response.count > maxHTTPAnswer { return .down("HTTP_GET \(url.path): answer larger than 8 MiB") }
        }
        return evaluateHTTP(response, url: url)
    }

    /// The most of an answer HTTP_GET reads (it digests the body in memory).
    static let maxHTTPAnswer = 8 << 20

    /// The Host header for an address with no virtualhost: an IPv6 literal in brackets (RFC 7230 §5.4).
    static func hostHeader(_ address: IPAddressBits) -> String { address.isV4 ? "\(address)" : "[\(address)]" }

    static func httpRequest(_ url: URLCheck, host: String) -> [UInt8] {
        Array("GET \(url.path) HTTP/1.0\r\nHost: \(host)\r\nUser-Agent: switchyard-check\r\nConnection: close\r\n\r\n".utf8)
    }

    /// Judges a complete answer (read to the server's close): status, then digest, then regex.
    static func evaluateHTTP(_ response: [UInt8], url: URLCheck, checker: String = "HTTP_GET") -> ProbeResult {
        // Status line "HTTP/1.x NNN ..."; the body follows the first empty line.
        guard let headerEnd = findHeaderEnd(response),
              let statusLine = String(decoding: response[0..<headerEnd], as: UTF8.self).split(separator: "\r\n").first,
              statusLine.hasPrefix("HTTP/"), statusLine.split(separator: " ").count >= 2,
              let status = Int(statusLine.split(separator: " ")[1])
        else { return .down("\(checker) \(url.path): not an HTTP answer") }
        guard url.accepts(status: status) else {
            return .down("\(checker) \(url.path): status \(status), expected \(url.expectedStatuses)")
        }
        let body = Array(response[(headerEnd + 4)...])
        if let digest = url.digest {
            let got = MD5.hex(body)
            guard got == digest else { return .down("\(checker) \(url.path): body digest \(got), expected \(digest)") }
        }
        if let regex = url.regex {
            guard let re = RegularExpression(regex), re.matches(String(decoding: body, as: UTF8.self)) else {
                return .down("\(checker) \(url.path): body does not match regex \"\(regex)\"")
            }
        }
        return .up
    }

    static func findHeaderEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }

    /// Starts a MISC_CHECK or vrrp_script line through ScriptLauncher (its user, a clean
    /// environment, the script security policy, a process group of its own): its pid, or why not.
    static func spawnScript(_ command: String, user: String? = nil, group: String? = nil) -> Result<pid_t, ScriptRefusal> {
        switch ScriptLauncher.start(command, user: user, group: group) {
        case .started(let pid): return .success(pid)
        case .refused(let reason), .failed(let reason): return .failure(ScriptRefusal(reason: reason))
        }
    }

    /// Kills a script started by `spawnScript` and everything in its process group, and reaps it.
    static func killScript(_ pid: pid_t) {
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// Why a script did not start (refused by the policy, its user unknown, fork or exec failed).
    struct ScriptRefusal: Error, Equatable {
        let reason: String
    }

    /// The verdict on a MISC_CHECK that did not start: down, with the reason.
    static func notStarted(_ refusal: ScriptRefusal) -> ProbeResult { .down("MISC_CHECK: \(refusal.reason)") }

    /// The verdict on a script's wait status: up on exit 0; a signal counts as 128 + its number.
    /// With misc_dynamic, as keepalived's check_misc.c: 1 is down, 2...255 up with weight
    /// code − 2 (a script killed by a signal is down: WIFEXITED is false there).
    static func miscVerdict(_ command: String, status: Int32, dynamic: Bool = false) -> ProbeResult {
        let exited = (status & 0x7F) == 0
        let code = exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        if code == 0 { return .up }
        if dynamic && exited && code >= 2 { return .weighted(Int(code) - 2) }
        return .down("MISC_CHECK \(command): exit status \(code)")
    }

    static func miscTimedOut(_ command: String, _ timeout: Double) -> String {
        "MISC_CHECK \(command): still running after \(timeout) s, killed"
    }

    /// MISC_CHECK: the command exits 0 within the timeout (it is killed after it).
    public static func misc(_ command: String, timeout: Double, user: String? = nil, group: String? = nil,
                            dynamic: Bool = false) -> ProbeResult {
        let pid: pid_t
        switch spawnScript(command, user: user, group: group) {
        case .success(let started): pid = started
        case .failure(let refusal): return notStarted(refusal)
        }
        let deadline = monotonicSeconds() + timeout
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return .down("MISC_CHECK: waitpid failed") }
            if monotonicSeconds() > deadline {
                killScript(pid)
                return .down(miscTimedOut(command, timeout))
            }
            usleep(10_000)
        }
        return miscVerdict(command, status: status, dynamic: dynamic)
    }

    /// Runs a checker's probe against a real server.
    public static func run(_ checker: CheckerConfig, address: IPAddressBits, port: UInt16) -> ProbeResult {
        let a = checker.connectIP ?? address
        let p = checker.connectPort ?? port
        let timeout = checker.timing.connectTimeout
        switch checker.kind {
        case .tcp: return tcp(a, p, timeout: timeout)
        case .http(let urls, let host): return http(a, p, urls: urls, virtualHost: host, timeout: timeout)
        case .ping: return ping(a, timeout: timeout)
        case .misc(let path, let miscTimeout):
            return misc(path, timeout: miscTimeout ?? timeout, user: checker.scriptUser, group: checker.scriptGroup,
                        dynamic: checker.miscDynamic)
        case .ssl, .smtp, .dns, .udp, .file:
            // Only the event loop's state machine exists for these: drive it here, blocking.
            guard let probe = SocketProbes.make(checker, address, port) else { return .down("\(checker.kind.name): no probe") }
            return SocketProbes.drive(probe)
        }
    }
}
