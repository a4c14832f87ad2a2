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
    }

    /// Adds (or keeps) the route of `vip` in `table`; nil, or why `ip` refused.
    public func add(_ vip: IPAddressBits, table: UInt32) -> String? {
        route("replace", vip, table: table)
    }

    /// Removes the route of `vip` from `table`; nil, or why `ip` refused.
    public func remove(_ vip: IPAddressBits, table: UInt32) -> String? {
        route("del", vip, table: table)
    }

    /// Deletes the device, and every route through it with it.
    public func close() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
    }

    deinit { close() }

    private func route(_ verb: String, _ vip: IPAddressBits, table: UInt32) -> String? {
        let prefix = vip.isV4 ? "\(vip)/32" : "\(vip)/128"
        let argv = ["ip", vip.isV4 ? "-4" : "-6", "route", verb, prefix, "dev", name, "table", "\(table)",
                    "proto", "\(Limits.announceRouteProtocol)"]
        let (status, output) = runCommand(argv)
        guard status != 0 else { return nil }
        let text = output.split(separator: "\n").joined(separator: "; ")
        return "`\(argv.joined(separator: " "))` exited \(status)" + (text.isEmpty ? "" : ": \(text)")
    }
}
