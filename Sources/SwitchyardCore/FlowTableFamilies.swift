// The flow table a pipeline keeps: an IPv4 table of compact 36-byte slots and an IPv6 table of
// 72-byte ones, behind one interface, so the pipeline's flow logic is written once for both
// families and an IPv4 flow costs what it did before IPv6 came (a unified 16-byte address in
// every slot, as IPVS and Katran keep it, made each IPv4 slot 64 bytes and each hit about 13%
// dearer). A key is sent to its family's table; a slot number is the IPv4 table's, or past its
// end the IPv6 table's.

import Synchronization

/// An IPv6 slot: the common fields, and the key's full addresses.
public struct FlowEntry6: FlowSlot {
    public var entry: FlowEntry
    public var source: IPAddressBits
    public var destination: IPAddressBits

    public static let empty = FlowEntry6(entry: .empty, source: .zero, destination: .zero)

    init(entry: FlowEntry, source: IPAddressBits, destination: IPAddressBits) {
        self.entry = entry
        self.source = source
        self.destination = destination
    }

    @inline(__always)
    public init(key: FlowKey, entry: FlowEntry) {
        self.entry = entry
        self.entry.flags |= FlowFlags.ipv6
        source = key.source
        destination = key.destination
    }

    @inline(__always)
    public func matches(_ k: FlowKey, _ h: UInt32) -> Bool {
        entry.hash == h && source == k.source && destination == k.destination && entry.sourcePort == k.sourcePort
            && entry.destinationPort == k.destinationPort && entry.proto == k.proto
    }
}

public struct FlowTable: ~Copyable {
    public var v4: FlowSlots<FlowEntry>
    public var v6: FlowSlots<FlowEntry6>
    /// Slot numbers from here on are the IPv6 table's.
    let v6Base: Int

    /// The IPv6 table's capacity when none is given: an eighth of the IPv4 one's (at least 64).
    public static func defaultCapacity6(_ capacity: Int) -> Int { max(64, capacity / 8) }

    public init(capacity: Int, capacity6: Int? = nil, key: HashKey, timeouts: FlowTimeouts = FlowTimeouts(),
                counts: UnsafeMutablePointer<Atomic<Int32>>? = nil, memory: SlotMemory = .heap) {
        v4 = FlowSlots(capacity: capacity, key: key, timeouts: timeouts, counts: counts, memory: memory)
        v6 = FlowSlots(capacity: capacity6 ?? Self.defaultCapacity6(capacity), key: key, timeouts: timeouts,
                       counts: counts, memory: memory)
        v6Base = v4.slotCount
    }

    /// The bytes each of the two tables of `FlowTable(capacity:capacity6:)` allocates (nil if
    /// that overflows): the I/O layer maps them ahead on huge pages.
    public static func regionBytes(capacity: Int, capacity6: Int? = nil) -> [Int]? {
        func bytes<S>(_ n: Int, _: S.Type) -> Int? {
            guard let slots = FlowSlots<FlowEntry>.slotCount(capacity: n) else { return nil }
            let (b, overflow) = slots.multipliedReportingOverflow(by: MemoryLayout<S>.stride)
            return overflow ? nil : b
        }
        guard let a = bytes(capacity, FlowEntry.self),
              let b = bytes(capacity6 ?? defaultCapacity6(capacity), FlowEntry6.self) else { return nil }
        return [a, b]
    }

    public var capacity: Int { v4.capacity }
    public var count: Int { v4.count + v6.count }
    public var slotCount: Int { v6Base + v6.slotCount }
    public var timeouts: FlowTimeouts {
        get { v4.timeouts }
        set {
            v4.timeouts = newValue
            v6.timeouts = newValue
        }
    }

    /// The keyed hash of a flow, never 0 (both tables share the key).
    @inline(__always)
    public func hash(_ k: FlowKey) -> UInt32 { v4.hash(k) }

    /// The IPv4 table's home slot for hash `h` (flow hints are worked out for IPv4 only).
    @inline(__always)
    public func homeSlot(hash h: UInt32) -> UnsafeRawPointer { v4.homeSlot(hash: h) }

    @inline(__always)
    public mutating func lookup(_ k: FlowKey, hash h: UInt32, now: UInt32, expired: inout UInt64) -> Int? {
        if _fastPath(k.isV4) { return v4.lookup(k, hash: h, now: now, expired: &expired) }
        return v6.lookup(k, hash: h, now: now, expired: &expired).map { $0 + v6Base }
    }

    @inline(__always)
    public mutating func insert(_ k: FlowKey, hash h: UInt32, realID: UInt32, state: FlowState, now: UInt32,
                                flags: UInt8 = 0, interface: UInt8 = 0, peerMAC: MACAddress = .zero,
                                expired: inout UInt64, evicted: inout UInt64) -> Int {
        if _fastPath(k.isV4) {
            return v4.insert(k, hash: h, realID: realID, state: state, now: now, flags: flags, interface: interface,
                             peerMAC: peerMAC, expired: &expired, evicted: &evicted)
        }
        return v6.insert(k, hash: h, realID: realID, state: state, now: now, flags: flags, interface: interface,
                         peerMAC: peerMAC, expired: &expired, evicted: &evicted) + v6Base
    }

    @inline(__always)
    public subscript(slot: Int) -> FlowEntry {
        get { _fastPath(slot < v6Base) ? v4[slot] : v6[slot - v6Base] }
        nonmutating set {
            if _fastPath(slot < v6Base) { v4[slot] = newValue } else { v6[slot - v6Base] = newValue }
        }
    }

    /// The key's addresses of the flow in `slot`, of either family.
    public func addresses(_ slot: Int) -> (source: IPAddressBits, destination: IPAddressBits) {
        if slot < v6Base {
            let e = v4[slot]
            return (IPAddressBits(v4: e.source), IPAddressBits(v4: e.destination))
        }
        let e = v6.slot(slot - v6Base)
        return (e.source, e.destination)
    }

    @inline(__always)
    public func setState(_ slot: Int, _ state: FlowState) {
        if _fastPath(slot < v6Base) { v4.setState(slot, state) } else { v6.setState(slot - v6Base, state) }
    }

    public mutating func remove(at slot: Int) {
        if slot < v6Base { v4.remove(at: slot) } else { v6.remove(at: slot - v6Base) }
    }

    /// Sweeps both tables: the IPv4 one `budget` slots on, the IPv6 one as large a share of its
    /// slots, so both go round in the same time.
    @discardableResult
    public mutating func sweep(now: UInt32, budget: Int) -> Int {
        let budget6 = max(16, budget * v6.slotCount / max(1, v4.slotCount))
        return v4.sweep(now: now, budget: budget) + v6.sweep(now: now, budget: budget6)
    }
}
