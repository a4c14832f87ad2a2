// The IPv6 VRRP socket: next header 112 on one interface, joined to ff02::12. An IPv6 raw socket
// sends and receives the VRRP message alone; the header's words travel beside it (IPV6_PKTINFO
// names our link-local source on the way out; on the way in recvmsg gives the source, the
// destination and the hop limit, which the advert codec checks is 255). The protocol logic lives
// elsewhere (pure); this file only moves bytes.
import CSwitchyard
import Glibc
import SwitchyardCore

public final class VRRPSocket6: @unchecked Sendable {
    /// ff02::12, the IPv6 VRRP group (RFC 5798 §5.1.2.2).
    public static let multicastGroup = IPAddressBits(high: 0xFF02_0000_0000_0000, low: 0x12)

    public let fd: Int32
    public let interface: String
    public let index: Int32

    /// One waiting datagram: its length and what its IPv6 header said.
    public struct Received: Sendable, Equatable {
        public var length: Int
        public var source: IPAddressBits
        public var destination: IPAddressBits
        public var hopLimit: UInt8
    }

    /// A raw IPv6 socket for VRRP on `interface` (kernel index `index`), joined to ff02::12 unless
    /// its instances speak only to unicast peers; hop limit 255 out, both ways. Non-blocking.
    public init(interface: String, index: Int32, multicast: Bool) throws(SystemError) {
        let fd = try systemCall("socket(AF_INET6, SOCK_RAW, 112)", valueOrErrno {
            socket(AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                   VRRPSocket.ipProtocol)
        })
        // As VRRPSocket: every option before a stored property.
        do throws(SystemError) {
            try bindToDevice(fd, interface)
            try setSocketOption(fd, Int32(IPPROTO_IPV6), IPV6_UNICAST_HOPS, Int32(255), "IPV6_UNICAST_HOPS", interface)
            try setSocketOption(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, Int32(255), "IPV6_MULTICAST_HOPS", interface)
            // Internetwork control, as keepalived sends it (the IPv4 socket's TOS 0xC0).
            try setSocketOption(fd, Int32(IPPROTO_IPV6), IPV6_TCLASS, Int32(0xC0), "IPV6_TCLASS", interface)
            _ = try systemCall("IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT", detail: interface, valueOrErrno { sy_ipv6_receive_info(fd) })
            if multicast {
                try setSocketOption(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, index, "IPV6_MULTICAST_IF", interface)
                // Our own adverts are not news to us.
                try setSocketOption(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_LOOP, Int32(0), "IPV6_MULTICAST_LOOP", interface)
                let joined = valueOrErrno { sy_ipv6_group(fd, index, Self.multicastGroup.octets, 1) }
                _ = try systemCall("IPV6_ADD_MEMBERSHIP ff02::12", detail: interface, joined)
            }
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        self.interface = interface
        self.index = index
    }

    deinit { close(fd) }

    /// Sends one VRRP message from `source` (the interface's link-local address) to `destination`.
    public func send(_ message: UnsafeRawBufferPointer, from source: IPAddressBits, to destination: IPAddressBits) throws(SystemError) {
        let sent = valueOrErrno(retryingOnInterrupt: true) {
            sy_ipv6_send(fd, message.baseAddress, message.count, source.octets, destination.octets, index)
        }
        _ = try systemCall("sendto \(destination) (VRRP)", detail: interface, sent)
    }

    /// Reads one waiting datagram into `buffer`; nil when none is waiting (or on an error, which
    /// the next poll would show again).
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> Received? {
        var source = [UInt8](repeating: 0, count: 16), destination = [UInt8](repeating: 0, count: 16)
        var hopLimit: Int32 = -1
        let result = valueOrErrno(retryingOnInterrupt: true) {
            sy_ipv6_receive(fd, buffer.baseAddress, buffer.count, &source, &destination, &hopLimit)
        }
        guard case .success(let n) = result else { return nil }
        // No hop limit said: 0, which no multicast advert passes.
        return Received(length: n, source: IPAddressBits(octets: source), destination: IPAddressBits(octets: destination),
                        hopLimit: UInt8(clamping: max(0, hopLimit)))
    }
}
