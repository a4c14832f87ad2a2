import CPcap
import CSwitchyard
import Glibc
import SwitchyardCore

/// A classic BPF program compiled by libpcap from a tcpdump-style expression.
public final class PacketFilter {
    public let expression: String
    private var program = bpf_program()

    public init(expression: String) throws {
        self.expression = expression
        guard let handle = pcap_open_dead(DLT_EN10MB, 65_535) else { throw SetupError("pcap_open_dead failed") }
        defer { pcap_close(handle) }
        guard pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw SetupError("cannot compile the packet filter \"\(expression)\": \(String(cString: pcap_geterr(handle)))")
        }
    }

    deinit { pcap_freecode(&program) }

    /// The instruction count (for logs and tests).
    public var instructionCount: Int { Int(program.bf_len) }

    /// Attaches the program to a socket (SO_ATTACH_FILTER): the kernel drops what it rejects
    /// before it is copied into the ring.
    public func attach(to fd: Int32) throws {
        guard sy_attach_filter(fd, program.bf_insns, program.bf_len) == 0 else { throw SystemError("SO_ATTACH_FILTER") }
    }

    /// The filter that lets only the engine's traffic through: IPv4 to any VIP, and for NAT,
    /// IPv4 from its real servers (their replies and ICMP errors), untagged or with one 802.1Q
    /// tag. Everything else stays in the kernel and never reaches user space.
    public static func forVIPs(_ vips: [IPv4Address], natRealServers: [IPv4Address] = []) throws -> PacketFilter {
        // No service at all (after `adm -C`): a filter that matches nothing.
        if vips.isEmpty && natRealServers.isEmpty { return try PacketFilter(expression: "ip and dst host 0.0.0.0") }
        let hosts = (Array(Set(vips)).sorted().map { "dst host \($0)" }
            + Array(Set(natRealServers)).sorted().map { "src host \($0)" }).joined(separator: " or ")
        return try PacketFilter(expression: "(ip and (\(hosts))) or (vlan and ip and (\(hosts)))")
    }
}
