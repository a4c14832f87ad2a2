// PING_CHECK's echo, for both families: a raw ICMP socket (IPv4, the IP header comes first on
// reading) or a raw ICMPv6 one (RFC 3542: no IP header, the kernel fills in the checksum, the
// sender is recvfrom's), one echo request, and the test that a packet read is its reply. The
// blocking probe is here; the event loop's (PingProbe) shares the pieces.
import Glibc
import SwitchyardCore

extension HealthProbes {
    /// A raw ICMP or ICMPv6 socket for PING_CHECK (needs root or CAP_NET_RAW), or why there is none.
    static func pingSocket(for address: IPAddressBits, nonblocking: Bool) -> (Int32?, String) {
        let flags = Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (nonblocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        let fd = address.isV4 ? socket(AF_INET, flags, Int32(IPPROTO_ICMP)) : socket(AF_INET6, flags, Int32(IPPROTO_ICMPV6))
        guard fd >= 0 else { return (nil, "PING_CHECK: raw socket: \(String(cString: strerror(errno)))") }
        return (fd, "")
    }

    /// Sends one echo request (ICMP type 8, ICMPv6 type 128); nil if it went out, else the reason.
    static func sendEcho(_ fd: Int32, to address: IPAddressBits, identifier: UInt16, sequence: UInt16) -> String? {
        var packet: [UInt8] = [address.isV4 ? 8 : 128, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xFF),
                               UInt8(sequence >> 8), UInt8(sequence & 0xFF)] + Array("switchyard-check".utf8)
        if address.isV4 {
            let sum = packet.withUnsafeBytes { InternetChecksum.checksum($0.baseAddress!, $0.count) }
            packet[2] = UInt8(sum >> 8)
            packet[3] = UInt8(sum & 0xFF)
        }
        let sent = withSocketAddress(address, 0) { dst, length in
            packet.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, dst, length) }
        }
        return sent == packet.count ? nil : "PING_CHECK: sending failed: \(String(cString: strerror(errno)))"
    }

    /// Reads one packet waiting on a ping socket: nil if none waits, else whether it is the
    /// reply to our request (a raw socket sees every ICMP packet the host gets).
    static func readEcho(_ fd: Int32, _ scratch: UnsafeMutableRawBufferPointer, from address: IPAddressBits,
                         identifier: UInt16, sequence: UInt16) -> Bool? {
        var from = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let n = withUnsafeMutablePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                recvfrom(fd, scratch.baseAddress, scratch.count, Int32(MSG_DONTWAIT), $0, &length)
            }
        }
        guard n >= 0 else { return nil }
        let bytes = UnsafeRawBufferPointer(scratch)
        if address.isV4 { return isEchoReply(bytes, n, from: address, identifier: identifier, sequence: sequence) }
        let sender = withUnsafeBytes(of: from.sin6_addr) { raw in
            IPAddressBits(high: UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)),
                          low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        return sender == address && isEchoReply6(bytes, n, identifier: identifier, sequence: sequence)
    }

    /// Whether `n` bytes read from a raw ICMP socket (IPv4 header first) are our echo reply.
    static func isEchoReply(_ buffer: UnsafeRawBufferPointer, _ n: Int, from address: IPAddressBits, identifier: UInt16,
                            sequence: UInt16) -> Bool {
        guard n >= 28 else { return false }
        let ihl = Int(buffer[0] & 0x0F) * 4
        guard n >= ihl + 8 else { return false }
        let source = UInt32(buffer[12]) << 24 | UInt32(buffer[13]) << 16 | UInt32(buffer[14]) << 8 | UInt32(buffer[15])
        return buffer[ihl] == 0 && source == address.v4
            && UInt16(buffer[ihl + 4]) << 8 | UInt16(buffer[ihl + 5]) == identifier
            && UInt16(buffer[ihl + 6]) << 8 | UInt16(buffer[ihl + 7]) == sequence
    }

    /// Whether `n` bytes read from a raw ICMPv6 socket (the message alone) are our echo reply (129).
    static func isEchoReply6(_ buffer: UnsafeRawBufferPointer, _ n: Int, identifier: UInt16, sequence: UInt16) -> Bool {
        n >= 8 && buffer[0] == 129 && buffer[1] == 0
            && UInt16(buffer[4]) << 8 | UInt16(buffer[5]) == identifier
            && UInt16(buffer[6]) << 8 | UInt16(buffer[7]) == sequence
    }

    static func pingTimedOut(_ address: IPAddressBits, _ timeout: Double) -> String {
        "PING_CHECK: no echo reply from \(address) within \(timeout) s"
    }

    /// PING_CHECK: an echo reply within the timeout (raw socket: needs root).
    public static func ping(_ address: IPAddressBits, timeout: Double) -> ProbeResult {
        let (opened, reason) = pingSocket(for: address, nonblocking: false)
        guard let fd = opened else { return .down(reason) }
        defer { close(fd) }
        let identifier = UInt16(truncatingIfNeeded: getpid()) ^ UInt16(truncatingIfNeeded: pthread_self())
        let sequence = UInt16.random(in: 1...UInt16.max)
        if let failed = sendEcho(fd, to: address, identifier: identifier, sequence: sequence) { return .down(failed) }
        let deadline = monotonicSeconds() + timeout
        var buffer = [UInt8](repeating: 0, count: 1500)
        while true {
            let left = deadline - monotonicSeconds()
            if left <= 0 { return .down(pingTimedOut(address, timeout)) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(left * 1000) + 1) <= 0 { continue }
            let matched = buffer.withUnsafeMutableBytes {
                readEcho(fd, $0, from: address, identifier: identifier, sequence: sequence)
            }
            if matched == true { return .up }
        }
    }
}
