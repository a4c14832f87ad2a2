// The kernel guard: an nftables table (and a tcx program in front of it) that keeps the
// kernel from forwarding or answering the packets the engine forwards.
import CSwitchyard
import Glibc
import SwitchyardCore

/// Keeps the kernel's hands off the packets the engine forwards.
///
/// AF_PACKET sees a copy of each frame; the kernel still gets the original. Left alone, with
/// ip_forward=1 it would forward VIP traffic (and, for NAT, the real servers' un-translated
/// replies) a second time, and with the VIP on a local interface it would answer TCP with
/// resets. The guard is one nftables table of its own, `netdev switchyard_<interface>`, with an
/// ingress chain per interface: it drops after the packet taps (the engine has its copy) and
/// before the IP layer, so the kernel spends as little as possible on a frame it must not use:
///   - IPv4 or IPv6 to a VIP, arriving on the interface that VIP is served on;
///   - for NAT, IPv4 or IPv6 from a real server's service port (address, protocol and port, exactly
///     those of the NAT services) arriving on its interface, unless it is addressed to this
///     machine itself (so health checks and ssh to the LB keep working). Other traffic from the
///     same servers (another port, or a kernel NAT of the box's own) is left alone.
/// Nothing else on the box is touched, and the table is deleted on exit. A table left by a
/// killed daemon is replaced at start.
///
/// In front of the chain, where the kernel has tcx (Linux 6.6+), a small BPF program at tc
/// ingress drops the VIPs' frames first, for less than the netfilter hook and rule walk cost
/// on every forwarded frame (docs/kernel-guard.md has the numbers). The chain stays complete,
/// so where the program is missing the guard is the same, only slower.
public final class KernelGuard: @unchecked Sendable {
    public let table: String
    public private(set) var installed = false
    /// The tcx programs by interface name (written by install and remove, read by the
    /// control thread's counters).
    private let fastDrops = Locked<[String: OpaquePointer]>([:])
    /// Why there is no tcx program, when one could not be attached (said once in the log).
    public private(set) var fastDropUnavailable: String?

    /// A NAT real server's service: the source of the replies the kernel must not forward.
    public struct Endpoint: Hashable, Sendable, Comparable {
        public var address: IPAddressBits
        public var proto: UInt8
        public var port: UInt16
        public init(address: IPAddressBits, proto: UInt8, port: UInt16) {
            self.address = address
            self.proto = proto
            self.port = port
        }
        public static func < (a: Endpoint, b: Endpoint) -> Bool { (a.address, a.proto, a.port) < (b.address, b.proto, b.port) }
        var nft: String { "\(address) . \(proto == IPProtocol.udp ? "udp" : "tcp") . \(port)" }
    }

    /// What to drop: VIPs and NAT real servers' services (of either family), grouped by
    /// interface name.
    public struct Rules: Sendable {
        public var vips: [String: [IPAddressBits]]
        public var natRealServers: [String: [Endpoint]]
        public init(vips: [String: [IPAddressBits]], natRealServers: [String: [Endpoint]] = [:]) {
            self.vips = vips
            self.natRealServers = natRealServers
        }
    }

    let fastDrop: Bool

    /// `fastDrop`: put the tcx program in front of the chain where the kernel allows it.
    public init(interface: String, fastDrop: Bool = true) {
        self.fastDrop = fastDrop
        self.table = "switchyard_" + interface.map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    static func set(_ addresses: [IPAddressBits]) -> String {
        Array(Set(addresses)).sorted().map(\.description).joined(separator: ", ")
    }

    /// The nftables script (shown in the docs and tested): one ingress chain per interface.
    public func script(_ rules: Rules) -> String {
        var chains: [String] = []
        for interface in Set(rules.vips.keys).union(rules.natRealServers.keys).sorted() {
            var lines: [String] = []
            for (family, v4) in [("ip", true), ("ip6", false)] {
                let vips = (rules.vips[interface] ?? []).filter { $0.isV4 == v4 }
                guard !vips.isEmpty else { continue }
                // The ND responder's socket (bound to IPv6) sees frames after this hook: a
                // solicitation sent to the VIP itself (unreachability detection) must pass.
                if !v4 {
                    lines.append("        ip6 daddr { \(Self.set(vips)) } icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept comment \"answered by switchyard\"")
                }
                lines.append("        \(family) daddr { \(Self.set(vips)) } counter drop comment \"forwarded by switchyard\"")
            }
            for (family, v4) in [("ip", true), ("ip6", false)] {
                let reals = (rules.natRealServers[interface] ?? []).filter { $0.address.isV4 == v4 }
                guard !reals.isEmpty else { continue }
                let set = Array(Set(reals)).sorted().map(\.nft).joined(separator: ", ")
                lines.append("        \(family) saddr . meta l4proto . th sport { \(set) } fib daddr type != local counter drop comment \"NAT replies translated by switchyard\"")
            }
            guard !lines.isEmpty else { continue }
            chains.append("""
                chain \(Self.chainName(interface)) {
                    type filter hook ingress device "\(interface)" priority 0; policy accept;
            \(lines.joined(separator: "\n"))
                }
            """)
        }
        return "table netdev \(table) {\n" + chains.joined(separator: "\n") + "\n}"
    }

    static func chainName(_ interface: String) -> String {
        "ingress_" + interface.map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    /// Installs the rules, or replaces the installed ones in one nftables transaction (no moment
    /// without a guard).
    public func install(_ rules: Rules) throws {
        // A table from an older version (family ip) or a killed daemon is replaced too.
        let replace = "add table ip \(table)\ndelete table ip \(table)\nadd table netdev \(table)\ndelete table netdev \(table)\n"
        let result = runCommand(["nft", "-f", "-"], input: replace + script(rules) + "\n")
        guard result.status == 0 else {
            throw SetupError("installing the kernel guard (nft) failed: \(result.output.trimmingSpaces)"
                + (result.status == 127 || result.output.contains("cannot run") ? "; install nftables" : ""))
        }
        installed = true
        if fastDrop { installFastDrops(rules.vips) }
    }

    /// VIP frames dropped by the tcx programs so far (they never reach the nftables chain).
    public var fastDropped: UInt64 {
        fastDrops.withLock { $0.values.reduce(UInt64(0)) { $0 &+ sy_tcx_guard_drops($1) } }
    }

    /// The interfaces with a tcx program.
    public var fastDropInterfaces: [String] { fastDrops.withLock { $0.keys.sorted() } }

    /// IPv4 only: IPv6 VIPs' frames go on to the nftables chain.
    func installFastDrops(_ vips: [String: [IPAddressBits]]) {
        fastDrops.withLock { programs in
            for interface in Set(vips.keys).union(programs.keys).sorted() {
                let keys = Array(Set((vips[interface] ?? []).compactMap(\.ipv4))).map(\.value.bigEndian)
                if programs[interface] == nil {
                    guard !keys.isEmpty, fastDropUnavailable == nil else { continue }
                    var message = [CChar](repeating: 0, count: 256)
                    guard let g = sy_tcx_guard_open(Int32(if_nametoindex(interface)), &message, message.count) else {
                        fastDropUnavailable = "\(interface): \(cString(message))"
                        continue
                    }
                    programs[interface] = g
                }
                // Should the update fail, the program goes and the nftables chain does its work.
                if sy_tcx_guard_set_vips(programs[interface], keys, UInt32(keys.count)) != 0 {
                    // errno before the close, which may set it again.
                    let failure = Errno(errno)
                    sy_tcx_guard_close(programs[interface])
                    programs[interface] = nil
                    fastDropUnavailable = "\(interface): updating its VIP set: \(failure)"
                }
            }
        }
    }

    public func remove() {
        fastDrops.withLock { programs in
            programs.values.forEach { sy_tcx_guard_close($0) }
            programs = [:]
        }
        guard installed else { return }
        _ = runCommand(["nft", "delete", "table", "netdev", table])
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
