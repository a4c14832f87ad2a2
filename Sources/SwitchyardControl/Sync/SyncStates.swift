// Connection states between IPVS's numbering on the sync wire and our FlowState, both ways: the
// TCP states (IP_VS_TCP_S_* in include/net/ip_vs.h), UDP's one state and the persistence
// templates' (IP_VS_CTPL_S_*). A table, so that each pairing can be read and checked at a glance.
import SwitchyardCore

/// TCP states as IPVS numbers them (`enum { IP_VS_TCP_S_NONE = 0, … IP_VS_TCP_S_LAST }`).
public enum IPVSTCPState: UInt16, Sendable, CaseIterable {
    case none = 0
    case established
    case synSent
    case synRecv
    case finWait
    case timeWait
    case close
    case closeWait
    case lastAck
    case listen
    case synAck

    /// `IP_VS_TCP_S_LAST`: a backup skips a TCP entry whose state is this or more.
    public static let count = allCases.count
}

/// A persistence template's state (`IP_VS_CTPL_S_NONE`, `IP_VS_CTPL_S_ASSURED`): assured once a
/// connection under it has been answered; a full kernel table drops unassured templates first.
public enum IPVSTemplateState: UInt16, Sendable {
    case none = 0
    case assured = 1
}

/// The mapping. Both directions depend on the forwarding method because IPVS and we name
/// closing states from different sides:
///
/// - We name a flow's states from the client's side in every method: the client's FIN makes
///   FIN_WAIT, the real server's FIN first makes CLOSE_WAIT (FlowState, TCPStateTable).
/// - IPVS names NAT flows from the real server's side (ip_vs_proto_tcp.c, tcp_states[] INPUT
///   rows: the client's FIN moves ESTABLISHED to CLOSE_WAIT; OUTPUT rows: the server's FIN moves
///   it to FIN_WAIT), and DR/tunnel flows, whose replies it never sees (IP_VS_CONN_F_NOOUTPUT),
///   from the client's side (INPUT-ONLY rows: the client's FIN makes FIN_WAIT), as we do.
///
/// So for NAT our finWait travels as CLOSE_WAIT and our closeWait as FIN_WAIT; for every other
/// method the names match.
///
///   ours          NAT (masquerade)    DR, tunnel, local, bypass
///   none          NONE                NONE
///   synRecv       SYN_RECV            SYN_RECV
///   established   ESTABLISHED         ESTABLISHED
///   finWait       CLOSE_WAIT          FIN_WAIT
///   closeWait     FIN_WAIT            CLOSE_WAIT
///   lastAck       LAST_ACK            LAST_ACK
///   timeWait      TIME_WAIT           TIME_WAIT
///   close         CLOSE               CLOSE
///
/// IPVS states with no twin of ours, read as the nearest:
///   SYN_SENT → synRecv (half open: IPVS sees the real server's SYN first; we never open a
///              connection, so a half-open flow is ours only as synRecv);
///   SYNACK   → synRecv (secure_tcp's half-open state after the server's SYN+ACK);
///   LISTEN   → none    (a connection expected, no packet yet: IPVS's FTP data helper).
/// And ours without a twin in IPVS's tables: lastAck (we reach it when the server closes first
/// and the client follows; IPVS goes to TIME_WAIT there and never reaches its LAST_ACK) is sent
/// as LAST_ACK, a valid number with the same 30 s default, so that two Switchyards keep it.
/// UDP has one state on the wire (IP_VS_UDP_S_NORMAL, 0), our udp; any other protocol's entry
/// maps to other.
public enum SyncStates {
    /// Ours → IPVS TCP for NAT, whose closing states IPVS names from the real server's side.
    private static let natTable: [FlowState: IPVSTCPState] = [
        .none: .none, .synRecv: .synRecv, .established: .established, .finWait: .closeWait,
        .closeWait: .finWait, .lastAck: .lastAck, .timeWait: .timeWait, .close: .close,
    ]
    /// Ours → IPVS TCP for the methods without output (DR, tunnel, local, bypass): same names.
    private static let inputOnlyTable: [FlowState: IPVSTCPState] = [
        .none: .none, .synRecv: .synRecv, .established: .established, .finWait: .finWait,
        .closeWait: .closeWait, .lastAck: .lastAck, .timeWait: .timeWait, .close: .close,
    ]

    /// The state number to send for a flow of `protocolNumber` in `state`, forwarded by `method`.
    /// A TCP flow in udp or other (which the TCP table never makes) travels as NONE.
    public static func wireState(_ state: FlowState, protocolNumber: UInt8, method: SyncForwarding) -> UInt16 {
        guard protocolNumber == SyncProtocol.tcp else { return 0 }
        let table = method == .masquerade ? natTable : inputOnlyTable
        return (table[state] ?? IPVSTCPState.none).rawValue
    }

    /// Our state for a received connection entry's state number; nil for a TCP or UDP number out
    /// of range (the decoder skips those entries already, as a kernel backup does).
    public static func flowState(wire: UInt16, protocolNumber: UInt8, method: SyncForwarding) -> FlowState? {
        switch protocolNumber {
        case SyncProtocol.tcp:
            guard let ipvs = IPVSTCPState(rawValue: wire) else { return nil }
            switch ipvs {
            case .synSent, .synAck: return .synRecv
            case .listen: return FlowState.none  // spelt out: a bare .none here would be nil
            default:
                let table = method == .masquerade ? natTable : inputOnlyTable
                return table.first { $0.value == ipvs }?.key
            }
        case SyncProtocol.udp:
            return wire == 0 ? .udp : nil
        default:
            return .other
        }
    }
}

extension SyncEntry {
    /// A connection entry for one of our flows: the flags a kernel master would set for it and
    /// its state in IPVS's numbering. `timeout` is in seconds.
    public static func flow(protocolNumber: UInt8, state: FlowState, method: SyncForwarding,
                            addresses: SyncAddresses, clientPort: UInt16, virtualPort: UInt16,
                            destinationPort: UInt16, fwmark: UInt32 = 0, timeout: UInt32) -> SyncEntry {
        SyncEntry(protocolNumber: protocolNumber,
                  flags: .connection(method, established: state == .established),
                  state: SyncStates.wireState(state, protocolNumber: protocolNumber, method: method),
                  addresses: addresses, clientPort: clientPort, virtualPort: virtualPort,
                  destinationPort: destinationPort, fwmark: fwmark, timeout: timeout)
    }

    /// Our state for a received connection entry (nil for a template, whose state is not a
    /// flow's, or for an unknown method or out-of-range state).
    public var flowState: FlowState? {
        guard !isTemplate, let method = flags.forwarding else { return nil }
        return SyncStates.flowState(wire: state, protocolNumber: protocolNumber, method: method)
    }
}
