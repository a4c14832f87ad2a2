// Flows in the pipeline: finding a packet's flow, or scheduling it to a real server and
// recording it (with its NAT reply mapping and persistence template); the reply key.
// No syscalls, no allocation, no locks, no throws.

extension Pipeline {
    /// The key under which a NAT flow's replies are found: as the reply travels, real server to
    /// client.
    @inline(__always)
    static func replyKey(client: IPAddressBits, clientPort: UInt16, real: UnsafePointer<RealServerEntry>, proto: UInt8) -> FlowKey {
        FlowKey(source: real.pointee.address, destination: client, sourcePort: real.pointee.port,
                destinationPort: clientPort, proto: proto | replyMark)
    }

    /// Finds the flow's real server, or schedules the flow and records it. A flow whose real
    /// server left the snapshot is scheduled again (IPVS's expire_nodest_conn); one whose real
    /// server is quiescent (weight 0) stays where it is. NAT flows also get (or refresh) their
    /// reply mapping, and both directions share the TCP state.
    @inline(__always)
    mutating func bindFlow(_ info: PacketInfo, service: UnsafePointer<ServiceEntry>, ingress: Int, peer: UInt64,
                           now: UInt32, snapshot: SnapshotView) -> UnsafePointer<RealServerEntry>? {
        let key = FlowKey(source: info.source, destination: info.destination, sourcePort: info.sourcePort,
                          destinationPort: info.destinationPort, proto: info.proto)
        let hash = flowHash(key)
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        defer {
            if expired != 0 { counters.bump(.flowsExpired, by: expired) }
            if evicted != 0 { counters.bump(.flowEvictions, by: evicted) }
        }
        let nat = service.pointee.method == .nat
        if let slot = flows.lookup(key, hash: hash, now: now, expired: &expired) {
            let entry = flows[slot]
            if let real = snapshot.real(entry.realID), real.pointee.serviceID == service.pointee.id,
               real.pointee.canKeepFlows {
                let state = info.proto == IPProtocol.tcp ? entry.state.next(tcpFlags: info.tcpFlags) : entry.state
                flows[slot].lastSeen = now
                flows.setState(slot, state)
                if syncing { noteSync(slot, previous: entry.state, now: now, snapshot: snapshot) }
                if nat {
                    refreshReply(info, realID: entry.realID, real: real, state: state, ingress: ingress, peer: peer,
                                 now: now, expired: &expired, evicted: &evicted)
                }
                counters.bump(.flowHits)
                return real
            }
            flows.remove(at: slot)
        }

        guard let id = schedule(info, key: key, service: service, now: now, snapshot: snapshot),
              let real = snapshot.real(id)
        else { return nil }
        let state: FlowState = info.proto == IPProtocol.tcp ? FlowState.none.next(tcpFlags: info.tcpFlags) : .udp
        let slot = flows.insert(key, hash: hash, realID: id, state: state, now: now, flags: nat ? FlowFlags.nat : 0,
                                interface: UInt8(ingress), peerMAC: MACAddress(bits: peer), expired: &expired,
                                evicted: &evicted)
        if syncing { noteSync(slot, previous: .none, now: now, snapshot: snapshot) }
        if nat {
            refreshReply(info, realID: id, real: real, state: state, ingress: ingress, peer: peer, now: now,
                         expired: &expired, evicted: &evicted)
        }
        counters.bump(.newFlows)
        realStats[counterIndex(realID: id, field: RealServerStats.connections, of: RealServerStats.fields)]
            .soleWriterAdd(1)
        return real
    }

    /// The slot of a live flow (or reply mapping) for `key`; an expired match found on the way is
    /// removed and counted in `flows_expired`.
    @inline(__always)
    mutating func findFlow(_ key: FlowKey, now: UInt32) -> Int? {
        var expired: UInt64 = 0
        let slot = flows.lookup(key, hash: flowHash(key), now: now, expired: &expired)
        if expired != 0 { counters.bump(.flowsExpired, by: expired) }
        return slot
    }

    /// Creates or refreshes the reply mapping of a NAT flow.
    @inline(__always)
    mutating func refreshReply(_ info: PacketInfo, realID: UInt32, real: UnsafePointer<RealServerEntry>,
                               state: FlowState, ingress: Int, peer: UInt64, now: UInt32, expired: inout UInt64,
                               evicted: inout UInt64) {
        let key = Self.replyKey(client: info.source, clientPort: info.sourcePort, real: real, proto: info.proto)
        let hash = flows.hash(key)
        if let slot = flows.lookup(key, hash: hash, now: now, expired: &expired) {
            var e = flows[slot]
            e.lastSeen = now
            e.state = state
            e.realID = realID
            e.interface = UInt8(ingress)
            e.peerMAC = MACAddress(bits: peer)
            flows[slot] = e
        } else {
            _ = flows.insert(key, hash: hash, realID: realID, state: state, now: now,
                             flags: FlowFlags.reply | FlowFlags.nat, interface: UInt8(ingress),
                             peerMAC: MACAddress(bits: peer), expired: &expired, evicted: &evicted)
        }
    }

    /// Picks a real server for a new flow: the persistence template's, if one is alive, else the
    /// scheduler's (recorded as the new template for persistent services).
    @inline(__always)
    mutating func schedule(_ info: PacketInfo, key: FlowKey, service: UnsafePointer<ServiceEntry>, now: UInt32,
                           snapshot: SnapshotView) -> UInt32? {
        let persistence = service.pointee.persistenceTimeout
        var templateKey = FlowKey(source: .zero, destination: .zero, sourcePort: 0, destinationPort: 0, proto: 0)
        var templateHash: UInt32 = 0
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        if persistence > 0 {
            templateKey = FlowKey(source: info.source.masked(service.pointee.persistenceMask), destination: info.destination,
                                  sourcePort: 0, destinationPort: info.destinationPort,
                                  proto: info.proto | Self.templateMark)
            templateHash = templates.hash(templateKey)
            if let slot = templates.lookup(templateKey, hash: templateHash, now: now, expired: &expired) {
                let t = templates[slot]
                if now &- t.lastSeen <= persistence, let real = snapshot.real(t.realID),
                   real.pointee.serviceID == service.pointee.id, real.pointee.canKeepFlows {
                    templates[slot].lastSeen = now
                    counters.bump(.persistenceHits)
                    return t.realID
                }
                templates.remove(at: slot)
            }
        }
        var request = Self.scheduleRequest(key, snapshot: snapshot)
        if let connections {
            request.connections = UnsafePointer(connections.storage)
            request.workers = connections.workers
        }
        guard let id = service.pointee.scheduler.pick(service, in: snapshot, request: request,
                                                      cursor: &cursors[Int(service.pointee.id)])
        else { return nil }
        if persistence > 0 {
            let slot = templates.insert(templateKey, hash: templateHash, realID: id, state: .other, now: now,
                                        flags: FlowFlags.template, expired: &expired, evicted: &evicted)
            if syncing { noteTemplate(slot, now: now, snapshot: snapshot) }
        }
        return id
    }

    /// The hashes a flow is scheduled by: of its whole key (mh), and of its client (sh). Both
    /// depend on the key alone (and the scheduling key), so every balancer with the same
    /// scheduling key and table picks the same real server for the flow.
    @inline(__always)
    static func scheduleRequest(_ key: FlowKey, snapshot: SnapshotView) -> ScheduleRequest {
        // The source hash of an IPv4 client is what it was before IPv6 came (sh tables keep
        // their clients); an IPv6 client's is of its whole address.
        let source = key.source
        let sourceHash = source.isV4 ? SipHash.hash(UInt64(source.v4), 0, key: snapshot.schedulingKey)
                                     : SipHash.hash(source.high, source.low, key: snapshot.schedulingKey)
        return ScheduleRequest(flowHash: key.hash(with: snapshot.schedulingKey), sourceHash: sourceHash)
    }

    /// The real server the service's consistent-hash table (mh, sh) gives the flow `key`, for a
    /// packet that cannot start a flow here (an ICMP error about a flow another balancer
    /// carries); nil for other schedulers or an empty table.
    @inline(__always)
    static func tableReal(_ key: FlowKey, snapshot: SnapshotView) -> UnsafePointer<RealServerEntry>? {
        guard let service = snapshot.service(proto: key.proto, vip: key.destination, port: key.destinationPort),
              service.pointee.scheduler.usesTable
        else { return nil }
        // A table scheduler reads no cursor: this one is only for the signature.
        var unused = SchedulerCursor()
        return service.pointee.scheduler.pick(service, in: snapshot, request: scheduleRequest(key, snapshot: snapshot),
                                              cursor: &unused).flatMap { snapshot.real($0) }
    }
}
