// The packet filter every receive ring carries: a libpcap-compiled classic BPF program that
// lets through only the engine's traffic.

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

    /// Whether the program accepts a frame (libpcap's own interpreter: for tests).
    public func matches(_ frame: [UInt8]) -> Bool {
        var header = pcap_pkthdr()
        header.caplen = UInt32(frame.count)
        header.len = UInt32(frame.count)
        return frame.withUnsafeBufferPointer { pcap_offline_filter(&program, &header, $0.baseAddress) } != 0
    }

    /// Attaches the program to a socket (SO_ATTACH_FILTER): the kernel drops what it rejects
    /// before it is copied into the ring.
    public func attach(to fd: Int32) throws {
        _ = try systemCall("SO_ATTACH_FILTER", valueOrErrno { sy_attach_filter(fd, program.bf_insns, program.bf_len) })
    }

    /// The filter that lets only the engine's traffic through: IPv4 or IPv6 to any VIP, and
    /// for NAT, from its real servers' service ports (their replies) and ICMP or ICMPv6 from
    /// those servers (errors about the flows); untagged or with one 802.1Q tag. Everything
    /// else, such as the same servers answering a health check or another balancer on the box,
    /// stays in the kernel and never reaches user space.
    public static func forVIPs(_ vips: [IPAddressBits], natEndpoints: [KernelGuard.Endpoint] = []) throws -> PacketFilter {
        // No service at all (after `adm -C`): a filter that matches nothing.
        if vips.isEmpty && natEndpoints.isEmpty {
            return try PacketFilter(expression: "ip and dst host 0.0.0.0")
        }
        var families: [String] = []
        for (family, icmp, v4) in [("ip", "icmp", true), ("ip6", "icmp6", false)] {
            let endpoints = Array(Set(natEndpoints.filter { $0.address.isV4 == v4 })).sorted()
            let natHosts = Array(Set(endpoints.map(\.address))).sorted()
            let terms = Array(Set(vips.filter { $0.isV4 == v4 })).sorted().map { "dst host \($0)" }
                + endpoints.map { "(src host \($0.address) and \($0.proto == IPProtocol.udp ? "udp" : "tcp") src port \($0.port))" }
                + natHosts.map { "(src host \($0) and \(icmp))" }
            if !terms.isEmpty { families.append("\(family) and (\(terms.joined(separator: " or ")))") }
        }
        let any = families.map { "(\($0))" }.joined(separator: " or ")
        return try PacketFilter(expression: "\(any) or (vlan and (\(any)))")
    }
}
