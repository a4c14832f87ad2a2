// The flow hint: a frame's flow key and hash worked out ahead of `Pipeline.process`, so the
// worker can prefetch a batch's flow-table slots, and the hash `process` then uses instead of
// computing it again.

extension Pipeline {
    /// Works out the flow key a frame will be looked up by, and its hash, ahead of `process`:
    /// the worker does this for a batch of frames and prefetches each one's home slot
    /// (`flows.homeSlot(hash:)`), so that in a table of a million slots, where most lookups miss
    /// the caches and the TLB, the misses overlap instead of stalling one packet each; then
    /// `process` uses the hash instead of computing it again. Only for the plain shape (untagged
    /// IPv4 TCP or UDP, not a fragment), else `.none`. A hint only: `process` parses and checks
    /// everything itself, and uses the hash only for the very key it derived. Declared mutating
    /// though it changes nothing: called as a non-mutating method on the worker's inout
    /// pipeline, the compiler put the whole pipeline (353 bytes) into a temporary first, a
    /// memcpy per call.
    @inline(__always)
    public mutating func flowHint(_ frame: UnsafeMutableRawPointer, length: Int, snapshot: SnapshotView) -> FlowHint {
        guard length >= 42, load16(frame, 12) == PacketParser.etherTypeIPv4 else { return .none }
        let versionIHL = frame.load(fromByteOffset: 14, as: UInt8.self)
        let l4 = 14 + Int(versionIHL & 0x0F) * 4
        var proto = frame.load(fromByteOffset: 23, as: UInt8.self)
        guard versionIHL >> 4 == 4, l4 >= 34, length >= l4 + 4, load16(frame, 20) & 0x3FFF == 0,
              proto == IPProtocol.tcp || proto == IPProtocol.udp else { return .none }
        let destination = load32(frame, 30)
        if !snapshot.isVIP(IPAddressBits(v4: destination)) {
            // Not to a VIP: a NAT reply is looked up by its own 5-tuple under the reply mark.
            guard snapshot.hasNAT else { return .none }
            proto |= Self.replyMark
        }
        let key = FlowKey(source: load32(frame, 26), destination: destination, sourcePort: load16(frame, l4),
                          destinationPort: load16(frame, l4 + 2), proto: proto)
        return FlowHint(key: key, hash: flows.hash(key))
    }

    /// The hash of `key`: the current frame's hint's if it was worked out for this very key.
    @inline(__always)
    func flowHash(_ key: FlowKey) -> UInt32 {
        let h = currentHint.hash
        if h != 0 && currentHint.key == key { return h }
        return flows.hash(key)
    }
}
