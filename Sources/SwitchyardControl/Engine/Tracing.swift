// adm --trace: which client the workers trace, and the trace read from their rings and logged
// at debug level, one line a packet, in the operator's words.
import SwitchyardCore
import SwitchyardIO

extension ControlPlane {
    /// Starts tracing a client's packets (nil: stops); returns adm's answer.
    func setTrace(_ client: IPv4Address?) -> String {
        state.withLock { $0.traceClient = client }
        republish()
        guard let client else {
            Log.info("trace: off")
            return "tracing stopped\n"
        }
        Log.info("trace: the workers trace the packets from and to \(client); each is logged at debug level")
        return "tracing \(client): each packet from or to it is logged at debug level"
            + (Log.isEnabled(.debug) ? "" : " (this daemon logs at a higher level: start it with --log-level debug to see them)")
            + "; `switchyard adm --trace off` stops it\n"
    }

    /// Logs what the workers traced since the last call (every second, from the main loop).
    func logTrace() {
        let (events, lost) = trace.read()
        guard !events.isEmpty || lost > 0 else { return }
        let names = state.withLock { s -> [UInt32: (String, String)] in
            var names: [UInt32: (String, String)] = [:]
            for svc in s.table.services {
                for r in svc.reals { names[r.id] = ("\(r.config.address):\(r.config.port)", svc.config.method.name) }
                if let sorry = svc.config.sorryServer { names[svc.sorryID] = ("\(sorry.address):\(sorry.port) (sorry server)", svc.config.method.name) }
            }
            return names
        }
        for (worker, event) in events { Log.debug(describe(event, worker: worker, names: names)) }
        if lost > 0 { Log.debug("trace: \(lost) packet(s) came faster than the trace is read; they are not shown") }
    }

    /// One traced packet in words: "trace worker 0: TCP 198.18.16.5:40000 > 198.18.0.100:80:
    /// new flow to 198.18.0.11:80 (DR), SYN_RECV; sent out of eth0".
    func describe(_ e: TraceEvent, worker: Int, names: [UInt32: (String, String)]) -> String {
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
        case .reply: what = "reply" + (real.map { " of the flow to \($0)" } ?? "") + ", translated back to the client"
        case .dropped: what = "dropped: \(e.reason?.name ?? "?")"
        case .passed: what = "not the engine's: left to the kernel"
        case .answered: what = "answered by the balancer itself (ICMP)"
        }
        if let state = e.state { what += ", \(state.name)" }
        if let egress = e.egress, plan.interfaces.indices.contains(egress) { what += "; sent out of \(plan.interfaces[egress].name)" }
        return "trace worker \(worker): \(packet): \(what)"
    }
}
