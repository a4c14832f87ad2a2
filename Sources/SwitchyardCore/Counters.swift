// Every branch of the pipeline bumps one of these, Katran-style: a packet's fate is always
// visible in the stats. Drop reasons are counters too, never errors thrown.

import Synchronization

/// What the pipeline counts. The raw value indexes a worker's counter array.
public enum Counter: Int, CaseIterable, Sendable {
    case rxFrames
    case forwarded
    case passed
    case flowHits
    case newFlows
    case flowsExpired
    case flowEvictions
    case checksumsFinished
    case natReplies
    case persistenceHits
    case icmpEchoReplies
    case icmpTranslated
    case segmented
    case gsoSent
    case icmpTimeExceeded
    case icmpFragmentationNeeded
    case syncQueued
    case syncQueueFull
    case syncInstalled
    // Drops, by reason.
    case truncatedEthernet
    case truncatedVLAN
    case truncatedIPv4
    case badIPv4Header
    case badIPv4Length
    case badIPv4Checksum
    case ipFragment
    case truncatedTCP
    case badTCPHeader
    case truncatedUDP
    case badUDPLength
    case truncatedICMP
    case noService
    case noRealServer
    case oversize
    case txFailed
    case ringDrops
    case ttlExceeded
    case icmpNoFlow
    case icmpUnhandled
    case fragmentationNeeded
    case truncatedIPv6
    case badIPv6Header
    case badIPv6Address
    case ipv6RoutingHeader
    case udpZeroChecksumIPv6

    /// True for the counters that record a dropped packet.
    public var isDrop: Bool { rawValue >= Counter.truncatedEthernet.rawValue }

    /// The name used in stats output and logs.
    public var name: String {
        switch self {
        case .rxFrames: "rx_frames"
        case .forwarded: "forwarded"
        case .passed: "passed_to_kernel"
        case .flowHits: "flow_hits"
        case .newFlows: "new_flows"
        case .flowsExpired: "flows_expired"
        case .flowEvictions: "flow_evictions"
        case .checksumsFinished: "checksums_finished"
        case .natReplies: "nat_replies"
        case .persistenceHits: "persistence_hits"
        case .icmpEchoReplies: "icmp_echo_replies"
        case .icmpTranslated: "icmp_errors_translated"
        case .segmented: "tcp_segmented"
        case .gsoSent: "tcp_gso_sent"
        case .icmpTimeExceeded: "icmp_time_exceeded_sent"
        case .icmpFragmentationNeeded: "icmp_frag_needed_sent"
        case .syncQueued: "sync_queued"
        case .syncQueueFull: "sync_queue_full"
        case .syncInstalled: "sync_installed"
        case .truncatedEthernet: "drop_truncated_ethernet"
        case .truncatedVLAN: "drop_truncated_vlan"
        case .truncatedIPv4: "drop_truncated_ipv4"
        case .badIPv4Header: "drop_bad_ipv4_header"
        case .badIPv4Length: "drop_bad_ipv4_length"
        case .badIPv4Checksum: "drop_bad_ipv4_checksum"
        case .ipFragment: "drop_ip_fragment"
        case .truncatedTCP: "drop_truncated_tcp"
        case .badTCPHeader: "drop_bad_tcp_header"
        case .truncatedUDP: "drop_truncated_udp"
        case .badUDPLength: "drop_bad_udp_length"
        case .truncatedICMP: "drop_truncated_icmp"
        case .noService: "drop_no_service"
        case .noRealServer: "drop_no_real_server"
        case .oversize: "drop_oversize"
        case .txFailed: "drop_tx_failed"
        case .ringDrops: "drop_rx_ring_full"
        case .ttlExceeded: "drop_ttl_exceeded"
        case .icmpNoFlow: "drop_icmp_no_flow"
        case .icmpUnhandled: "drop_icmp_unhandled"
        case .fragmentationNeeded: "drop_frag_needed"
        case .truncatedIPv6: "drop_truncated_ipv6"
        case .badIPv6Header: "drop_bad_ipv6_header"
        case .badIPv6Address: "drop_bad_ipv6_address"
        case .ipv6RoutingHeader: "drop_ipv6_routing_header"
        case .udpZeroChecksumIPv6: "drop_ipv6_udp_zero_checksum"
        }
    }
}

/// A worker's counters: one fixed array, allocated once, bumped with plain adds.
public struct Counters: ~Copyable {
    @usableFromInline let values: UnsafeMutablePointer<UInt64>

    public init() {
        values = .allocate(capacity: Counter.allCases.count)
        values.initialize(repeating: 0, count: Counter.allCases.count)
    }

    deinit { values.deallocate() }

    @inline(__always)
    public func bump(_ c: Counter, by n: UInt64 = 1) { values[c.rawValue] &+= n }

    public subscript(_ c: Counter) -> UInt64 { values[c.rawValue] }

    /// Copies every counter into `destination` (Counter.allCases.count words that other
    /// threads read; see SharedCounters.swift).
    public func copy(to destination: UnsafeMutablePointer<Atomic<UInt64>>) {
        for i in 0..<Counter.allCases.count { destination[i].store(values[i], ordering: .relaxed) }
    }

    /// `count` zeroed words for `copy(to:)`.
    public static func allocatePublished() -> UnsafeMutablePointer<Atomic<UInt64>> {
        allocateZeroedAtomics(count: Counter.allCases.count)
    }
}
