// A flow's state: the TCP state machine that moves a connection along by the flags its packets
// carry, which flows a full table gives up first, and how long each state may stay idle.

/// TCP connection states as IPVS names them. In DR only the client direction is seen; in NAT
/// both directions drive the state.
public enum FlowState: UInt8, Sendable, CaseIterable {
    case none = 0
    case synRecv
    case established
    case finWait
    case close
    case udp
    case other
    case closeWait
    case lastAck
    case timeWait

    /// The next state after a client packet with `flags` (IPVS's input table, simplified:
    /// a SYN opens, an ACK establishes, a FIN starts closing, a RST closes).
    @inline(__always)
    public func next(tcpFlags flags: UInt8) -> FlowState {
        if flags & TCPFlags.rst != 0 { return .close }
        if flags & TCPFlags.syn != 0 { return self == .established ? .established : .synRecv }
        if flags & TCPFlags.fin != 0 {
            switch self {
            case .close, .timeWait, .finWait, .lastAck: return self
            case .closeWait: return .lastAck
            default: return .finWait
            }
        }
        if flags & TCPFlags.ack != 0 {
            switch self {
            case .none, .synRecv: return .established
            default: return self
            }
        }
        return self
    }

    /// The next state after a real server's packet (NAT sees these): its FIN after the client's
    /// makes TIME_WAIT, its FIN first makes CLOSE_WAIT, its ACK of the client's last FIN closes.
    @inline(__always)
    public func next(serverFlags flags: UInt8) -> FlowState {
        if flags & TCPFlags.rst != 0 { return .close }
        if flags & TCPFlags.syn != 0 { return self == .none ? .synRecv : self }
        if flags & TCPFlags.fin != 0 {
            switch self {
            case .finWait: return .timeWait
            case .established, .synRecv, .none: return .closeWait
            default: return self
            }
        }
        if flags & TCPFlags.ack != 0 && self == .lastAck { return .close }
        return self
    }

    /// Which flows a full table gives up first (lower goes first): half-open connections, the
    /// target of a SYN flood, then closing ones, then established connections and UDP flows.
    @inline(__always)
    var evictionRank: UInt8 {
        switch self {
        case .none, .synRecv: 0
        case .finWait, .close, .closeWait, .lastAck, .timeWait: 1
        case .established, .udp, .other: 2
        }
    }

    /// IPVS counts ESTABLISHED connections as active, all others as inactive (ipvsadm -L).
    @inline(__always)
    public var isActive: Bool { self == .established }

    public var name: String {
        switch self {
        case .none: "NONE"
        case .synRecv: "SYN_RECV"
        case .established: "ESTABLISHED"
        case .finWait: "FIN_WAIT"
        case .close: "CLOSE"
        case .udp: "UDP"
        case .other: "OTHER"
        case .closeWait: "CLOSE_WAIT"
        case .lastAck: "LAST_ACK"
        case .timeWait: "TIME_WAIT"
        }
    }
}

/// Idle timeouts per state, in milliseconds (defaults as IPVS: tcp 900 s, tcpfin 120 s, udp 300 s;
/// `ipvsadm --set tcp tcpfin udp` sets the first three).
public struct FlowTimeouts: Sendable, Equatable {
    public var tcpEstablished: UInt32 = 900_000
    public var tcpSynRecv: UInt32 = 30_000
    public var tcpFin: UInt32 = 120_000
    public var tcpClose: UInt32 = 10_000
    public var tcpCloseWait: UInt32 = 60_000
    public var tcpLastAck: UInt32 = 30_000
    public var tcpTimeWait: UInt32 = 120_000
    public var udp: UInt32 = 300_000
    public var other: UInt32 = 60_000

    public init() {}

    @inline(__always)
    public func timeout(_ state: FlowState) -> UInt32 {
        switch state {
        case .established: tcpEstablished
        case .synRecv, .none: tcpSynRecv
        case .finWait: tcpFin
        case .close: tcpClose
        case .closeWait: tcpCloseWait
        case .lastAck: tcpLastAck
        case .timeWait: tcpTimeWait
        case .udp: udp
        case .other: other
        }
    }
}
