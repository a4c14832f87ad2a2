// The AF_XDP receive path on one interface (`--io af_xdp`): our XDP program's address sets
// and the socket's batches, over the C side in CSwitchyard/xdp.c.

import CSwitchyard
import Glibc
import SwitchyardCore

/// How workers receive.
public enum RXMode: String, Sendable, CaseIterable {
    /// AF_PACKET TPACKET_V3 rings in fanout groups, with a libpcap filter.
    case afPacket = "af_packet"
    /// An XDP program redirecting the engine's frames to an AF_XDP socket (copy mode, queue 0):
    /// the kernel's receive path skips the packet taps and the IP layer for them.
    case afXDP = "af_xdp"
}

/// Our XDP program on one interface and the AF_XDP socket it feeds (`--io af_xdp`). Frames
/// arrive in batches: `receive`, read each with `next`, then `release` the batch.
public final class XDPReceiver: @unchecked Sendable {
    let handle: OpaquePointer
    public let fd: Int32
    /// The VIPs last set, and the local addresses the program now lets through to the kernel
    /// (network order, sorted): the control thread and the engine's main loop both update them.
    private let sets = Locked((vips: [IPv4Address](), locals: [UInt32]()))

    public init(interface: InterfaceInfo) throws {
        var message = [CChar](repeating: 0, count: 1024)
        guard let h = sy_xdp_open(interface.name, Int32(interface.index), &message, message.count) else {
            throw SetupError("AF_XDP on \(interface.name): \(cString(message))")
        }
        handle = h
        fd = sy_xdp_fd(h)
    }

    deinit { sy_xdp_close(handle) }

    /// Redirects these VIPs and NAT reply endpoints (plus ICMP from those servers) from now on;
    /// packets to this machine's own addresses (read now, and again by
    /// `refreshLocalAddresses`) stay with the kernel.
    public func setAddresses(vips: [IPv4Address], nat: [KernelGuard.Endpoint]) throws {
        try sets.withLock { s in
            s.vips = vips
            _ = try updateLocals(&s)
            let vipKeys = vips.map(\.value.bigEndian)
            // IPv4 only: the engine refuses IPv6 services with AF_XDP.
            let nat4 = nat.compactMap { e in e.address.ipv4.map { (address: $0, proto: e.proto, port: e.port) } }
            let hosts = Set(nat4.map(\.address))
            let natKeys = nat4.map { sy_xdp_key(address: $0.address.value.bigEndian, proto: $0.proto, pad: 0, port: $0.port.bigEndian) }
                + hosts.map { sy_xdp_key(address: $0.value.bigEndian, proto: IPProtocol.icmp, pad: 0, port: 0) }
            _ = try systemCall("updating the XDP program's address maps", valueOrErrno {
                sy_xdp_set_vips(handle, vipKeys, UInt32(vipKeys.count))
            }.flatMap { _ in valueOrErrno { sy_xdp_set_nat(handle, natKeys, UInt32(natKeys.count)) } })
        }
    }

    /// Reads this machine's addresses again and, if they changed (an address added or removed
    /// since the sets were applied), updates the program's set of them; true if it did. The
    /// engine calls this every second: without it, replies to an address added later (a
    /// health check's source, say) from a NAT real server's port would go to the engine
    /// instead of the kernel.
    public func refreshLocalAddresses() throws -> Bool {
        try sets.withLock { try updateLocals(&$0) }
    }

    private func updateLocals(_ s: inout (vips: [IPv4Address], locals: [UInt32])) throws -> Bool {
        let vips = s.vips
        let locals = localIPv4Addresses().filter { !vips.contains($0) }.map(\.value.bigEndian).sorted()
        guard locals != s.locals else { return false }
        _ = try systemCall("updating the XDP program's local addresses", valueOrErrno {
            sy_xdp_set_locals(handle, locals, UInt32(locals.count))
        })
        s.locals = locals
        return true
    }

    /// Takes a batch of up to 64 descriptors; returns how many (0: nothing arrived).
    @inline(__always)
    public func receive() -> Int { Int(sy_xdp_receive(handle)) }

    /// The batch's next frame (valid until the next call), or nil at its end.
    @inline(__always)
    public func next() -> (UnsafeMutableRawPointer, Int)? {
        var length: UInt32 = 0
        guard let data = sy_xdp_next(handle, &length) else { return nil }
        return (data, Int(length))
    }

    /// How many of the batch's descriptors `next` has taken so far.
    @inline(__always)
    public var position: Int { Int(sy_xdp_position(handle)) }

    /// Descriptor `i` of the batch, read ahead: its frame if the frame is in it alone.
    @inline(__always)
    public func peek(_ i: Int) -> (UnsafeMutableRawPointer, Int)? {
        var length: UInt32 = 0
        guard let data = sy_xdp_peek(handle, UInt32(i), &length) else { return nil }
        return (data, Int(length))
    }

    /// Gives the batch's frames back to the kernel.
    @inline(__always)
    public func release() { sy_xdp_release(handle) }
}

/// Every IPv4 address on this machine's interfaces (getifaddrs).
func localIPv4Addresses() -> [IPv4Address] {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0 else { return [] }
    defer { freeifaddrs(list) }
    var result: [IPv4Address] = []
    var entry = list
    while let e = entry {
        if let address = e.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) {
            let v4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            result.append(IPv4Address(UInt32(bigEndian: v4)))
        }
        entry = e.pointee.ifa_next
    }
    return result
}
