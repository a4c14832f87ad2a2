// The pipeline's traced path: a packet from or to the traced client goes through the same
// `processPacket` as any other, and what happened to it is read off afterwards (the counters it
// moved, the flow it is bound to) and written to the worker's trace ring. Out of line: only
// while a client is traced does a packet come here.

extension Pipeline {
    @inline(never)
    mutating func tracedProcess(_ frame: UnsafeMutableRawPointer, length: Int, ingress: Int, checksumPending: Bool,
                                now: UInt32, snapshot: SnapshotView, hint: FlowHint, gsoSize: Int?) -> Verdict {
        let client = snapshot.traceClient
        // The packet as it arrived (the pipeline rewrites it in place). IPv4 only: trace events
        // hold IPv4 addresses.
        guard case .ipv4(let info) = PacketParser.parse(frame, length: length),
              client == FlowTrace.everyone || info.source.v4 == client || info.destination.v4 == client
        else {
            return processPacket(frame, length: length, ingress: ingress, checksumPending: checksumPending, now: now,
                                 snapshot: snapshot, hint: hint, gsoSize: gsoSize, mayExceedMTU: true)
        }
        let newFlows = counters[.newFlows], hits = counters[.flowHits], persistent = counters[.persistenceHits]
        let echoes = counters[.icmpEchoReplies]
        let verdict = processPacket(frame, length: length, ingress: ingress, checksumPending: checksumPending,
                                    now: now, snapshot: snapshot, hint: hint, gsoSize: gsoSize, mayExceedMTU: true)
        var event = TraceEvent(time: now, kind: .passed, proto: info.proto, source: info.source.v4,
                               destination: info.destination.v4, sourcePort: info.sourcePort,
                               destinationPort: info.destinationPort)
        switch verdict {
        case .forward(let egress):
            event.egress = egress
            if counters[.newFlows] != newFlows {
                event.kind = counters[.persistenceHits] != persistent ? .persistentFlow : .newFlow
            } else if counters[.flowHits] != hits {
                event.kind = .flowHit
            } else if counters[.icmpEchoReplies] != echoes {
                event.kind = .answered
            } else {
                event.kind = .reply
            }
        case .reply(let egress):
            event.kind = .answered
            event.egress = egress
        case .drop(let reason):
            event.kind = .dropped
            event.reason = reason
        case .pass:
            event.kind = .passed
        }
        // The flow the packet belongs to: to a VIP by its own key, a NAT reply by its reply key.
        if info.proto == IPProtocol.tcp || info.proto == IPProtocol.udp {
            let toVIP = snapshot.isVIP(info.destination)
            let key = FlowKey(source: info.source, destination: info.destination, sourcePort: info.sourcePort,
                              destinationPort: info.destinationPort, proto: toVIP ? info.proto : info.proto | Self.replyMark)
            if let slot = findFlow(key, now: now) {
                event.realID = flows[slot].realID
                event.state = flows[slot].state
            }
        }
        FlowTrace.record(event, in: traceRow)
        return verdict
    }
}
