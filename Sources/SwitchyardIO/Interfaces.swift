// What the kernel knows about the interfaces the engine forwards on: identity (index, MAC,
// MTU, address, IPv6 link-local address), routes, neighbours, and GRO, which the engine turns
// off and back on.

import CSwitchyard
import Glibc
import SwitchyardCore

/// What the engine needs to know about the interface it forwards on.
public struct InterfaceInfo: Sendable, CustomStringConvertible {
    public var name: String
    public var index: Int32
    public var mac: MACAddress
    public var mtu: Int
    /// The interface's primary IPv4 address (the sender address of our ARP requests).
    public var address: IPv4Address?

    public static func lookup(_ name: String) throws -> InterfaceInfo {
        var index: Int32 = 0
        var mac: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        var mtu: Int32 = 0
        var address: UInt32 = 0
        _ = try systemCall("reading interface \(name)", detail: "is the name right? see `ip link`", valueOrErrno {
            withUnsafeMutableBytes(of: &mac) { raw in
                sy_interface_info(name, &index, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), &mtu, &address)
            }
        })
        let a = UInt32(bigEndian: address)
        return InterfaceInfo(name: name, index: index, mac: MACAddress(mac), mtu: Int(mtu),
                             address: a == 0 ? nil : IPv4Address(a))
    }

    public var description: String {
        "\(name) (index \(index), \(mac), mtu \(mtu)\(address.map { ", \($0)" } ?? ""))"
    }
}

/// One IPv4 route from the kernel's main table (/proc/net/route).
public struct Route: Sendable, Equatable {
    public var interface: String
    public var destination: UInt32
    public var mask: UInt32
    public var gateway: UInt32
    public var metric: Int

    /// The kernel's IPv4 routes (host byte order).
    public static func all() -> [Route] {
        guard let text = readSmallFile("/proc/net/route") else { return [] }
        return parse(text)
    }

    /// Parses /proc/net/route text: addresses there are hex in the kernel's (little-endian) order.
    public static func parse(_ text: String) -> [Route] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 8, let d = UInt32(f[1], radix: 16), let g = UInt32(f[2], radix: 16),
                  let flags = UInt32(f[3], radix: 16), flags & 1 != 0, let metric = Int(f[6]),
                  let m = UInt32(f[7], radix: 16) else { return nil }
            return Route(interface: String(f[0]), destination: d.byteSwapped, mask: m.byteSwapped,
                         gateway: g.byteSwapped, metric: metric)
        }
    }

    /// The most specific route to `address` (lowest metric among equals), as the kernel picks.
    public static func best(to address: IPv4Address, in routes: [Route]) -> Route? {
        routes.filter { address.value & $0.mask == $0.destination }
            .max { ($0.mask.nonzeroBitCount, -$0.metric) < ($1.mask.nonzeroBitCount, -$1.metric) }
    }
}

/// The kernel's IPv4 neighbour table (/proc/net/arp): complete entries only.
public enum NeighbourTable {
    public static func read(interface: String) -> [IPv4Address: MACAddress] {
        guard let text = readSmallFile("/proc/net/arp") else { return [:] }
        return parse(text, interface: interface)
    }

    public static func parse(_ text: String, interface: String) -> [IPv4Address: MACAddress] {
        var out: [IPv4Address: MACAddress] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(whereSeparator: { $0 == " " })
            // IP address, HW type, Flags, HW address, Mask, Device; flag 0x2 = ATF_COM (complete).
            guard f.count >= 6, f[5] == interface, let flags = UInt32(f[2].dropFirst(2), radix: 16), flags & 0x2 != 0,
                  let ip = IPv4Address(f[0]), let mac = MACAddress(f[3]), mac != .zero else { continue }
            out[ip] = mac
        }
        return out
    }
}

/// The kernel's IPv6 addresses of the interfaces (/proc/net/if_inet6).
public enum InterfaceAddresses6 {
    /// The interface's link-local address (the source of its neighbour solicitations and IPv6
    /// VRRP adverts), if it has one that is usable (not tentative, not failed duplicate address
    /// detection). One added without duplicate address detection is taken only when there is no
    /// other: that is how a VRRP master holds a virtual link-local address (keepalived, and us),
    /// but also how some hosts set their own.
    public static func linkLocal(of interface: String) -> IPAddressBits? {
        readSmallFile("/proc/net/if_inet6").flatMap { linkLocal(in: $0, of: interface) }
    }

    /// Per line: address (32 hex digits), interface index, prefix length, scope (0x20: link)
    /// and flags (0x40 tentative, 0x08 duplicate address detection failed, 0x02 added without
    /// it), all hex, and the interface's name.
    public static func linkLocal(in text: String, of interface: String) -> IPAddressBits? {
        var withoutDAD: IPAddressBits?
        for line in text.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 6, f[5] == interface, let scope = UInt32(f[3], radix: 16), scope == 0x20,
                  let flags = UInt32(f[4], radix: 16), flags & 0x48 == 0, let address = Route6.address(f[0])
            else { continue }
            if flags & 0x02 == 0 { return address }
            if withoutDAD == nil { withoutDAD = address }
        }
        return withoutDAD
    }

    /// Whether the interface forwards IPv6 (net.ipv6.conf.IF.forwarding): a router's
    /// advertisements carry the router flag.
    public static func forwards(_ interface: String) -> Bool {
        readSmallFile("/proc/sys/net/ipv6/conf/\(interface)/forwarding")?.hasPrefix("1") ?? false
    }
}

/// Generic receive offload: merged frames would exceed the MTU and could not be re-sent as
/// they are, so the engine turns GRO off on its interface and restores it on exit.
public enum GenericReceiveOffload {
    /// Turns GRO off; returns the state to restore (nil if it could not be read or was off).
    /// Whether GRO is on (nil: the interface cannot say).
    public static func isOn(_ interface: String) -> Bool? {
        let state = sy_gro_get(interface)
        return state < 0 ? nil : state == 1
    }

    public static func disable(on interface: String) -> Bool? {
        let state = sy_gro_get(interface)
        guard state == 1 else { return nil }
        return sy_gro_set(interface, 0) == 0 ? true : nil
    }

    public static func restore(on interface: String) { _ = sy_gro_set(interface, 1) }
}
