// SMTP_CHECK as a nonblocking state machine on the checkers' event loop, keepalived's exchange
// (check_smtp.c): a 220 greeting, `HELO helo_name` answered 250, `QUIT` answered; all of it
// within connect_timeout. Where keepalived reads only the first line of a reply, this reads a
// whole reply (RFC 5321 §4.2: `220-…` lines continue it), so a multi-line greeting also passes.
import Glibc
import SwitchyardCore
import SwitchyardIO

final class SMTPProbe: OneSocketProbe {
    private enum Phase { case connecting, greeting, sendingHelo, helo, sendingQuit, quit }
    let address: IPAddressBits, port: UInt16, helo: String, timeout: Double
    private(set) var deadline = 0.0
    var fd: Int32 = -1
    private var phase = Phase.connecting
    private var line: [UInt8] = []
    private var outgoing: [UInt8] = []
    private var sent = 0

    /// The most a reply may hold before the server counts as broken (keepalived: 512 bytes a line).
    static let maxReply = 16_384

    init(_ address: IPAddressBits, _ port: UInt16, helo: String, timeout: Double) {
        (self.address, self.port, self.helo, self.timeout) = (address, port, helo, timeout)
    }

    func start(now: Double) -> ProbeStep {
        deadline = now + timeout
        let (started, reason) = HealthProbes.beginConnect(address, port)
        guard let s = started else { return .done(.down("SMTP_CHECK: \(reason)")) }
        (fd, phase, line) = (s, .connecting, [])
        return .wait(fd: s, events: SocketProbes.writable)
    }

    func ready(events: UInt32, now: Double, scratch: UnsafeMutableRawBufferPointer) -> ProbeStep {
        switch phase {
        case .connecting:
            if let failed = HealthProbes.connectOutcome(fd, address, port) { return finish(.down("SMTP_CHECK: \(failed)")) }
            phase = .greeting
            return .wait(fd: fd, events: SocketProbes.readable)
        case .sendingHelo, .sendingQuit:
            return send()
        case .greeting, .helo, .quit:
            let n = recv(fd, scratch.baseAddress, scratch.count, 0)
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { return .wait(fd: fd, events: SocketProbes.readable) }
                return finish(.down("SMTP_CHECK: reading from \(address.withPort(port)): \(String(cString: strerror(errno)))"))
            }
            if n == 0 { return finish(.down("SMTP_CHECK: \(address.withPort(port)) closed the connection \(waitingFor)")) }
            line.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
            guard let status = Self.replyStatus(line) else {
                if line.count > Self.maxReply { return finish(.down("SMTP_CHECK: a reply longer than \(Self.maxReply) bytes")) }
                return .wait(fd: fd, events: SocketProbes.readable)
            }
            line = []
            return advance(status)
        }
    }

    /// The next step once a whole reply with this status (-1: not a status) has come in.
    private func advance(_ status: Int) -> ProbeStep {
        switch phase {
        case .greeting:
            guard status == 220 else { return finish(.down("SMTP_CHECK: greeting status \(status), expected 220")) }
            (phase, outgoing, sent) = (.sendingHelo, Array("HELO \(helo)\r\n".utf8), 0)
            return send()
        case .helo:
            guard status == 250 else { return finish(.down("SMTP_CHECK: HELO answered \(status), expected 250")) }
            (phase, outgoing, sent) = (.sendingQuit, Array("QUIT\r\n".utf8), 0)
            return send()
        default:
            // keepalived takes any answer to QUIT.
            return finish(.up)
        }
    }

    private func send() -> ProbeStep {
        while sent < outgoing.count {
            let n = outgoing.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return .wait(fd: fd, events: SocketProbes.writable) }
            return finish(.down("SMTP_CHECK: sending to \(address.withPort(port)) failed"))
        }
        phase = phase == .sendingHelo ? .helo : .quit
        return .wait(fd: fd, events: SocketProbes.readable)
    }

    /// The status of a complete reply: its last line is `NNN` alone or `NNN text`; lines
    /// `NNN-text` before it continue it. nil while the reply is incomplete; -1 for a last line
    /// that does not start with three digits.
    static func replyStatus(_ bytes: [UInt8]) -> Int? {
        var start = 0
        while let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var line = bytes[start..<end]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            start = end + 1
            let digits = line.prefix(3)
            let continued = line.count > 3 && line[line.startIndex + 3] == UInt8(ascii: "-")
            if continued && digits.allSatisfy({ (48...57).contains($0) }) { continue }
            guard digits.count == 3, digits.allSatisfy({ (48...57).contains($0) }),
                  line.count == 3 || line[line.startIndex + 3] == UInt8(ascii: " ") else { return -1 }
            return digits.reduce(0) { $0 * 10 + Int($1 - 48) }
        }
        return nil
    }

    private var waitingFor: String {
        switch phase {
        case .greeting: "before its greeting"
        case .helo: "before answering HELO"
        default: "before answering QUIT"
        }
    }


    func expired() -> ProbeResult {
        let stage = phase
        cancel()
        switch stage {
        case .connecting: return .down("SMTP_CHECK: \(HealthProbes.connectTimedOut(address, port, timeout))")
        case .greeting: return .down("SMTP_CHECK: no greeting from \(address.withPort(port)) within \(timeout) s")
        case .sendingHelo, .sendingQuit: return .down("SMTP_CHECK: sending to \(address.withPort(port)) failed")
        case .helo: return .down("SMTP_CHECK: no answer to HELO within \(timeout) s")
        case .quit: return .down("SMTP_CHECK: no answer to QUIT within \(timeout) s")
        }
    }

}
