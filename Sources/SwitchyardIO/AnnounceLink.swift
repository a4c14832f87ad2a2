// The announce link (announce_link.c: a tun device that dies with this process) and the VIP
// routes through it, which a routing daemon (BIRD's kernel protocol with `learn`, FRR's
// `ip import-table`) reads from a table of the config's and announces by BGP.
import CSwitchyard
import Glibc
import SwitchyardCore

/// One engine's announce link. Routes go through it with `ip route`, in the given table, with
/// Switchyard's route protocol number; closing the link (or the process ending) removes them all.
public final class AnnounceLink: @unchecked Sendable {
    /// The device's name, as the kernel numbered it (syann0, syann1, …).
    public let name: String
    private var descriptor: Int32

    /// Makes the device; throws if tun devices cannot be made here (no /dev/net/tun, not root).
    public init() throws {
        var buffer = [CChar](repeating: 0, count: 16)
        let fd = sy_announce_link_open("syann%d", &buffer)
        guard fd >= 0 else { throw SystemError("making the announce link (a tun device, /dev/net/tun)") }
        descriptor = fd
        name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // A new device takes net.ipv6.conf.default.disable_ipv6: where that is 1, the kernel
        // would refuse IPv6 routes through it.
        _ = writeSmallFile("/proc/sys/net/ipv6/conf/\(name)/disable_ipv6", "0")
    }

    /// Adds (or keeps) the route of `vip` in `table`; nil, or why `ip` refused.
    public func add(_ vip: IPAddressBits, table: UInt32) -> String? {
        route("replace", vip, table: table)
    }

    /// Removes the route of `vip` from `table` (one already gone counts as removed); nil, or why
    /// `ip` refused.
    public func remove(_ vip: IPAddressBits, table: UInt32) -> String? {
        guard let failure = route("del", vip, table: table) else { return nil }
        // ESRCH, "No such process": the kernel has no such route.
        return failure.contains("No such process") ? nil : failure
    }

    /// The VIPs whose route through this device stands in `table` now (`ip route show`); nil if
    /// `ip` fails.
    public func standing(table: UInt32) -> Set<IPAddressBits>? {
        var found = Set<IPAddressBits>()
        for family in ["-4", "-6"] {
            let (status, output) = runCommand(["ip", family, "-o", "route", "show", "table", "\(table)", "dev", name])
            // A table with no route of a family is, to ip, a table that does not exist.
            if status != 0 && output.contains("does not exist") { continue }
            guard status == 0 else { return nil }
            for line in output.split(separator: "\n") {
                // "198.18.0.100 proto 83 scope link", or with a /32 or /128 on some iproute2 versions.
                guard let first = line.split(separator: " ").first,
                      let address = IPAddressBits(text: String(first.split(separator: "/")[0])) else { continue }
                found.insert(address)
            }
        }
        return found
    }

    /// Clears a route of `vip` that a routing daemon may still hold from a killed run: the kernel
    /// deletes the routes of a vanished device without a message for each, and FRR's zebra keeps
    /// what it imported until it hears of that prefix again. A route of another protocol is added
    /// and deleted at once (BIRD, following protocol 83 alone, ignores it); nothing is done if the
    /// table has a route for `vip` already (someone else's).
    public func clearStale(_ vip: IPAddressBits, table: UInt32) {
        let route = ["blackhole", Self.prefix(vip), "table", "\(table)", "proto", "static"]
        guard runCommand(["ip", Self.family(vip), "route", "add"] + route).status == 0 else { return }
        _ = runCommand(["ip", Self.family(vip), "route", "del"] + route)
    }

    /// Deletes the device, and every route through it with it.
    public func close() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
    }

    deinit { close() }

    private func route(_ verb: String, _ vip: IPAddressBits, table: UInt32) -> String? {
        let argv = ["ip", Self.family(vip), "route", verb, Self.prefix(vip), "dev", name, "table", "\(table)",
                    "proto", "\(Limits.announceRouteProtocol)"]
        let (status, output) = runCommand(argv)
        guard status != 0 else { return nil }
        let text = output.split(separator: "\n").joined(separator: "; ")
        return "`\(argv.joined(separator: " "))` exited \(status)" + (text.isEmpty ? "" : ": \(text)")
    }

    /// `VIP/32` or `VIP/128`, and ip's flag for the VIP's family.
    private static func prefix(_ vip: IPAddressBits) -> String { vip.isV4 ? "\(vip)/32" : "\(vip)/128" }
    private static func family(_ vip: IPAddressBits) -> String { vip.isV4 ? "-4" : "-6" }
}
