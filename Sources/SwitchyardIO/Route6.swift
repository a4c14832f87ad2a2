// The kernel's IPv6 routes, from /proc/net/ipv6_route, and the route the kernel would pick for
// an address: which interface an IPv6 VIP's clients come from, and whether a real server is
// on-link. Pure parsing, so tests give it text of their own.
import SwitchyardCore

/// An IPv6 route: `destination`/`prefixLength` via `gateway` (nil: on-link) on `interface`.
public struct Route6: Sendable, Equatable {
    public var interface: String
    public var destination: IPAddressBits
    public var prefixLength: Int
    public var gateway: IPAddressBits?
    public var metric: UInt32

    public init(interface: String, destination: IPAddressBits, prefixLength: Int, gateway: IPAddressBits?, metric: UInt32) {
        (self.interface, self.destination, self.prefixLength, self.gateway, self.metric) =
            (interface, destination, prefixLength, gateway, metric)
    }

    /// RTF_UP, RTF_REJECT (an unreachable route) and RTF_LOCAL (the local table's own addresses).
    static let up: UInt32 = 0x0001, reject: UInt32 = 0x0200, local: UInt32 = 0x8000_0000

    /// The kernel's IPv6 routes (none where IPv6 is off).
    public static func all() -> [Route6] {
        guard let text = readSmallFile("/proc/net/ipv6_route") else { return [] }
        return parse(text)
    }

    /// Parses /proc/net/ipv6_route: per line the destination (32 hex digits) and its prefix
    /// length (hex), the source and its length, the next hop, then metric, reference count,
    /// use count and flags (hex), and the device. Routes that are down, unreachable or the
    /// local table's are left out.
    public static func parse(_ text: String) -> [Route6] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 10, let destination = address(f[0]), let length = Int(f[1], radix: 16), length <= 128,
                  let hop = address(f[4]), let metric = UInt32(f[5], radix: 16), let flags = UInt32(f[8], radix: 16),
                  flags & up != 0, flags & (reject | local) == 0 else { return nil }
            return Route6(interface: String(f[9]), destination: destination, prefixLength: length,
                          gateway: hop == .zero ? nil : hop, metric: metric)
        }
    }

    /// 32 hex digits as an address.
    static func address(_ hex: Substring) -> IPAddressBits? {
        guard hex.count == 32, let high = UInt64(hex.prefix(16), radix: 16), let low = UInt64(hex.suffix(16), radix: 16)
        else { return nil }
        return IPAddressBits(high: high, low: low)
    }

    /// The most specific route to `address` (lowest metric among equals), as the kernel picks.
    public static func best(to address: IPAddressBits, in routes: [Route6]) -> Route6? {
        routes.filter { address.masked(.prefixMask($0.prefixLength)) == $0.destination }
            .max { ($0.prefixLength, UInt32.max - $0.metric) < ($1.prefixLength, UInt32.max - $1.metric) }
    }
}
