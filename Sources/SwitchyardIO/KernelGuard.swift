import Glibc
import SwitchyardCore

/// Keeps the kernel's hands off the packets the engine forwards.
///
/// AF_PACKET sees a copy of each frame; the kernel still gets the original. Left alone, with
/// ip_forward=1 it would forward VIP traffic a second time, and with the VIP on a local
/// interface it would answer TCP with resets. The guard is one nftables table of its own,
/// `ip switchyard_<interface>`, dropping IPv4 packets to the VIPs on that interface at the
/// prerouting hook (after the packet taps, before routing). Nothing else on the box is touched,
/// and the table is deleted on exit. A table left by a killed daemon is replaced at start.
public final class KernelGuard {
    public let table: String
    public let interface: String
    public private(set) var installed = false

    public init(interface: String) {
        self.interface = interface
        self.table = "switchyard_" + interface.map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    /// The nftables script for these VIPs (shown by `switchyard check` and in the docs).
    public func script(vips: [IPv4Address]) -> String {
        let set = Array(Set(vips)).sorted().map(\.description).joined(separator: ", ")
        return """
        table ip \(table) {
            chain prerouting {
                type filter hook prerouting priority raw; policy accept;
                iifname "\(interface)" ip daddr { \(set) } counter drop comment "forwarded by switchyard"
            }
        }
        """
    }

    public func install(vips: [IPv4Address]) throws {
        _ = runCommand(["nft", "delete", "table", "ip", table])
        let result = runCommand(["nft", "-f", "-"], input: script(vips: vips) + "\n")
        guard result.status == 0 else {
            throw SetupError("installing the kernel guard (nft) failed: \(result.output.trimmingSpaces)"
                + (result.status == 127 || result.output.contains("cannot run") ? "; install nftables" : ""))
        }
        installed = true
    }

    public func remove() {
        guard installed else { return }
        _ = runCommand(["nft", "delete", "table", "ip", table])
        installed = false
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
