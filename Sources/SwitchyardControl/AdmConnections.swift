// Text out for `switchyard adm -L -c`: the flows and persistence templates the workers hold, line
// for line as ipvsadm 1.31 prints the kernel's connection table. ipvsadm reads
// /proc/net/ip_vs_conn, which the kernel writes in ip_vs_conn.c (ip_vs_conn_seq_show), and
// reprints each line (ipvsadm.c list_conn, print_conn); the columns and words here are the ones
// those two produce for the same entries.
import SwitchyardCore

/// Renders the connection listing the way `ipvsadm -Lnc` does, so eyes and scripts used to it
/// read it: a title, a column header, then one line per connection or persistence template.
public enum AdmConnections {
    /// The whole listing for `records` (a walk of every worker's table, in any order).
    ///
    /// Where it differs from ipvsadm, and why:
    /// - Order: ipvsadm prints in the kernel's hash-table order, which means nothing and changes
    ///   between runs. Here the lines are sorted by virtual address, virtual port, protocol,
    ///   client address, client port, then real server, so that two listings can be compared
    ///   (a template, client port 0, comes before its client's connections).
    /// - Addresses are always numeric, as `-L` is here: `-n` is accepted and changes nothing
    ///   (ipvsadm without it would look up host and service names).
    /// - Entries that are the same connection or template (same protocol, addresses, ports and
    ///   real server) appear once, with the latest expiry: each worker keeps its own templates,
    ///   where the kernel keeps one table.
    /// Markers (`isDoneMarker`) are skipped.
    public static func render(_ records: [FlowRecord], _ options: AdmCommand.ConnectionListOptions = .init()) -> String {
        // ipvsadm.c list_conn: the title, then "pro expire %-11s %-18s %-18s %s\n" over the
        // column names (with --persistent-conn: "... %-18s %-16s %s\n", adding "pe name" and
        // "pe_data").
        var out = "IPVS connection entries\n"
        out += "pro expire " + AdmRender.pad("state", 11) + " " + AdmRender.pad("source", 18) + " "
            + AdmRender.pad("virtual", 18) + " "
        out += options.persistenceEngineColumns
            ? AdmRender.pad("destination", 18) + " " + AdmRender.pad("pe name", 16) + " pe_data\n"
            : "destination\n"
        // print_conn prints the short form for an entry without persistence-engine data (fewer
        // than 11 fields on its line), which is every entry here, with or without the option.
        for r in listed(records) { out += line(r) + "\n" }
        return out
    }

    /// One entry as print_conn prints it: `printf("%-3s %-6s %-11s %-18s %-18s %s\n", protocol,
    /// expire_str, state, cname, vname, dname)`, each name `ADDRESS:PORT` (addrport_to_anyname
    /// with FMT_NUMERIC: `"%s:%u"`). A column too narrow for its text is widened, not cut.
    static func line(_ r: FlowRecord) -> String {
        AdmRender.pad(protocolName(r.proto), 3) + " " + AdmRender.pad(expire(milliseconds: r.expiresIn), 6) + " "
            + AdmRender.pad(stateName(r), 11) + " "
            + AdmRender.pad(r.client.withPort(r.clientPort), 18) + " "
            + AdmRender.pad(r.virtual.withPort(r.virtualPort), 18) + " "
            + r.real.withPort(r.realPort)
    }

    /// The expire column. The kernel writes whole seconds, truncated
    /// (`jiffies_delta_to_msecs(cp->timer.expires - jiffies) / 1000`); print_conn splits them
    /// into `"%02d:%02d"` of minutes and seconds, minutes never carried into hours: 899 999 ms
    /// is `14:59`, an hour is `60:00`, three hours `180:00`.
    static func expire(milliseconds: UInt32) -> String {
        let seconds = milliseconds / 1000
        func twoDigits(_ n: UInt32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return twoDigits(seconds / 60) + ":" + twoDigits(seconds % 60)
    }

    /// The protocol column: the kernel's ip_vs_proto_name (ip_vs_proto.c).
    static func protocolName(_ proto: UInt8) -> String {
        switch proto {
        case IPProtocol.tcp: "TCP"
        case IPProtocol.udp: "UDP"
        case 0: "IP"
        case IPProtocol.icmp: "ICMP"
        default: "IP_\(proto)"
        }
    }

    /// The state column: the kernel's ip_vs_state_name (ip_vs_proto.c).
    /// - A template: ip_vs_ctpl_state_name_table, `NONE`, or `ASSURED` once the kernel has seen
    ///   a connection under it answered. Templates here have no such mark: always `NONE`.
    /// - TCP: tcp_state_name_table (ip_vs_proto_tcp.c) for the state IPVS would have reached,
    ///   which for NAT names the closing states from the real server's side (SyncStates has the
    ///   mapping, the one connection sync sends): a client's FIN on a NAT flow reads CLOSE_WAIT,
    ///   on a DR flow FIN_WAIT.
    /// - UDP: udp_state_name_table (ip_vs_proto_udp.c) has one state, `UDP`.
    /// - Another protocol: `NONE` (the kernel prints that for IPPROTO_IP, ERR! for the rest;
    ///   no other protocol's flow reaches a listing here).
    static func stateName(_ r: FlowRecord) -> String {
        if r.isTemplate { return "NONE" }
        switch r.proto {
        case IPProtocol.tcp:
            let wire = SyncStates.wireState(r.state, protocolNumber: r.proto,
                                            method: r.isNAT ? .masquerade : .directRoute)
            return IPVSTCPState(rawValue: wire)?.kernelName ?? "ERR!"
        case IPProtocol.udp: return "UDP"
        default: return "NONE"
        }
    }

    /// The records to list: markers out, sorted (see `render`), one per connection or template.
    static func listed(_ records: [FlowRecord]) -> [FlowRecord] {
        // Two tuples: Swift compares tuples of up to six elements.
        func key(_ r: FlowRecord) -> (IPAddressBits, UInt16, UInt8, IPAddressBits, UInt16, IPAddressBits) {
            (r.virtual, r.virtualPort, r.proto, r.client, r.clientPort, r.real)
        }
        func rest(_ r: FlowRecord) -> (UInt16, UInt8) { (r.realPort, r.flags & FlowFlags.template) }
        func same(_ a: FlowRecord, _ b: FlowRecord) -> Bool { key(a) == key(b) && rest(a) == rest(b) }
        let sorted = records.filter { !$0.isDoneMarker }.sorted { a, b in
            let (ka, kb) = (key(a), key(b))
            if ka != kb { return ka < kb }
            let (ra, rb) = (rest(a), rest(b))
            return ra < rb || (ra == rb && a.expiresIn > b.expiresIn)
        }
        var out: [FlowRecord] = []
        out.reserveCapacity(sorted.count)
        for r in sorted where out.last.map({ !same($0, r) }) ?? true { out.append(r) }
        return out
    }
}

extension IPVSTCPState {
    /// The name the kernel prints for this state (tcp_state_name_table, ip_vs_proto_tcp.c).
    var kernelName: String {
        switch self {
        case .none: "NONE"
        case .established: "ESTABLISHED"
        case .synSent: "SYN_SENT"
        case .synRecv: "SYN_RECV"
        case .finWait: "FIN_WAIT"
        case .timeWait: "TIME_WAIT"
        case .close: "CLOSE"
        case .closeWait: "CLOSE_WAIT"
        case .lastAck: "LAST_ACK"
        case .listen: "LISTEN"
        case .synAck: "SYNACK"
        }
    }
}
