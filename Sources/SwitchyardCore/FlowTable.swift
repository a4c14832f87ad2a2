// The flow table: one per worker, fixed capacity chosen at start, open addressing with linear
// probing and backward-shift deletion (no tombstones, so probe chains never rot), no allocation
// after init. Like IPVS's ip_vs_conn.c it binds a flow to its real server once; unlike it, no
// locks: a worker owns its table.

/// A flow's identity: the client-side 5-tuple (IPv4, host byte order).
public struct FlowKey: Hashable, Sendable {
    public var source: UInt32
    public var destination: UInt32
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var proto: UInt8

    public init(source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16, proto: UInt8) {
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.proto = proto
    }

    /// The key as the two 64-bit words SipHash takes.
    @inline(__always)
    public var words: (UInt64, UInt64) {
        (UInt64(source) << 32 | UInt64(destination),
         UInt64(sourcePort) << 48 | UInt64(destinationPort) << 32 | UInt64(proto))
    }
}

/// TCP connection states as IPVS names them, driven here by the client direction alone (DR).
public enum FlowState: UInt8, Sendable, CaseIterable {
    case none = 0
    case synRecv
    case established
    case finWait
    case close
    case udp
    case other

    /// The next state after a client packet with `flags` (IPVS's input-only table, simplified:
    /// a SYN opens, an ACK establishes, a FIN starts closing, a RST closes).
    @inline(__always)
    public func next(tcpFlags flags: UInt8) -> FlowState {
        if flags & TCPFlags.rst != 0 { return .close }
        if flags & TCPFlags.syn != 0 { return self == .established ? .established : .synRecv }
        if flags & TCPFlags.fin != 0 { return self == .close ? .close : .finWait }
        if flags & TCPFlags.ack != 0 {
            switch self {
            case .none, .synRecv: return .established
            default: return self
            }
        }
        return self
    }
}

/// Idle timeouts per state, in milliseconds (defaults as IPVS: tcp 900 s, tcpfin 120 s, udp 300 s).
public struct FlowTimeouts: Sendable, Equatable {
    public var tcpEstablished: UInt32 = 900_000
    public var tcpSynRecv: UInt32 = 30_000
    public var tcpFin: UInt32 = 120_000
    public var tcpClose: UInt32 = 10_000
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
        case .udp: udp
        case .other: other
        }
    }
}

/// One slot: 28 bytes. `hash == 0` marks an empty slot (stored hashes are never 0).
public struct FlowEntry: Sendable {
    public var hash: UInt32
    public var source: UInt32
    public var destination: UInt32
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var proto: UInt8
    public var state: FlowState
    public var flags: UInt8
    public var reserved: UInt8
    /// The real server the flow is bound to (an ID from the forwarding snapshot).
    public var realID: UInt32
    /// Milliseconds on the worker's clock when the flow last saw a packet (wrapping).
    public var lastSeen: UInt32

    @inline(__always)
    func matches(_ k: FlowKey, _ h: UInt32) -> Bool {
        hash == h && source == k.source && destination == k.destination && sourcePort == k.sourcePort
            && destinationPort == k.destinationPort && proto == k.proto
    }
}

public struct FlowTable: ~Copyable {
    @usableFromInline let slots: UnsafeMutablePointer<FlowEntry>
    @usableFromInline let mask: Int
    /// How many flows it holds at most (the slot array is larger, to keep probe chains short).
    public let capacity: Int
    public private(set) var count = 0
    public var timeouts: FlowTimeouts
    let key: HashKey
    var sweepCursor = 0
    /// How many slots around the home slot are searched for a victim when the table is full.
    static let evictionWindow = 32

    /// Allocates every slot now; nothing is allocated later. Slots = next power of two at or
    /// above capacity × 4/3 (load ≤ 0.75).
    public init(capacity: Int, key: HashKey, timeouts: FlowTimeouts = FlowTimeouts()) {
        precondition(capacity > 0, "flow table capacity must be positive")
        var size = 16
        while size < capacity + capacity / 3 + 1 { size <<= 1 }
        slots = .allocate(capacity: size)
        slots.initialize(repeating: FlowEntry(hash: 0, source: 0, destination: 0, sourcePort: 0, destinationPort: 0,
                                              proto: 0, state: .none, flags: 0, reserved: 0, realID: 0, lastSeen: 0),
                         count: size)
        mask = size - 1
        self.capacity = capacity
        self.key = key
        self.timeouts = timeouts
    }

    deinit { slots.deallocate() }

    public var slotCount: Int { mask + 1 }

    /// The keyed hash of a flow, never 0.
    @inline(__always)
    public func hash(_ k: FlowKey) -> UInt32 {
        let (m0, m1) = k.words
        let h = UInt32(truncatingIfNeeded: SipHash.hash(m0, m1, key: key))
        return h == 0 ? 1 : h
    }

    @inline(__always)
    func isExpired(_ e: FlowEntry, now: UInt32) -> Bool {
        now &- e.lastSeen > timeouts.timeout(e.state)
    }

    /// The slot holding a live flow for `k`, or nil. An expired match is removed (and counted
    /// in `expired`) so the caller schedules the packet afresh.
    @inline(__always)
    public mutating func lookup(_ k: FlowKey, hash h: UInt32, now: UInt32, expired: inout UInt64) -> Int? {
        var i = Int(h) & mask
        while true {
            let e = slots[i]
            if e.hash == 0 { return nil }
            if e.matches(k, h) {
                if isExpired(e, now: now) {
                    remove(at: i)
                    expired &+= 1
                    return nil
                }
                return i
            }
            i = (i + 1) & mask
        }
    }

    /// Inserts a flow known to be absent and returns its slot. When the table is full it first
    /// reuses an expired flow near the home slot, then evicts the oldest half-open flow there,
    /// then the oldest flow; `expired` and `evicted` count which happened.
    @inline(__always)
    public mutating func insert(_ k: FlowKey, hash h: UInt32, realID: UInt32, state: FlowState, now: UInt32,
                                expired: inout UInt64, evicted: inout UInt64) -> Int {
        if count >= capacity { makeRoom(near: Int(h) & mask, now: now, expired: &expired, evicted: &evicted) }
        var i = Int(h) & mask
        while slots[i].hash != 0 { i = (i + 1) & mask }
        slots[i] = FlowEntry(hash: h, source: k.source, destination: k.destination, sourcePort: k.sourcePort,
                             destinationPort: k.destinationPort, proto: k.proto, state: state, flags: 0, reserved: 0,
                             realID: realID, lastSeen: now)
        count += 1
        return i
    }

    /// Reads or updates the flow in `slot` (a value returned by lookup or insert).
    @inline(__always)
    public subscript(slot: Int) -> FlowEntry {
        get { slots[slot] }
        nonmutating set { slots[slot] = newValue }
    }

    /// Removes the flow in `slot`, shifting later members of its probe chain back so that no
    /// lookup ever stops early at the hole.
    public mutating func remove(at slot: Int) {
        var hole = slot
        var j = slot
        while true {
            j = (j + 1) & mask
            let e = slots[j]
            if e.hash == 0 { break }
            let home = Int(e.hash) & mask
            // e may move into the hole unless its home lies cyclically in (hole, j].
            let stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !stays {
                slots[hole] = e
                hole = j
            }
        }
        slots[hole].hash = 0
        count -= 1
    }

    mutating func makeRoom(near home: Int, now: UInt32, expired: inout UInt64, evicted: inout UInt64) {
        var victim = -1
        var victimHalfOpen = false
        var victimAge: UInt32 = 0
        for step in 0..<Self.evictionWindow {
            let i = (home + step) & mask
            let e = slots[i]
            if e.hash == 0 { continue }
            if isExpired(e, now: now) {
                remove(at: i)
                expired &+= 1
                return
            }
            let halfOpen = e.state == .synRecv
            let age = now &- e.lastSeen
            if victim < 0 || (halfOpen && !victimHalfOpen) || (halfOpen == victimHalfOpen && age > victimAge) {
                victim = i
                victimHalfOpen = halfOpen
                victimAge = age
            }
        }
        if victim < 0 {
            // The window was empty, which a full table makes unlikely but possible: sweep on.
            var i = (home + Self.evictionWindow) & mask
            while slots[i].hash == 0 { i = (i + 1) & mask }
            victim = i
        }
        remove(at: victim)
        evicted &+= 1
    }

    /// Checks `budget` slots from where the last call stopped and removes the expired flows.
    /// Workers call it when idle or between batches so expired flows do not wait for a lookup.
    /// Returns how many it removed.
    @discardableResult
    public mutating func sweep(now: UInt32, budget: Int) -> Int {
        var removed = 0
        var i = sweepCursor
        var checked = 0
        while checked < budget {
            let e = slots[i]
            if e.hash != 0 && isExpired(e, now: now) {
                // The shift may pull a later flow into i: look at i again.
                remove(at: i)
                removed += 1
            } else {
                i = (i + 1) & mask
            }
            checked += 1
        }
        sweepCursor = i
        return removed
    }
}
