// The pipeline's side of FlowExchange: queuing a flow's changes for connection sync (IPVS's
// rules for when), installing the flows the control plane hands in, and walking the tables a
// slice at a time for a listing or a full sync. Cold code: the per-packet path only tests
// `syncing` before it calls in here.

extension Pipeline {
    /// Once per turn of the worker's loop: takes the control plane's requests (sending on or off,
    /// flows to install, a walk of up to `walkBudget` slots). Returns true while work is left
    /// over (the worker should come back soon rather than sleep).
    public mutating func exchangeTurn(now: UInt32, snapshot: SnapshotView, walkBudget: Int = Limits.walkBudget) -> Bool {
        guard let exchange else { return false }
        syncing = exchange.isSending
        var installed = 0
        while installed < Limits.installBudget, let record = exchange.inbound.pop() {
            install(record, now: now, snapshot: snapshot)
            installed += 1
        }
        let request = exchange.requestedWalk
        if request.number != walk.number {
            walk = FlowWalk(number: request.number, purposes: request.purposes, cursor: 0, active: true)
        }
        if walk.active { walkTurn(exchange.outbound, now: now, snapshot: snapshot, budget: walkBudget) }
        return walk.active || installed == Limits.installBudget
    }

    // MARK: changes

    /// After a packet of the flow in `slot` (state already moved from `previous`): queues the flow
    /// when IPVS's ip_vs_sync_conn_needed would sync it. TCP: on entering ESTABLISHED or a closing
    /// state, and in those states when packets % sync_period == sync_threshold; never while half
    /// open. UDP: when packets % sync_period == sync_threshold.
    @inline(never)
    mutating func noteSync(_ slot: Int, previous: FlowState, now: UInt32, snapshot: SnapshotView) {
        let entry = flows[slot]
        let packets = entry.syncPackets &+ 1
        flows[slot].syncPackets = packets
        let due: Bool
        if entry.proto == IPProtocol.tcp {
            switch entry.state {
            case .none, .synRecv, .lastAck, .other, .udp: due = false
            case .established, .finWait, .close, .closeWait, .timeWait:
                due = entry.state != previous || packets % Limits.syncPeriod == Limits.syncThreshold
            }
        } else {
            due = packets % Limits.syncPeriod == Limits.syncThreshold
        }
        guard due, let record = record(of: entry, flows.addresses(slot), origin: FlowRecord.change, now: now,
                                       snapshot: snapshot)
        else { return }
        queue(record)
    }

    /// Queues the persistence template in `slot`, which the scheduler just made.
    @inline(never)
    mutating func noteTemplate(_ slot: Int, now: UInt32, snapshot: SnapshotView) {
        guard let record = record(of: templates[slot], templates.addresses(slot), origin: FlowRecord.change, now: now,
                                  snapshot: snapshot)
        else { return }
        queue(record)
    }

    mutating func queue(_ record: FlowRecord) {
        guard let exchange else { return }
        if exchange.outbound.push(record) {
            counters.bump(.syncQueued)
        } else {
            counters.bump(.syncQueueFull)
        }
    }

    /// A table entry (its common fields and its key's addresses) as a record, or nil for what is
    /// not told (reply mappings, empty or expired slots, flows whose real server left the
    /// snapshot).
    func record(of entry: FlowEntry, _ addresses: (source: IPAddressBits, destination: IPAddressBits), origin: UInt8,
                now: UInt32, snapshot: SnapshotView) -> FlowRecord? {
        guard entry.hash != 0, entry.flags & FlowFlags.reply == 0,
              let real = snapshot.real(entry.realID)
        else { return nil }
        let idle = now &- entry.lastSeen
        let lifetime: UInt32
        var flags = entry.flags & (FlowFlags.nat | FlowFlags.template | FlowFlags.synced)
        if entry.flags & FlowFlags.template != 0 {
            guard let service = snapshot.service(of: real) else { return nil }
            lifetime = service.pointee.persistenceTimeout
            // A template is made before its method matters; the record names it (IPVS sends a
            // template with its service's forwarding flags).
            if service.pointee.method == .nat { flags |= FlowFlags.nat }
        } else {
            lifetime = flows.timeouts.timeout(entry.state)
        }
        guard idle <= lifetime else { return nil }
        return FlowRecord(client: addresses.source, virtual: addresses.destination, real: real.pointee.address,
                          clientPort: entry.sourcePort, virtualPort: entry.destinationPort, realPort: real.pointee.port,
                          proto: entry.proto & ~(Self.replyMark | Self.templateMark), state: entry.state,
                          flags: flags,
                          origin: origin, interface: entry.interface, peerMAC: entry.peerMAC,
                          expiresIn: lifetime - idle, realID: entry.realID)
    }

    // MARK: installs

    /// Installs (or refreshes) a flow the control plane hands in, marked synced: a connection
    /// with its NAT reply mapping, or a persistence template. A record whose real server is not
    /// in this worker's snapshot under that ID is left out: the next packet schedules afresh.
    mutating func install(_ r: FlowRecord, now: UInt32, snapshot: SnapshotView) {
        guard let real = snapshot.real(r.realID), real.pointee.address == r.real,
              real.pointee.port == r.realPort
        else { return }
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        defer {
            if expired != 0 { counters.bump(.flowsExpired, by: expired) }
            if evicted != 0 { counters.bump(.flowEvictions, by: evicted) }
        }
        if r.isTemplate {
            let key = FlowKey(source: r.client, destination: r.virtual, sourcePort: 0, destinationPort: r.virtualPort,
                              proto: r.proto | Self.templateMark)
            let hash = templates.hash(key)
            if let slot = templates.lookup(key, hash: hash, now: now, expired: &expired) {
                templates[slot].realID = r.realID
                templates[slot].lastSeen = now
            } else {
                _ = templates.insert(key, hash: hash, realID: r.realID, state: .other, now: now,
                                     flags: FlowFlags.template | FlowFlags.synced, expired: &expired, evicted: &evicted)
            }
            counters.bump(.syncInstalled)
            return
        }
        let key = FlowKey(source: r.client, destination: r.virtual, sourcePort: r.clientPort,
                          destinationPort: r.virtualPort, proto: r.proto)
        let hash = flows.hash(key)
        if let slot = flows.lookup(key, hash: hash, now: now, expired: &expired) {
            if flows[slot].realID != r.realID {
                // Bound elsewhere here: the master's binding wins, as the master owns the flow.
                flows.remove(at: slot)
                insertSynced(key, hash: hash, r, now: now, expired: &expired, evicted: &evicted)
            } else {
                flows[slot].lastSeen = now
                flows.setState(slot, r.state)
            }
        } else {
            insertSynced(key, hash: hash, r, now: now, expired: &expired, evicted: &evicted)
        }
        if r.isNAT {
            let replyKey = FlowKey(source: r.real, destination: r.client, sourcePort: r.realPort,
                                   destinationPort: r.clientPort, proto: r.proto | Self.replyMark)
            let replyHash = flows.hash(replyKey)
            if let slot = flows.lookup(replyKey, hash: replyHash, now: now, expired: &expired) {
                var e = flows[slot]
                e.lastSeen = now
                e.state = r.state
                e.realID = r.realID
                e.interface = r.interface
                if r.peerMAC != .zero { e.peerMAC = r.peerMAC }
                flows[slot] = e
            } else {
                _ = flows.insert(replyKey, hash: replyHash, realID: r.realID, state: r.state, now: now,
                                 flags: FlowFlags.reply | FlowFlags.nat | FlowFlags.synced, interface: r.interface,
                                 peerMAC: r.peerMAC, expired: &expired, evicted: &evicted)
            }
        }
        counters.bump(.syncInstalled)
    }

    mutating func insertSynced(_ key: FlowKey, hash: UInt32, _ r: FlowRecord, now: UInt32, expired: inout UInt64,
                               evicted: inout UInt64) {
        _ = flows.insert(key, hash: hash, realID: r.realID, state: r.state, now: now,
                         flags: (r.flags & FlowFlags.nat) | FlowFlags.synced, interface: r.interface,
                         peerMAC: r.peerMAC, expired: &expired, evicted: &evicted)
    }

    // MARK: walks

    /// Walks up to `budget` slots, queuing each live connection and template with the
    /// walk's purposes; at the end queues the done marker. Stops early (and resumes next turn at
    /// the same slot) when the ring is full.
    mutating func walkTurn(_ ring: FlowRecordRing, now: UInt32, snapshot: SnapshotView, budget: Int) {
        let flowSlots = flows.slotCount
        let end = flowSlots + templates.slotCount
        var visited = 0
        while walk.cursor < end && visited < budget {
            let inFlows = walk.cursor < flowSlots
            let slot = inFlows ? walk.cursor : walk.cursor - flowSlots
            let entry = inFlows ? flows[slot] : templates[slot]
            // The addresses are read only for a slot in use (most are empty).
            if entry.hash != 0, entry.flags & FlowFlags.reply == 0,
               let record = record(of: entry, inFlows ? flows.addresses(slot) : templates.addresses(slot),
                                   origin: walk.purposes, now: now, snapshot: snapshot) {
                guard ring.push(record) else { return }
            }
            walk.cursor += 1
            visited += 1
        }
        if walk.cursor >= end, ring.push(.done(walk: walk.number)) { walk.active = false }
    }
}
