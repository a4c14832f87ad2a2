// The VRRP socket: IP protocol 112 on one interface. Adverts go out whole, our own IPv4 header
// included (TTL 255, as RFC 5798 section 5.1.1.3 requires and receivers check), to 224.0.0.18 or
// to unicast peers; what comes in is handed over with its IPv4 header, for the advert codec to
// check. The protocol logic lives elsewhere (pure); this file only moves bytes.
import CSwitchyard
import Glibc
import SwitchyardCore

public final class VRRPSocket: @unchecked Sendable {
    /// IANA's protocol number for VRRP.
    public static let ipProtocol: Int32 = 112
    /// The VRRP IPv4 multicast group, 224.0.0.18.
    public static let multicastGroup = IPv4Address(0xE000_0012)

    public let fd: Int32
    public let interface: String

    /// A raw socket for VRRP on `interface` (kernel index `index`), joined to 224.0.0.18 unless
    /// the instance speaks only to unicast peers. Non-blocking: `receive` says when nothing is
    /// waiting, and `wait` polls.
    public init(interface: String, index: Int32, multicast: Bool) throws(SystemError) {
        let fd = try systemCall("socket(AF_INET, SOCK_RAW, 112)", valueOrErrno {
            socket(AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                   Self.ipProtocol)
        })
        // Every option is set before a stored property is: a throw after the last one would run
        // deinit, which closes fd a second time (maybe someone else's by then).
        do throws(SystemError) {
            // We write the IPv4 header ourselves: TTL 255 and TOS as keepalived sends them.
            try setSocketOption(fd, Int32(IPPROTO_IP), IP_HDRINCL, Int32(1), "IP_HDRINCL", interface)
            // Only this interface's adverts, and ours leave by it alone.
            try bindToDevice(fd, interface)
            if multicast {
                var request = ip_mreqn()
                request.imr_multiaddr.s_addr = Self.multicastGroup.value.bigEndian
                request.imr_ifindex = index
                try setSocketOption(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, request, "IP_ADD_MEMBERSHIP 224.0.0.18", interface)
                try setSocketOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, request, "IP_MULTICAST_IF", interface)
                // Our own adverts are not news to us.
                try setSocketOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, UInt8(0), "IP_MULTICAST_LOOP", interface)
            }
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        self.interface = interface
    }

    deinit { close(fd) }

    /// Sends one whole IPv4 packet (header included) to `destination`.
    public func send(_ packet: UnsafeRawBufferPointer, to destination: IPv4Address) throws(SystemError) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = destination.value.bigEndian
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                valueOrErrno(retryingOnInterrupt: true) {
                    sendto(fd, packet.baseAddress, packet.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        _ = try systemCall("sendto \(destination) (VRRP)", detail: interface, sent)
    }

    /// Reads one waiting packet into `buffer`: its length, IPv4 header included; nil when none
    /// is waiting (or on an error, which the next poll would show again).
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        switch valueOrErrno(retryingOnInterrupt: true, { recv(fd, buffer.baseAddress, buffer.count, 0) }) {
        case .success(let n): return n
        case .failure: return nil
        }
    }

    /// Waits up to `milliseconds` for a packet; true if one is waiting.
    public func wait(milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, milliseconds) > 0 && entry.revents & Int16(POLLIN) != 0
    }
}
