// The TCP state machine (TCPStateTable in FlowState.swift) walked against IPVS's, cell by cell,
// for the transitions each forwarding method sees: DR sees only the client's packets (IPVS's
// INPUT-ONLY rows), NAT sees both directions (IPVS's INPUT and OUTPUT rows). Every cell either
// agrees with IPVS or is listed below with the reason it differs; and the table is checked to
// do exactly what the chains of ifs it replaced did.

import XCTest
@testable import SwitchyardCore

/// IPVS's TCP state table as data: tcp_states[] in the Linux kernel's
/// net/netfilter/ipvs/ip_vs_proto_tcp.c (the default table; tcp_states_dos is for secure_tcp,
/// which Switchyard does not have). Each table is indexed [event][present state].
enum IPVS {
    /// IPVS's TCP states, in the order of the table's columns (IP_VS_TCP_S_NONE, _ESTABLISHED,
    /// _SYN_SENT, _SYN_RECV, _FIN_WAIT, _TIME_WAIT, _CLOSE, _CLOSE_WAIT, _LAST_ACK, _LISTEN,
    /// _SYNACK).
    enum State: Int, CaseIterable { case NO, ES, SS, SR, FW, TW, CL, CW, LA, LI, SA }

    /// The rows' order: the first of RST, SYN, FIN, ACK a segment carries picks the row.
    enum Event: Int, CaseIterable {
        case syn, fin, ack, rst

        var flags: UInt8 {
            switch self {
            case .syn: TCPFlags.syn
            case .fin: TCPFlags.fin
            case .ack: TCPFlags.ack
            case .rst: TCPFlags.rst
            }
        }
    }

    typealias Table = [[State]]

    // Columns:     NO   ES   SS   SR   FW   TW   CL   CW   LA   LI   SA
    /// Client → real server when both directions are seen.
    static let input: Table = [
        /* syn */ [.SR, .ES, .ES, .SR, .SR, .SR, .SR, .SR, .SR, .SR, .SR],
        /* fin */ [.CL, .CW, .SS, .TW, .TW, .TW, .CL, .CW, .LA, .LI, .TW],
        /* ack */ [.CL, .ES, .SS, .ES, .FW, .TW, .CL, .CW, .CL, .LI, .ES],
        /* rst */ [.CL, .CL, .CL, .SR, .CL, .CL, .CL, .CL, .LA, .LI, .SR],
    ]
    /// Real server → client.
    static let output: Table = [
        /* syn */ [.SS, .ES, .SS, .SR, .SS, .SS, .SS, .SS, .SS, .LI, .SR],
        /* fin */ [.TW, .FW, .SS, .TW, .FW, .TW, .CL, .TW, .LA, .LI, .TW],
        /* ack */ [.ES, .ES, .SS, .ES, .FW, .TW, .CL, .CW, .LA, .ES, .ES],
        /* rst */ [.CL, .CL, .SS, .CL, .CL, .TW, .CL, .CL, .CL, .CL, .CL],
    ]
    /// Client → real server when the replies are never seen (DR, tunnelling).
    static let inputOnly: Table = [
        /* syn */ [.SR, .ES, .ES, .SR, .SR, .SR, .SR, .SR, .SR, .SR, .SR],
        /* fin */ [.CL, .FW, .SS, .TW, .FW, .TW, .CL, .CW, .LA, .LI, .TW],
        /* ack */ [.CL, .ES, .SS, .ES, .FW, .TW, .CL, .CW, .CL, .LI, .ES],
        /* rst */ [.CL, .CL, .CL, .SR, .CL, .CL, .CL, .CL, .LA, .LI, .CL],
    ]

    static func next(_ table: Table, _ event: Event, _ state: State) -> State {
        table[event.rawValue][state.rawValue]
    }
}

final class TCPStateTableTests: XCTestCase {
    /// One cell of our table: a direction, an event, a present state.
    struct Cell: Hashable, CustomStringConvertible {
        var fromClient: Bool
        var event: IPVS.Event
        var state: FlowState
        var description: String { "\(fromClient ? "client" : "server") \(event) in \(state.name)" }
    }

    func ours(_ c: Cell) -> FlowState {
        c.fromClient ? c.state.next(tcpFlags: c.event.flags) : c.state.next(serverFlags: c.event.flags)
    }

    /// The states a TCP flow can reach from NONE (where every flow starts) by these directions.
    func reachable(serverToo: Bool) -> Set<FlowState> {
        var seen: Set<FlowState> = [.none]
        var queue: [FlowState] = [.none]
        while let s = queue.popLast() {
            for e in IPVS.Event.allCases {
                var nexts = [s.next(tcpFlags: e.flags)]
                if serverToo { nexts.append(s.next(serverFlags: e.flags)) }
                for n in nexts where seen.insert(n).inserted { queue.append(n) }
            }
        }
        return seen
    }

    /// Walks every cell of `directions` for the `states` a method reaches: each must agree with
    /// `ipvs` under `mapping`, unless IPVS's next state is one we do not have (`missing`: we
    /// keep the state there, or take the nearest we have, as `missingExpected` says), or it is
    /// listed in `differences`. Also fails for a listed difference that is not one.
    func walk(_ directions: [(fromClient: Bool, ipvs: IPVS.Table)], states: Set<FlowState>,
              mapping: [FlowState: IPVS.State], differences: [Cell: String], method: String,
              file: StaticString = #filePath, line: UInt = #line) {
        var differing: Set<Cell> = []
        var checked = 0
        for (fromClient, table) in directions {
            for event in IPVS.Event.allCases {
                for state in states.sorted(by: { $0.rawValue < $1.rawValue }) {
                    let cell = Cell(fromClient: fromClient, event: event, state: state)
                    let theirs = IPVS.next(table, event, mapping[state]!)
                    let mine = ours(cell)
                    if mapping[mine] == theirs {
                        checked += 1
                        continue
                    }
                    differing.insert(cell)
                    XCTAssertNotNil(differences[cell],
                                    "\(method) \(cell): IPVS goes to \(theirs), we go to \(mine.name), and no reason is listed",
                                    file: file, line: line)
                }
            }
        }
        for cell in differences.keys where !differing.contains(cell) {
            XCTFail("\(method) \(cell) is listed as a difference but agrees with IPVS", file: file, line: line)
        }
        XCTAssertGreaterThan(checked, differing.count, "\(method): most cells agree", file: file, line: line)
    }

    /// DR: only the client's packets, against IPVS's INPUT-ONLY rows. Both name the states from
    /// the client's side (its FIN starts FIN_WAIT), so the mapping is by name.
    func testDRAgainstIPVSInputOnly() {
        let states = reachable(serverToo: false)
        XCTAssertEqual(states, [.none, .synRecv, .established, .finWait, .close],
                       "without the server's packets, CLOSE_WAIT, LAST_ACK and TIME_WAIT never happen")
        let mapping: [FlowState: IPVS.State] = [.none: .NO, .synRecv: .SR, .established: .ES, .finWait: .FW,
                                                .close: .CL]
        walk([(true, IPVS.inputOnly)], states: states, mapping: mapping, differences: [
            Cell(fromClient: true, event: .ack, state: .none):
                "mid-stream pickup: an ACK of a connection we hold no flow for (after a restart, or an eviction) is "
                + "taken as ESTABLISHED so it keeps its real server for the established timeout; IPVS makes it CLOSE",
            Cell(fromClient: true, event: .fin, state: .none):
                "mid-stream pickup of a closing connection: we give it FIN_WAIT's timeout; IPVS CLOSE's 10 s",
            Cell(fromClient: true, event: .fin, state: .synRecv):
                "a client's FIN is FIN_WAIT whatever came before; IPVS takes a FIN in SYN_RECV to TIME_WAIT",
            Cell(fromClient: true, event: .rst, state: .synRecv):
                "any RST closes; IPVS ignores a RST in SYN_RECV (stays SYN_RECV)",
        ], method: "DR")
    }

    /// NAT: the client's packets against IPVS's INPUT rows, the real server's against OUTPUT.
    /// We name NAT's states from the client's side as in DR (the client's FIN: FIN_WAIT; the
    /// server's FIN first: CLOSE_WAIT, then the client's: LAST_ACK); IPVS names them from the
    /// real server's (the client's FIN: CLOSE_WAIT; the server's: FIN_WAIT). So our FIN_WAIT is
    /// IPVS's CLOSE_WAIT and our CLOSE_WAIT its FIN_WAIT; the other states map by name.
    func testNATAgainstIPVSInputAndOutput() {
        let states = reachable(serverToo: true)
        XCTAssertEqual(states, [.none, .synRecv, .established, .finWait, .close, .closeWait, .lastAck, .timeWait])
        let mapping: [FlowState: IPVS.State] = [.none: .NO, .synRecv: .SR, .established: .ES, .finWait: .CW,
                                                .close: .CL, .closeWait: .FW, .lastAck: .LA, .timeWait: .TW]
        // IPVS has SYN_SENT for a SYN from the real server (a server opening a connection back,
        // as active FTP does); the balancer opens none, so such a SYN leaves the state as it is
        // (from NONE: SYN_RECV, as the client's SYN does).
        var differences: [Cell: String] = [:]
        for state in states where IPVS.next(IPVS.output, .syn, mapping[state]!) == .SS {
            differences[Cell(fromClient: false, event: .syn, state: state)] = "no SYN_SENT"
            XCTAssertEqual(state.next(serverFlags: TCPFlags.syn), state == .none ? .synRecv : state)
        }
        XCTAssertEqual(differences.count, 6)
        let pickup = "mid-stream pickup, as in DR"
        differences[Cell(fromClient: true, event: .ack, state: .none)] = pickup
        differences[Cell(fromClient: true, event: .fin, state: .none)] = pickup
        differences[Cell(fromClient: true, event: .fin, state: .synRecv)] = "a client's FIN is FIN_WAIT, as in DR"
        differences[Cell(fromClient: true, event: .rst, state: .synRecv)] = "any RST closes, as in DR"
        differences[Cell(fromClient: true, event: .rst, state: .lastAck)] =
            "any RST closes; IPVS ignores a client's RST in LAST_ACK"
        differences[Cell(fromClient: false, event: .rst, state: .timeWait)] =
            "any RST closes; IPVS ignores a server's RST in TIME_WAIT"
        // Our LAST_ACK is the client's: it has sent its FIN after the server's and waits for the
        // server to acknowledge it. So the server's ACK ends it (IPVS: stays LAST_ACK) and the
        // client's does not (IPVS: CLOSE); and the client's FIN in our CLOSE_WAIT (IPVS's
        // FIN_WAIT) makes LAST_ACK, where IPVS goes straight to TIME_WAIT.
        differences[Cell(fromClient: false, event: .ack, state: .lastAck)] = "LAST_ACK is the client's"
        differences[Cell(fromClient: true, event: .ack, state: .lastAck)] = "LAST_ACK is the client's"
        differences[Cell(fromClient: true, event: .fin, state: .closeWait)] = "LAST_ACK is the client's"
        // The server's packets before the handshake is done: only the client's ACK establishes
        // (IPVS also takes the server's), and a server's FIN before it makes CLOSE_WAIT, the
        // state of a server that closed first (IPVS: TIME_WAIT).
        differences[Cell(fromClient: false, event: .ack, state: .none)] = "only the client's ACK establishes"
        differences[Cell(fromClient: false, event: .ack, state: .synRecv)] = "only the client's ACK establishes"
        differences[Cell(fromClient: false, event: .fin, state: .none)] = "a server's early FIN is CLOSE_WAIT"
        differences[Cell(fromClient: false, event: .fin, state: .synRecv)] = "a server's early FIN is CLOSE_WAIT"
        walk([(true, IPVS.input), (false, IPVS.output)], states: states, mapping: mapping, differences: differences,
             method: "NAT")
    }

    /// The table does exactly what the chains of ifs it replaced did, for every state and every
    /// flag byte, in both directions (the ifs are kept here as the reference).
    func testTableMatchesTheChainsOfIfsItReplaced() {
        func client(_ s: FlowState, _ flags: UInt8) -> FlowState {
            if flags & TCPFlags.rst != 0 { return .close }
            if flags & TCPFlags.syn != 0 { return s == .established ? .established : .synRecv }
            if flags & TCPFlags.fin != 0 {
                switch s {
                case .close, .timeWait, .finWait, .lastAck: return s
                case .closeWait: return .lastAck
                default: return .finWait
                }
            }
            if flags & TCPFlags.ack != 0 {
                switch s {
                case .none, .synRecv: return .established
                default: return s
                }
            }
            return s
        }
        func server(_ s: FlowState, _ flags: UInt8) -> FlowState {
            if flags & TCPFlags.rst != 0 { return .close }
            if flags & TCPFlags.syn != 0 { return s == .none ? .synRecv : s }
            if flags & TCPFlags.fin != 0 {
                switch s {
                case .finWait: return .timeWait
                case .established, .synRecv, .none: return .closeWait
                default: return s
                }
            }
            if flags & TCPFlags.ack != 0 && s == .lastAck { return .close }
            return s
        }
        for s in FlowState.allCases {
            for f in 0...255 {
                let flags = UInt8(f)
                XCTAssertEqual(s.next(tcpFlags: flags), client(s, flags), "client flags \(f) in \(s.name)")
                XCTAssertEqual(s.next(serverFlags: flags), server(s, flags), "server flags \(f) in \(s.name)")
            }
        }
    }

    /// TCPStateTable.next turns a table cell into a state by reinterpreting its bits: that holds
    /// only while each state is stored as its raw value.
    func testStatesAreStoredAsTheirRawValues() {
        XCTAssertEqual(MemoryLayout<FlowState>.size, 1)
        for s in FlowState.allCases {
            XCTAssertEqual(unsafeBitCast(s, to: UInt8.self), s.rawValue, s.name)
            XCTAssertEqual(unsafeBitCast(s.rawValue, to: FlowState.self), s, s.name)
        }
    }
}
