// A flow's state: the TCP state machine that moves a connection along by the flags its packets
// carry (a table, as IPVS's tcp_states[]), which flows a full table gives up first, and how long
// each state may stay idle.

/// TCP connection states as IPVS names them. In DR only the client direction is seen; in NAT
/// both directions drive the state. The cases stay in raw-value order from 0, without gaps:
/// TCPStateTable packs states as their raw values and reads them back as states.
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

    /// The next state after a client packet with `flags` (TCPStateTable's client rows: a SYN
    /// opens, an ACK establishes, a FIN starts closing, a RST closes).
    @inline(__always)
    public func next(tcpFlags flags: UInt8) -> FlowState {
        TCPStateTable.next(self, flags: flags, fromClient: true)
    }

    /// The next state after a real server's packet, which NAT sees (TCPStateTable's server rows:
    /// its FIN after the client's makes TIME_WAIT, its FIN first makes CLOSE_WAIT, its ACK of the
    /// client's last FIN closes).
    @inline(__always)
    public func next(serverFlags flags: UInt8) -> FlowState {
        TCPStateTable.next(self, flags: flags, fromClient: false)
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

/// The TCP state machine as data, laid out as IPVS lays out tcp_states[] in ip_vs_proto_tcp.c so
/// that each cell can be checked against it (TCPStateTableTests does): one row per direction and
/// flag event, one column per present state, each cell the next state. A packet's event is the
/// first of RST, SYN, FIN, ACK it carries, in that order as in IPVS; a packet with none of them
/// leaves the state as it is (IPVS would close the connection). Our states are fewer than IPVS's
/// (no SYN_SENT, LISTEN or SYNACK: the balancer opens no connections and has no secure_tcp
/// mode), and they are named from the client's side in both methods (the client's FIN starts
/// FIN_WAIT), where IPVS names NAT's from the real server's.
///
/// A row is packed into a UInt64, four bits a column (state s in bits 4s to 4s+3), so a
/// transition is a shift and a mask: no array to load, bounds-check or initialise lazily.
enum TCPStateTable {
    // Columns, in FlowState's raw-value order: NO none, SR SYN_RECV, ES ESTABLISHED, FW FIN_WAIT,
    // CL CLOSE, UD UDP, OT OTHER, CW CLOSE_WAIT, LA LAST_ACK, TW TIME_WAIT. (A TCP flow is never
    // UDP or OTHER; their cells keep what the transitions did before they were a table.)
    //
    //                           from: NO  SR  ES  FW  CL  UD  OT  CW  LA  TW
    // Client → real server: all that DR sees (IPVS's INPUT-ONLY rows), and NAT's INPUT rows.
    static var clientSYN: UInt64 { row(SR, SR, ES, SR, SR, SR, SR, SR, SR, SR) }
    static var clientFIN: UInt64 { row(FW, FW, FW, FW, CL, FW, FW, LA, LA, TW) }
    static var clientACK: UInt64 { row(ES, ES, ES, FW, CL, UD, OT, CW, LA, TW) }
    static var clientRST: UInt64 { row(CL, CL, CL, CL, CL, CL, CL, CL, CL, CL) }
    // Real server → client: NAT's replies (IPVS's OUTPUT rows).
    static var serverSYN: UInt64 { row(SR, SR, ES, FW, CL, UD, OT, CW, LA, TW) }
    static var serverFIN: UInt64 { row(CW, CW, CW, TW, CL, UD, OT, CW, LA, TW) }
    static var serverACK: UInt64 { row(NO, SR, ES, FW, CL, UD, OT, CW, CL, TW) }
    static var serverRST: UInt64 { row(CL, CL, CL, CL, CL, CL, CL, CL, CL, CL) }

    /// The state after a packet with TCP `flags` from the client (`fromClient`) or the real server.
    @inline(__always)
    static func next(_ state: FlowState, flags: UInt8, fromClient: Bool) -> FlowState {
        let row: UInt64
        if flags & TCPFlags.rst != 0 {
            row = fromClient ? clientRST : serverRST
        } else if flags & TCPFlags.syn != 0 {
            row = fromClient ? clientSYN : serverSYN
        } else if flags & TCPFlags.fin != 0 {
            row = fromClient ? clientFIN : serverFIN
        } else if flags & TCPFlags.ack != 0 {
            row = fromClient ? clientACK : serverACK
        } else {
            return state
        }
        let cell = UInt8(truncatingIfNeeded: row &>> (UInt64(state.rawValue) &* 4)) & 0x0F
        // Every cell holds some state's raw value (row builds them from states), and a
        // FlowState is stored as its raw value (cases in raw-value order from 0; a test checks
        // it), so the cell is the state as it is: FlowState(rawValue:) would check it again.
        return unsafeBitCast(cell, to: FlowState.self)
    }

    /// Packs a row: the next state from each present state, in raw-value order. Called only
    /// with constants, so the optimiser folds each row to one literal.
    @inline(__always)
    static func row(_ none: FlowState, _ synRecv: FlowState, _ established: FlowState, _ finWait: FlowState,
                    _ close: FlowState, _ udp: FlowState, _ other: FlowState, _ closeWait: FlowState,
                    _ lastAck: FlowState, _ timeWait: FlowState) -> UInt64 {
        let opening = UInt64(none.rawValue) | UInt64(synRecv.rawValue) << 4 | UInt64(established.rawValue) << 8
        let closing = UInt64(finWait.rawValue) << 12 | UInt64(close.rawValue) << 16
        let others = UInt64(udp.rawValue) << 20 | UInt64(other.rawValue) << 24
        let late = UInt64(closeWait.rawValue) << 28 | UInt64(lastAck.rawValue) << 32 | UInt64(timeWait.rawValue) << 36
        return opening | closing | others | late
    }

    // The table's shorthand for the states (two letters keep each row on one line).
    private static var NO: FlowState { .none }
    private static var SR: FlowState { .synRecv }
    private static var ES: FlowState { .established }
    private static var FW: FlowState { .finWait }
    private static var CL: FlowState { .close }
    private static var UD: FlowState { .udp }
    private static var OT: FlowState { .other }
    private static var CW: FlowState { .closeWait }
    private static var LA: FlowState { .lastAck }
    private static var TW: FlowState { .timeWait }
}
