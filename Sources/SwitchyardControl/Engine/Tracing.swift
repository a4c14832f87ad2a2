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
        let names = state.withLock { TraceWords.realNames($0.table) }
        for (worker, event) in events { Log.debug(describe(event, worker: worker, names: names)) }
        if lost > 0 { Log.debug("trace: \(lost) packet(s) came faster than the trace is read; they are not shown") }
    }

    /// One traced packet in words: "trace worker 0: TCP 198.18.16.5:40000 > 198.18.0.100:80:
    /// new flow to 198.18.0.11:80 (DR), SYN_RECV; sent out of eth0".
    func describe(_ e: TraceEvent, worker: Int, names: [UInt32: (String, String)]) -> String {
        "trace worker \(worker): " + TraceWords.describe(e, names: names, interfaces: plan.interfaces.map(\.name))
    }
}
