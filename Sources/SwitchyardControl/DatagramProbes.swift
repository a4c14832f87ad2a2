// The UDP checkers as nonblocking state machines on the checkers' event loop: DNS_CHECK (one
// query, answered with no error; keepalived's check_dns.c) and UDP_CHECK (a datagram; up unless
// an ICMP error comes back, or, with require_reply, on a matching reply; check_udp.c). Each
// uses one connected UDP socket, so the kernel reports an ICMP port unreachable as the next
// recv's ECONNREFUSED.
import Glibc
import SwitchyardCore
import SwitchyardIO

enum Datagrams {
    /// A nonblocking UDP socket connected to address:port with `payload` sent, or why not.
    static func send(_ payload: [UInt8], to address: IPAddressBits, _ port: UInt16, checker: String) -> (Int32?, String) {
        let fd = socket(HealthProbes.family(address), Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return (nil, "\(checker): socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        if address.isV4 {
            setsockopt(fd, Int32(SOL_IP), IP_RECVERR, &one, socklen_t(MemoryLayout<Int32>.size))
        } else {
            setsockopt(fd, Int32(SOL_IPV6), IPV6_RECVERR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let sent = HealthProbes.connect(fd, to: address, port) == 0 ? payload.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } : -1
        guard sent == payload.count else {
            let reason = String(cString: strerror(errno))
            close(fd)
            return (nil, "\(checker): sending to \(address.withPort(port)): \(reason)")
        }
        return (fd, "")
    }

    /// Reads one datagram into `scratch`: its length, nil if none is waiting, or the error
    /// (an ICMP port unreachable reads as "Connection refused").
    static func receive(_ fd: Int32, _ scratch: UnsafeMutableRawBufferPointer) -> Result<Int, Errno>? {
        let n = recv(fd, scratch.baseAddress, scratch.count, Int32(MSG_DONTWAIT))
        if n >= 0 { return .success(n) }
        if errno == EAGAIN || errno == EINTR { return nil }
        return .failure(Errno(errno))
    }
}

/// DNS_CHECK's query and its judgement (check_dns.c).
enum DNSQuery {
    /// A query with recursion desired for `name` (empty or "." is the root) of `type`, class IN.
    static func make(id: UInt16, type: DNSRecordType, name: String) -> [UInt8] {
        var q: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            q.append(UInt8(label.utf8.count))
            q += Array(label.utf8)
        }
        q += [0, UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, 1]
        return q
    }

    /// nil if the datagram is not the answer to query `id` (keep waiting, as keepalived);
    /// else up when its RCODE is 0.
    static func judge(_ answer: UnsafeRawBufferPointer, id: UInt16) -> ProbeResult? {
        guard answer.count >= 12, UInt16(answer[0]) << 8 | UInt16(answer[1]) == id, answer[2] & 0x80 != 0 else { return nil }
        let rcode = answer[3] & 0x0F
        return rcode == 0 ? .up : .down("DNS_CHECK: the answer's rcode is \(rcode), expected 0 (no error)")
    }
}

final class DNSProbe: OneSocketProbe {
    let address: IPAddressBits, port: UInt16, type: DNSRecordType, name: String, timeout: Double
    private(set) var deadline = 0.0
    var fd: Int32 = -1
    private let id = UInt16.random(in: 0...UInt16.max)

    init(_ address: IPAddressBits, _ port: UInt16, type: DNSRecordType, name: String, timeout: Double) {
        (self.address, self.port, self.type, self.name, self.timeout) = (address, port, type, name, timeout)
    }

    func start(now: Double) -> ProbeStep {
        deadline = now + timeout
        let (sent, reason) = Datagrams.send(DNSQuery.make(id: id, type: type, name: name), to: address, port,
                                            checker: "DNS_CHECK")
        guard let s = sent else { return .done(.down(reason)) }
        fd = s
        return .wait(fd: s, events: SocketProbes.readable)
    }

    func ready(events: UInt32, now: Double, scratch: UnsafeMutableRawBufferPointer) -> ProbeStep {
        while let got = Datagrams.receive(fd, scratch) {
            switch got {
            case .failure(let e): return finish(.down("DNS_CHECK: \(address.withPort(port)): \(e)"))
            case .success(let n):
                if let verdict = DNSQuery.judge(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), id: id) {
                    return finish(verdict)
                }
            }
        }
        return .wait(fd: fd, events: SocketProbes.readable)
    }


    func expired() -> ProbeResult {
        cancel()
        return .down("DNS_CHECK: no answer from \(address.withPort(port)) within \(timeout) s")
    }

}

final class UDPProbe: OneSocketProbe {
    let address: IPAddressBits, port: UInt16, check: UDPCheck, timeout: Double
    private(set) var deadline = 0.0
    var fd: Int32 = -1

    init(_ address: IPAddressBits, _ port: UInt16, check: UDPCheck, timeout: Double) {
        (self.address, self.port, self.check, self.timeout) = (address, port, check, timeout)
    }

    func start(now: Double) -> ProbeStep {
        deadline = now + timeout
        let (sent, reason) = Datagrams.send(check.payload ?? UDPCheck.defaultPayload, to: address, port, checker: "UDP_CHECK")
        guard let s = sent else { return .done(.down(reason)) }
        fd = s
        return .wait(fd: s, events: SocketProbes.readable)
    }

    func ready(events: UInt32, now: Double, scratch: UnsafeMutableRawBufferPointer) -> ProbeStep {
        // keepalived reads at most max_reply_length + 1 bytes, so a longer reply fails the length.
        let room = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<min(scratch.count, check.maxReplyLength + 1)])
        guard let got = Datagrams.receive(fd, room) else { return .wait(fd: fd, events: SocketProbes.readable) }
        switch got {
        case .failure(let e): return finish(.down("UDP_CHECK: \(address.withPort(port)): \(e)"))
        case .success(let n): return finish(Self.judge(UnsafeRawBufferPointer(rebasing: room[0..<n]), check))
        }
    }

    /// keepalived's check_udp_reply: with reply data, the length within bounds and the bytes
    /// both have (the shorter of the two) equal where the mask has no wildcard.
    static func judge(_ reply: UnsafeRawBufferPointer, _ check: UDPCheck) -> ProbeResult {
        guard let expected = check.reply else { return .up }
        guard (check.minReplyLength...check.maxReplyLength).contains(reply.count) else {
            return .down("UDP_CHECK: a reply of \(reply.count) bytes, expected \(check.minReplyLength) to \(check.maxReplyLength)")
        }
        for i in 0..<min(reply.count, expected.count) {
            let care = ~(check.replyMask?[i] ?? 0)
            if (reply[i] ^ expected[i]) & care != 0 { return .down("UDP_CHECK: the reply differs from require_reply at byte \(i)") }
        }
        return .up
    }


    /// No answer in time: up unless a reply was required (no ICMP error came back).
    func expired() -> ProbeResult {
        cancel()
        return check.requireReply ? .down("UDP_CHECK: no reply from \(address.withPort(port)) within \(timeout) s") : .up
    }

}
