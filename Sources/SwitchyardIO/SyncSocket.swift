// The UDP sockets of connection sync (IPVS sync protocol version 1, as keepalived's
// `lvs_sync_daemon` configures it): the master's sender, which puts datagrams on the sync
// interface towards the group (224.0.0.81:8848 by default) or a unicast peer, and the backup's
// receiver, bound to the sync port, joined to the group on that interface. Only bytes move here;
// the codec, the authentication envelope and the sender/receiver logic live in SwitchyardControl.
//
// The kernel's own sync daemon sets its sockets up the same way (net/netfilter/ipvs/ip_vs_sync.c,
// make_send_sock and make_receive_sock): multicast interface, loop off and TTL on the sender;
// address reuse, group membership and a bound device on the receiver.
import CSwitchyard   // <sys/socket.h>'s SOCK_* (Glibc alone does not show them in a release build)
import Glibc
import SwitchyardCore

/// Where a kernel master sends by default, and where the receiver listens by default
/// (`IP_VS_SYNC_GROUP`, `IP_VS_SYNC_PORT`; SyncProtocol in SwitchyardControl names the same).
public enum SyncSocketDefaults {
    /// The sync multicast group, 224.0.0.81.
    public static let group = IPv4Address(0xE000_0051)
    /// The sync UDP port, 8848.
    public static let port: UInt16 = 8848
    /// keepalived's default multicast TTL for sync: 1, the datagrams stay on the link.
    public static let ttl: UInt8 = 1
}

/// The master's end: a UDP socket that sends sync datagrams out of the sync interface.
///
/// No SO_BINDTODEVICE: IP_MULTICAST_IF already makes multicast leave by the sync interface (the
/// kernel's sync daemon does no more), and a unicast peer is reached the way the routing table
/// says, as keepalived's unicast peers are. Binding to the device would only turn a unicast peer
/// behind another interface into a silent EHOSTUNREACH, and would need CAP_NET_RAW on older
/// kernels for nothing.
public final class SyncSender: @unchecked Sendable {
    /// The socket, non-blocking; poll it for POLLOUT after `send` said the buffer was full.
    public let fd: Int32
    /// The sync interface's name, for error messages.
    public let interface: String
    /// Where every datagram goes: the group, or a unicast peer.
    public let destination: IPv4Address
    /// The destination's UDP port.
    public let port: UInt16

    /// A sender on `interface` (kernel index `index`) towards `destination`:`port`, multicast
    /// datagrams with TTL `ttl` and not looped back to this host.
    public init(interface: String, index: Int32, destination: IPv4Address = SyncSocketDefaults.group,
                port: UInt16 = SyncSocketDefaults.port, ttl: UInt8 = SyncSocketDefaults.ttl) throws(SystemError) {
        let fd = try systemCall("socket(AF_INET, SOCK_DGRAM) for sync", valueOrErrno {
            socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        // Every option is set before a stored property is: a throw after the last one would run
        // deinit, which closes fd a second time (maybe someone else's by then).
        do throws(SystemError) {
            var request = ip_mreqn()
            request.imr_ifindex = index
            // Multicast leaves by the sync interface, with that interface's primary address as
            // its source (what the receiver compares to recognise its own).
            try setSocketOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, request, "IP_MULTICAST_IF", interface)
            // IP_MULTICAST_TTL takes an int or a byte; an int, as ip(7) documents.
            try setSocketOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, Int32(ttl), "IP_MULTICAST_TTL \(ttl)", interface)
            // Our own messages are not news to a receiver on this host.
            try setSocketOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, Int32(0), "IP_MULTICAST_LOOP", interface)
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        self.interface = interface
        self.destination = destination
        self.port = port
    }

    deinit { close(fd) }

    /// Sends one datagram to the destination. False when the socket's buffer is full (poll `fd`
    /// for POLLOUT and send again); throws for anything else (no route, interface down, a
    /// datagram too long for UDP).
    public func send(_ datagram: UnsafeRawBufferPointer) throws(SystemError) -> Bool {
        var address = socketAddress(destination, port)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                valueOrErrno(retryingOnInterrupt: true) {
                    sendto(fd, datagram.baseAddress, datagram.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        if case .failure(let e) = sent, e.rawValue == EAGAIN || e.rawValue == EWOULDBLOCK { return false }
        _ = try systemCall("sendto \(destination):\(port) (sync)", detail: interface, sent)
        return true
    }

    /// The same, from an array.
    public func send(_ datagram: [UInt8]) throws(SystemError) -> Bool {
        // withUnsafeBytes rethrows untyped: carry the typed error out in a Result.
        let result = datagram.withUnsafeBytes { raw in Result { () throws(SystemError) -> Bool in try send(raw) } }
        return try result.get()
    }
}

/// One datagram the receiver read.
public struct SyncReceived: Sendable, Equatable {
    /// Bytes written into the buffer.
    public var length: Int
    /// The sender's IPv4 address and UDP port.
    public var source: IPv4Address
    public var sourcePort: UInt16
    /// The datagram was longer than the buffer and its tail is lost (`length` is what fitted).
    public var truncated: Bool

    /// A datagram as it was read.
    public init(length: Int, source: IPv4Address, sourcePort: UInt16, truncated: Bool) {
        self.length = length
        self.source = source
        self.sourcePort = sourcePort
        self.truncated = truncated
    }
}

/// The backup's end: a UDP socket on the sync port that takes datagrams arriving on the sync
/// interface only, sent to the group (once joined) or to this host.
public final class SyncReceiver: @unchecked Sendable {
    /// The socket, non-blocking; watch it with poll or epoll for POLLIN.
    public let fd: Int32
    /// The sync interface's name, for error messages.
    public let interface: String
    /// The UDP port it is bound to (the one asked for, or the kernel's choice for 0).
    public let port: UInt16
    /// The group it joined on the interface; nil when it takes unicast only.
    public let group: IPv4Address?
    /// The interface's primary IPv4 address when the receiver was made: the source of this host's
    /// own multicast datagrams, so a datagram from it is ours (nil if the interface had none).
    public let ownAddress: IPv4Address?

    /// A receiver on `interface` (kernel index `index`) bound to `port` (0: any free port, for
    /// tests), joined to `group` on that interface unless `group` is nil. With
    /// `receiveBufferBytes`, SO_RCVBUF is raised so that a master's burst (a catch-up walk of
    /// its whole flow table) waits in the kernel rather than being dropped.
    public init(interface: String, index: Int32, group: IPv4Address? = SyncSocketDefaults.group,
                port: UInt16 = SyncSocketDefaults.port, receiveBufferBytes: Int32? = nil) throws(SystemError) {
        let fd = try systemCall("socket(AF_INET, SOCK_DGRAM) for sync", valueOrErrno {
            socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        let boundPort: UInt16
        // Every step is done before a stored property is set (see SyncSender.init).
        do throws(SystemError) {
            boundPort = try Self.configure(fd, interface: interface, index: index, group: group, port: port,
                                           receiveBufferBytes: receiveBufferBytes)
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        self.interface = interface
        self.group = group
        self.port = boundPort
        self.ownAddress = (try? InterfaceInfo.lookup(interface))?.address
    }

    /// Binds `fd` to the interface and port and joins the group; the port it got.
    private static func configure(_ fd: Int32, interface: String, index: Int32, group: IPv4Address?, port: UInt16,
                                  receiveBufferBytes: Int32?) throws(SystemError) -> UInt16 {
        // Another receiver on this host (a second instance, a restart while the old socket
        // lingers) may share the port, as the kernel's receive socket allows.
        try setSocketOption(fd, SOL_SOCKET, SO_REUSEADDR, Int32(1), "SO_REUSEADDR", interface)
        // Only datagrams that arrived on the sync interface: the protocol authenticates
        // nothing, so a message from any other network must not reach the flow table (the
        // kernel's receive socket is bound to its device too). Linux since 5.7 lets an
        // unprivileged socket bind a device once; older ones want CAP_NET_RAW.
        try bindToDevice(fd, interface)
        if let size = receiveBufferBytes {
            try setSocketOption(fd, SOL_SOCKET, SO_RCVBUF, size, "SO_RCVBUF \(size)", interface)
        }
        // Bound to the wildcard address, so that a unicast master reaches us too; with
        // IP_MULTICAST_ALL off, only the groups this socket joined come in, not every group
        // some other socket on this host joined.
        try setSocketOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_ALL, Int32(0), "IP_MULTICAST_ALL", interface)
        var address = socketAddress(IPv4Address(0), port)
        let bind = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                valueOrErrno { Glibc.bind(fd, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        _ = try systemCall("bind UDP port \(port) (sync)", detail: interface, bind)
        if let group {
            var request = ip_mreqn()
            request.imr_multiaddr.s_addr = group.value.bigEndian
            request.imr_ifindex = index
            try setSocketOption(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, request, "IP_ADD_MEMBERSHIP \(group)", interface)
        }
        var name = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &name) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in valueOrErrno { getsockname(fd, sa, &length) } }
        }
        _ = try systemCall("getsockname (sync)", detail: interface, named)
        return UInt16(bigEndian: name.sin_port)
    }

    deinit { close(fd) }

    /// True when `source` is this host's own address on the sync interface: a datagram we sent.
    public func isOwn(_ source: IPv4Address) -> Bool { source == ownAddress }

    /// Reads one waiting datagram into `buffer`: its length and sender, nil when none is waiting.
    /// Throws for other failures (the socket is broken; polling again would not help).
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> SyncReceived? {
        var source = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        // MSG_TRUNC: a UDP socket then returns the datagram's real length, so a datagram cut
        // short by a small buffer is told apart from one that fitted exactly.
        let received = withUnsafeMutablePointer(to: &source) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                valueOrErrno(retryingOnInterrupt: true) {
                    recvfrom(fd, buffer.baseAddress, buffer.count, Int32(MSG_TRUNC), sa, &length)
                }
            }
        }
        if case .failure(let e) = received, e.rawValue == EAGAIN || e.rawValue == EWOULDBLOCK { return nil }
        let count = try systemCall("recvfrom (sync)", detail: interface, received)
        return SyncReceived(length: min(count, buffer.count), source: IPv4Address(UInt32(bigEndian: source.sin_addr.s_addr)),
                            sourcePort: UInt16(bigEndian: source.sin_port), truncated: count > buffer.count)
    }

    /// Waits up to `milliseconds` for a datagram; true if one is waiting.
    public func wait(milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, milliseconds) > 0 && entry.revents & Int16(POLLIN) != 0
    }
}

/// An IPv4 socket address in network byte order.
private func socketAddress(_ address: IPv4Address, _ port: UInt16) -> sockaddr_in {
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_port = port.bigEndian
    a.sin_addr.s_addr = address.value.bigEndian
    return a
}
