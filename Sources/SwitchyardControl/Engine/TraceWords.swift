// A traced packet in the operator's words: adm --trace's log lines and switchyard replay's.
import SwitchyardCore

public enum TraceWords {
    /// Each real server's (and sorry server's) "address:port" and forwarding method, by id.
    public static func realNames(_ table: ServiceTable) -> [UInt32: (String, String)] {
        var names: [UInt32: (String, String)] = [:]
        for svc in table.services {
            for r in svc.reals { names[r.id] = ("\(r.config.address.withPort(r.config.port))", svc.config.method.name) }
            if let sorry = svc.config.sorryServer {
                names[svc.sorryID] = ("\(sorry.address.withPort(sorry.port)) (sorry server)", svc.config.method.name)
            }
        }
        return names
    }

    /// "TCP 198.18.16.5:40000 > 198.18.0.100:80: new flow, scheduled to 198.18.0.11:80 (DR),
    /// SYN_RECV; sent out of eth0". `interfaces` names the engine's interfaces by number.
    public static func describe(_ e: TraceEvent, names: [UInt32: (String, String)], interfaces: [String]) -> String {
        let proto = e.proto == IPProtocol.tcp ? "TCP" : e.proto == IPProtocol.udp ? "UDP" : e.proto == IPProtocol.icmp ? "ICMP" : "IP proto \(e.proto)"
        let ports = e.proto == IPProtocol.tcp || e.proto == IPProtocol.udp
        let packet = "\(proto) \(IPv4Address(e.source))\(ports ? ":\(e.sourcePort)" : "") > "
            + "\(IPv4Address(e.destination))\(ports ? ":\(e.destinationPort)" : "")"
        let real = e.realID.map { id in names[id].map { "\($0.0) (\($0.1))" } ?? "real server #\(id), no longer configured" }
        var what: String
        switch e.kind {
        case .newFlow: what = "new flow, scheduled to \(real ?? "?")"
        case .persistentFlow: what = "new flow, to \(real ?? "?") by the client's persistence template"
        case .flowHit: what = "flow hit, to \(real ?? "?")"
        case .reply where e.proto == IPProtocol.icmp: what = "ICMP error about a known flow, translated for its other end"
        case .reply: what = "reply" + (real.map { " of the flow to \($0)" } ?? "") + ", translated back to the client"
        case .dropped: what = "dropped: \(e.reason?.name ?? "?")"
        case .passed: what = "not the engine's: left to the kernel"
        case .answered: what = "answered by the balancer itself (ICMP)"
        }
        if let state = e.state { what += ", \(state.name)" }
        if let egress = e.egress, interfaces.indices.contains(egress) { what += "; sent out of \(interfaces[egress])" }
        return "\(packet): \(what)"
    }
}
