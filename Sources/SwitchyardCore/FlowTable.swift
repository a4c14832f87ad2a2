// One address family's flow table (FlowTable holds an IPv4 one and an IPv6 one): fixed
// capacity chosen at start, open addressing with linear probing and backward-shift deletion (no
// tombstones, so probe chains never rot), no allocation after init. Like IPVS's ip_vs_conn.c it
// binds a flow to its real server once; unlike it, no locks: a worker owns its tables.

import Synchronization

/// Where a flow table's slots live. The default is the Swift heap (64-byte aligned); the I/O
/// layer passes one that maps the slots on huge pages, so a lookup in a table of many megabytes
/// costs a cache miss and not also a TLB miss. Called only when a table is made or freed.
public struct SlotMemory: Sendable {
    public var allocate: @Sendable (_ bytes: Int) -> UnsafeMutableRawPointer
    public var deallocate: @Sendable (_ pointer: UnsafeMutableRawPointer, _ bytes: Int) -> Void

    public init(allocate: @escaping @Sendable (_ bytes: Int) -> UnsafeMutableRawPointer,
                deallocate: @escaping @Sendable (_ pointer: UnsafeMutableRawPointer, _ bytes: Int) -> Void) {
        self.allocate = allocate
        self.deallocate = deallocate
    }

    public static let heap = SlotMemory(allocate: { .allocate(byteCount: $0, alignment: 64) },
                                        deallocate: { pointer, _ in pointer.deallocate() })
}

/// One address family's open-addressed table of `Slot`s (FlowTable holds one of each).
public struct FlowSlots<Slot: FlowSlot>: ~Copyable {
    @usableFromInline let slots: UnsafeMutablePointer<Slot>
    let memory: SlotMemory
    @usableFromInline let mask: Int
    /// How many flows it holds at most (the slot array is larger, to keep probe chains short).
    public let capacity: Int
    public private(set) var count = 0
    public var timeouts: FlowTimeouts
    let key: HashKey
    var sweepCursor = 0
    /// This worker's connection counts (nil: not counted); kept in step by insert, remove and
    /// setState for connection entries (not reply mappings or templates).
    let counts: UnsafeMutablePointer<Atomic<Int32>>?

    /// Allocates every slot now; nothing is allocated later. Slots = next power of two at or
    /// above capacity × 4/3 (load ≤ 0.75).
    /// The slots a table of `capacity` flows has: a power of two of at least 16, above
    /// capacity × 4/3 (the load factor that keeps probes short); nil if that overflows. The I/O
    /// layer reserves `slotCount × MemoryLayout<Slot>.stride` bytes ahead by it.
    public static func slotCount(capacity: Int) -> Int? {
        guard capacity <= Int.max / 2 else { return nil }
        var slots = 16
        while slots < capacity + capacity / 3 + 1 {
            guard slots <= Int.max >> 1 else { return nil }
            slots <<= 1
        }
        return slots
    }

    public init(capacity: Int, key: HashKey, timeouts: FlowTimeouts = FlowTimeouts(),
                counts: UnsafeMutablePointer<Atomic<Int32>>? = nil, memory: SlotMemory = .heap) {
        precondition(capacity > 0, "flow table capacity must be positive")
        guard let size = Self.slotCount(capacity: capacity) else {
            preconditionFailure("flow table capacity \(capacity) is too large")
        }
        self.memory = memory
        slots = memory.allocate(size * MemoryLayout<Slot>.stride).bindMemory(to: Slot.self, capacity: size)
        slots.initialize(repeating: .empty, count: size)
        mask = size - 1
        self.capacity = capacity
        self.key = key
        self.timeouts = timeouts
        self.counts = counts
    }

    @inline(__always)
    func adjustCounts(_ e: FlowEntry, _ delta: Int32) {
        guard let counts, e.flags & (FlowFlags.reply | FlowFlags.template) == 0 else { return }
        let field = e.state.isActive ? ConnectionCounts.active : ConnectionCounts.inactive
        counts[counterIndex(realID: e.realID, field: field, of: ConnectionCounts.fields)].soleWriterAdd(delta)
    }

    /// Changes a connection's state, keeping the active/inactive counts in step.
    @inline(__always)
    public func setState(_ slot: Int, _ state: FlowState) {
        let e = slots[slot].entry
        guard e.state != state else { return }
        adjustCounts(e, -1)
        slots[slot].entry.state = state
        adjustCounts(slots[slot].entry, 1)
    }

    deinit {
        slots.deinitialize(count: mask + 1)
        memory.deallocate(UnsafeMutableRawPointer(slots), (mask + 1) * MemoryLayout<Slot>.stride)
    }

    public var slotCount: Int { mask + 1 }

    /// The keyed hash of a flow, never 0.
    @inline(__always)
    public func hash(_ k: FlowKey) -> UInt32 {
        let h = UInt32(truncatingIfNeeded: k.hash(with: key))
        return h == 0 ? 1 : h
    }

    /// The address of the home slot of a flow with hash `h`, where its lookup starts.
    @inline(__always)
    public func homeSlot(hash h: UInt32) -> UnsafeRawPointer {
        UnsafeRawPointer(slots + (Int(h) & mask))
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
            let slot = slots[i]
            if slot.entry.hash == 0 { return nil }
            if slot.matches(k, h) {
                if isExpired(slot.entry, now: now) {
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
    /// then the oldest closing one, then the oldest; `expired` and `evicted` count which happened.
    @inline(__always)
    public mutating func insert(_ k: FlowKey, hash h: UInt32, realID: UInt32, state: FlowState, now: UInt32,
                                flags: UInt8 = 0, interface: UInt8 = 0, peerMAC: MACAddress = .zero,
                                expired: inout UInt64, evicted: inout UInt64) -> Int {
        if count >= capacity { makeRoom(near: Int(h) & mask, now: now, expired: &expired, evicted: &evicted) }
        var i = Int(h) & mask
        while slots[i].entry.hash != 0 { i = (i + 1) & mask }
        var e = FlowEntry.empty
        e.hash = h
        e.sourcePort = k.sourcePort
        e.destinationPort = k.destinationPort
        e.proto = k.proto
        e.state = state
        e.flags = flags
        e.interface = interface
        e.realID = realID
        e.lastSeen = now
        e.peerMAC = peerMAC
        slots[i] = Slot(key: k, entry: e)
        adjustCounts(e, 1)
        count += 1
        return i
    }

    /// Reads or updates the flow in `slot` (a value returned by lookup or insert): the common
    /// fields (an IPv6 slot's own addresses are not among them).
    @inline(__always)
    public subscript(slot: Int) -> FlowEntry {
        get { slots[slot].entry }
        nonmutating set { slots[slot].entry = newValue }
    }

    /// The whole slot `slot` (an IPv6 slot's addresses with it).
    @inline(__always)
    public func slot(_ slot: Int) -> Slot { slots[slot] }

    /// Removes the flow in `slot`, shifting later members of its probe chain back so that no
    /// lookup ever stops early at the hole.
    public mutating func remove(at slot: Int) {
        adjustCounts(slots[slot].entry, -1)
        var hole = slot
        var j = slot
        while true {
            j = (j + 1) & mask
            let e = slots[j]
            if e.entry.hash == 0 { break }
            let home = Int(e.entry.hash) & mask
            // e may move into the hole unless its home lies cyclically in (hole, j].
            let stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !stays {
                slots[hole] = e
                hole = j
            }
        }
        slots[hole].entry.hash = 0
        count -= 1
    }

    mutating func makeRoom(near home: Int, now: UInt32, expired: inout UInt64, evicted: inout UInt64) {
        var victim = -1
        var victimRank: UInt8 = 0
        var victimAge: UInt32 = 0
        for step in 0..<Limits.flowEvictionWindow {
            let i = (home + step) & mask
            let e = slots[i].entry
            if e.hash == 0 { continue }
            if isExpired(e, now: now) {
                remove(at: i)
                expired &+= 1
                return
            }
            let rank = e.state.evictionRank
            let age = now &- e.lastSeen
            if victim < 0 || rank < victimRank || (rank == victimRank && age > victimAge) {
                victim = i
                victimRank = rank
                victimAge = age
            }
        }
        if victim < 0 {
            // The window was empty, which a full table makes unlikely but possible: sweep on.
            var i = (home + Limits.flowEvictionWindow) & mask
            while slots[i].entry.hash == 0 { i = (i + 1) & mask }
            victim = i
        }
        remove(at: victim)
        evicted &+= 1
    }

    /// Moves past `budget` slots from where the last call stopped, removing the expired flows
    /// it meets. Workers call it when idle or between batches so expired flows do not wait for a
    /// lookup. Returns how many it removed.
    @discardableResult
    public mutating func sweep(now: UInt32, budget: Int) -> Int {
        var removed = 0
        var i = sweepCursor
        var passed = 0
        while passed < budget {
            let e = slots[i].entry
            if e.hash != 0 && isExpired(e, now: now) {
                // The shift may pull a later flow into i: look at i again before moving on
                // (a removal does not use up the budget, or a full sweep could stop short).
                remove(at: i)
                removed += 1
            } else {
                i = (i + 1) & mask
                passed += 1
            }
        }
        sweepCursor = i
        return removed
    }
}
