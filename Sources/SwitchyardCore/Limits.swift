// The data plane's limits in one place, as Katran keeps its in balancer_consts.h: the bounds
// that size per-worker and shared tables (and that the control plane must keep its IDs below),
// and the fixed budgets of the hot path. The types that use them refer here, so no file reaches
// into another type (the snapshot into Pipeline, say) for a number.

public enum Limits {
    /// Service IDs are below this bound: it sizes each worker's scheduler cursors and the
    /// snapshot's ID-to-service index.
    public static let maxServices = 4096
    /// Real server IDs are below this bound: it sizes each worker's row of connection counts
    /// and traffic counters.
    public static let maxReals = 1 << 16
    /// IPv6 extension headers the parser walks before it gives up on a packet (and drops it):
    /// a bound on the work one packet can cost.
    static let ipv6ExtensionHeaders = 8
    /// Local interfaces a pipeline can send from (its table of source MACs).
    public static let maxInterfaces = 8
    /// How many slots around its home slot a full flow table searches for a flow to give up.
    static let flowEvictionWindow = 32
    /// ICMP errors a worker sends itself: at most this many at once, then one a millisecond
    /// (the kernel's icmp_msgs_burst of 50 and icmp_msgs_per_sec of 1000).
    static let icmpBurst: UInt32 = 50
    /// How much of the packet an ICMP error quotes: as much as fits a 576-byte answer (RFC 1812
    /// §4.3.2.3), less its IPv4 and ICMP headers, as the kernel's icmp_send quotes.
    public static let icmpQuoteBytes = 576 - 20 - 8
    /// Room for the segments of one 64 KiB TCP super-packet at any MTU down to 576 (TCPSegmenter).
    public static let segmentationBytes = 256 * 1024
    /// The most segments one super-packet is cut into.
    public static let maxSegments = 128
    /// Records each direction of a worker's FlowExchange holds (80 bytes each, with addresses of
    /// either family: 5 MiB a ring).
    public static let flowRecordRing = 65_536
    /// Connection sync sends an established flow (or a UDP one) when its packet count modulo
    /// `syncPeriod` is `syncThreshold`: IPVS's sync_threshold (3) and sync_period (50) defaults.
    public static let syncThreshold: UInt16 = 3
    public static let syncPeriod: UInt16 = 50
    /// Slots of its flow tables a worker walks per turn for a listing or a sync walk (a busy
    /// worker's turn, and an idle one's), and records it installs per turn: bounded, so a walk
    /// never holds up forwarding for long.
    public static let walkBudget = 4_096
    public static let idleWalkBudget = 65_536
    public static let installBudget = 1_024
    /// The route protocol number of the VIP routes Switchyard keeps for a routing daemon
    /// (`switchyard_announce_table`): none of the kernel's RTPROT_* names, so no daemon takes
    /// the routes for its own; BIRD reads it as `krt_source`, iproute2 shows `proto 83`.
    public static let announceRouteProtocol = 83
    /// Seconds a stopping engine keeps forwarding after it withdrew its routes
    /// (`switchyard_announce_drain`'s default): time for BGP to carry the withdrawal and the
    /// router to move the flows.
    public static let announceDrainSeconds = 5.0
}
