// The event loop's probes: TCP_CHECK, HTTP_GET and PING_CHECK as nonblocking state machines
// over one socket each, and MISC_CHECK's script watched through a pidfd (SSL_GET, SMTP_CHECK,
// DNS_CHECK and UDP_CHECK have files of their own). They never wait; the loop calls them when
// their descriptor is ready or their deadline has passed. The wire details are HealthProbes'
// (shared with the blocking probes).
import Glibc
import SwitchyardCore
import SwitchyardIO

/// What a probe needs next from the loop.
enum ProbeStep {
    /// Call `ready` when `fd` has these epoll events (EPOLLIN/EPOLLOUT).
    case wait(fd: Int32, events: UInt32)
    case done(ProbeResult)
}

/// One probe in flight. `deadline` may move (HTTP_GET gives each URL its own timeout); the loop
/// calls `expired` once it has passed. After `.done` or `expired` the socket is closed.
protocol SocketProbe: AnyObject {
    var deadline: Double { get }
    func start(now: Double) -> ProbeStep
    func ready(events: UInt32, now: Double, scratch: UnsafeMutableRawBufferPointer) -> ProbeStep
    func expired() -> ProbeResult
    /// Closes the socket without a result (the checker was stopped).
    func cancel()
}

/// A probe on one socket at a time: cancelling closes it (TLSProbe's own cancel frees its TLS
/// state too), and a result ends the probe.
protocol OneSocketProbe: SocketProbe {
    var fd: Int32 { get set }
}

extension OneSocketProbe {
    func cancel() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    func finish(_ result: ProbeResult) -> ProbeStep {
        cancel()
        return .done(result)
    }
}

enum SocketProbes {
    /// The loop's probe for a checker, or nil for the kinds that run on the script pool (MISC_CHECK
    /// where the kernel has no pidfd).
    static func make(_ checker: CheckerConfig, _ address: IPAddressBits, _ port: UInt16) -> (any SocketProbe)? {
        let a = checker.connectIP ?? address
        let p = checker.connectPort ?? port
        let timeout = checker.timing.connectTimeout
        switch checker.kind {
        case .tcp: return TCPProbe(a, p, timeout: timeout)
        case .http(let urls, let host): return HTTPProbe(a, p, urls: urls, host: host ?? HealthProbes.hostHeader(a), timeout: timeout)
        case .ssl(let urls, let host, let sni, let tls):
            return TLSProbe(a, p, urls: urls, host: host ?? HealthProbes.hostHeader(a), sni: sni, tls: tls, timeout: timeout)
        case .smtp(let helo): return SMTPProbe(a, p, helo: helo, timeout: timeout)
        case .dns(let type, let name): return DNSProbe(a, p, type: type, name: name, timeout: timeout)
        case .udp(let check): return UDPProbe(a, p, check: check, timeout: timeout)
        case .file(let check): return FileProbe(check)
        case .ping: return PingProbe(a, timeout: timeout)
        case .misc(let command, let miscTimeout):
            return Epoll.hasProcessFD
                ? ScriptProbe(command, timeout: miscTimeout ?? timeout, user: checker.scriptUser, group: checker.scriptGroup,
                              dynamic: checker.miscDynamic) : nil
        }
    }

    static let readable = Epoll.readable
    static let writable = Epoll.writable

    /// Runs a probe to its end on the calling thread, polling its socket: the blocking form of
    /// the kinds that have only a state machine (HealthProbes.run).
    static func drive(_ probe: any SocketProbe) -> ProbeResult {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 8)
        defer { scratch.deallocate() }
        var next = probe.start(now: HealthProbes.monotonicSeconds())
        while case .wait(let fd, let events) = next {
            let left = probe.deadline - HealthProbes.monotonicSeconds()
            if left <= 0 { return probe.expired() }
            var p = pollfd(fd: fd, events: Int16(events & writable != 0 ? POLLOUT : POLLIN), revents: 0)
            let n = poll(&p, 1, Int32((left * 1000).rounded(.up)))
            if n < 0 && errno != EINTR { return probe.expired() }
            if n <= 0 { continue }
            next = probe.ready(events: events, now: HealthProbes.monotonicSeconds(), scratch: scratch)
        }
        guard case .done(let result) = next else { return probe.expired() }
        return result
    }
}

/// TCP_CHECK: the port accepts a connection within connect_timeout.
final class TCPProbe: OneSocketProbe {
    let address: IPAddressBits, port: UInt16, timeout: Double
    private(set) var deadline = 0.0
    var fd: Int32 = -1

    init(_ address: IPAddressBits, _ port: UInt16, timeout: Double) {
        (self.address, self.port, self.timeout) = (address, port, timeout)
    }

    func start(now: Double) -> ProbeStep {
        deadline = now + timeout
        let (started, reason) = HealthProbes.beginConnect(address, port)
        guard let s = started else { return .done(.down(reason)) }
        fd = s
        return .wait(fd: s, events: SocketProbes.writable)
    }

    func ready(events: UInt32, now: Double, scratch: UnsafeMutableRawBufferPointer) -> ProbeStep {
        let failed = HealthProbes.connectOutcome(fd, address, port)
        cancel()
        return .done(failed.map { .down($0) } ?? .up)
    }

    func expired() -> ProbeResult {
        cancel()
        return .down(HealthProbes.connectTimedOut(address, port, timeout))
    }

}

/// HTTP_GET: each URL in turn over its own connection (HTTP/1.0, read to the server's close),
/// each within connect_timeout from its connect, as the blocking probe does.
final class HTTPProbe: OneSocketProbe {
    private enum Phase { case connecting, sending, reading }
    let address: IPAddressBits, port: UInt16, urls: [URLCheck], host: String, timeout: Double
    private(set) var deadline = 0.0
    var fd: Int32 = -1
    private var phase = Phase.connecting
    private var urlIndex = 0
    private var request: [UInt8] = []
    private var sent = 0
    private var response: [UInt8] = []

    init(_ address: IPAddressBits, _ port: UInt16, urls: [URLCheck], host: String, timeout: Double) {
        (self.address, self.port, self.urls, self.host, self.timeout) = (address, port, urls, host, timeout)
    }

    private var path: String { urls[urlIndex].path }

    func start(now: Double) -> ProbeStep {
        guard urlIndex < urls.count else { return .done(.up) }
        deadline = now + timeout
        let (started, reason) = HealthProbes.beginConnect(address, port)
        guard let s = started else { return .done(.down("HTTP_GET \(path): \(reason)")) }
        (fd, phase, sent, response) = (s, .connecting, 0, [])
        request = HealthProbes.httpRequest(urls[urlIndex], host: host)
        return .wait(fd: s, events: SocketProbes.writable)
    }

    func ready(events: UInt32, now: Double, scratch: UnsafeMutableRawBufferPointer) -> ProbeStep {
        switch phase {
        case .connecting:
            if let failed = HealthProbes.connectOutcome(fd, address, port) { return finish(.down("HTTP_GET \(path): \(failed)")) }
            phase = .sending
            return send()
        case .sending:
            return send()
        case .reading:
            let n = recv(fd, scratch.baseAddress, scratch.count, 0)
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { return .wait(fd: fd, events: SocketProbes.readable) }
                return finish(.down("HTTP_GET \(path): \(String(cString: strerror(errno)))"))
            }
            if n > 0 {
                response.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                if response.count > HealthProbes.maxHTTPAnswer { return finish(.down("HTTP_GET \(path): answer larger than 8 MiB")) }
                return .wait(fd: fd, events: SocketProbes.readable)
            }
            // The server closed: the answer is complete.
            let verdict = HealthProbes.evaluateHTTP(response, url: urls[urlIndex])
            cancel()
            guard verdict.isUp else { return .done(verdict) }
            urlIndex += 1
            return start(now: now)
        }
    }

    private func send() -> ProbeStep {
        while sent < request.count {
            let n = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return .wait(fd: fd, events: SocketProbes.writable) }
            return finish(.down("HTTP_GET \(path): sending the request failed"))
        }
        phase = .reading
        return .wait(fd: fd, events: SocketProbes.readable)
    }


    func expired() -> ProbeResult {
        let stage = phase
        cancel()
        switch stage {
        case .connecting: return .down("HTTP_GET \(path): \(HealthProbes.connectTimedOut(address, port, timeout))")
        case .sending: return .down("HTTP_GET \(path): sending the request failed")
        case .reading: return .down("HTTP_GET \(path): no complete answer within \(timeout) s")
        }
    }

}

/// PING_CHECK: one ICMP echo request on a raw socket of its own; up on the matching reply.
final class PingProbe: OneSocketProbe {
    let address: IPAddressBits, timeout: Double
    private(set) var deadline = 0.0
    var fd: Int32 = -1
    // All probes share one thread, so the thread id the blocking probe mixes in tells nothing;
    // a random identifier keeps concurrent probes to the same address apart.
    private let identifier = UInt16.random(in: 0...UInt16.max)
    private let sequence = UInt16.random(in: 1...UInt16.max)

    init(_ address: IPAddressBits, timeout: Double) {
        (self.address, self.timeout) = (address, timeout)
    }

    func start(now: Double) -> ProbeStep {
        deadline = now + timeout
        let (opened, reason) = HealthProbes.pingSocket(for: address, nonblocking: true)
        guard let s = opened else { return .done(.down(reason)) }
        fd = s
        if let failed = HealthProbes.sendEcho(s, to: address, identifier: identifier, sequence: sequence) {
            cancel()
            return .done(.down(failed))
        }
        return .wait(fd: s, events: SocketProbes.readable)
    }

    func ready(events: UInt32, now: Double, scratch: UnsafeMutableRawBufferPointer) -> ProbeStep {
        // A raw socket sees every ICMP packet the host gets: read them all, look for ours.
        while let ours = HealthProbes.readEcho(fd, scratch, from: address, identifier: identifier, sequence: sequence) {
            if ours {
                cancel()
                return .done(.up)
            }
        }
        return .wait(fd: fd, events: SocketProbes.readable)
    }

    func expired() -> ProbeResult {
        cancel()
        return .down(HealthProbes.pingTimedOut(address, timeout))
    }

}

/// MISC_CHECK: the script exits 0 within misc_timeout. Its pidfd turns readable when it exits,
/// so any number of scripts run at once, as keepalived forks one per check; past the deadline
/// it is killed.
final class ScriptProbe: SocketProbe {
    let command: String, timeout: Double
    /// The MISC_CHECK's own `user USER [GROUP]`, or nil for global_defs' script_user.
    let user: String?, group: String?
    /// misc_dynamic: exit codes 2...255 are up with weight code − 2.
    let dynamic: Bool
    private(set) var deadline = 0.0
    private var pid: pid_t = 0
    var fd: Int32 = -1

    init(_ command: String, timeout: Double, user: String? = nil, group: String? = nil, dynamic: Bool = false) {
        (self.command, self.timeout, self.user, self.group, self.dynamic) = (command, timeout, user, group, dynamic)
    }

    func start(now: Double) -> ProbeStep {
        deadline = now + timeout
        switch HealthProbes.spawnScript(command, user: user, group: group) {
        case .success(let p): pid = p
        case .failure(let refusal): return .done(HealthProbes.notStarted(refusal))
        }
        fd = Epoll.processFD(pid)
        guard fd >= 0 else {
            // errno before cancel, whose kill and waitpid may set it again.
            let failure = Errno(errno)
            cancel()
            return .done(.down("MISC_CHECK: pidfd_open: \(failure)"))
        }
        return .wait(fd: fd, events: SocketProbes.readable)
    }

    func ready(events: UInt32, now: Double, scratch: UnsafeMutableRawBufferPointer) -> ProbeStep {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == 0 || (r < 0 && errno == EINTR) { return .wait(fd: fd, events: SocketProbes.readable) }
        pid = 0
        close(fd)
        fd = -1
        return .done(r < 0 ? .down("MISC_CHECK: waitpid failed") : HealthProbes.miscVerdict(command, status: status, dynamic: dynamic))
    }

    func expired() -> ProbeResult {
        cancel()
        return .down(HealthProbes.miscTimedOut(command, timeout))
    }

    /// Kills the script and reaps it (SIGKILL cannot be caught: the wait is short).
    func cancel() {
        if pid > 0 { HealthProbes.killScript(pid) }
        pid = 0
        if fd >= 0 { close(fd) }
        fd = -1
    }
}
