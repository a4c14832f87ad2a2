// The fingerprint of a service's consistent-hash table: one number that balancers behind one
// ECMP router compare to know they send every flow to the same real server. Read by the
// control plane (adm --fingerprint), never per packet.

extension ForwardingSnapshot {
    /// For the service at `index` with a table (mh, sh): a hash of the scheduling key, the
    /// scheduler, the table size and what each slot holds, a real server named by its address
    /// and port (ids differ from one balancer to the next). Equal fingerprints: the same flow
    /// picks the same real server. nil for a service without a table.
    public func tableFingerprint(serviceIndex index: Int) -> UInt64? {
        guard index >= 0, index < view.serviceCount else { return nil }
        let service = view.services[index]
        guard service.tableSize > 0 else { return nil }
        // A keyed hash of a constant stands for the key (the key itself stays unshown).
        let fixed = HashKey(k0: 0x6669_6e67_6572_7072, k1: 0x696e_7420_6f66_206d)
        var h = SipHash.hash(0x6b65_79, SipHash.hash(0, 0, key: view.schedulingKey), key: fixed)
        h = SipHash.hash(h, UInt64(service.tableSize) << 8 | UInt64(service.scheduler.rawValue), key: fixed)
        for slot in 0..<Int(service.tableSize) {
            let id = view.tables[Int(service.tableStart) + slot]
            if id < 0 {
                h = SipHash.hash(h, 0xFFFF_FFFF_FFFF_FFFF, key: fixed)
                continue
            }
            let real = view.reals[Int(id)]
            h = SipHash.hash(h, real.address.high, real.address.low, UInt64(real.port), 0, key: fixed)
        }
        return h
    }

    /// How many of the service's slots each real server holds, by real server id.
    public func tableShares(serviceIndex index: Int) -> [UInt32: Int] {
        guard index >= 0, index < view.serviceCount else { return [:] }
        let service = view.services[index]
        var shares: [UInt32: Int] = [:]
        for slot in 0..<Int(service.tableSize) {
            let id = view.tables[Int(service.tableStart) + slot]
            if id >= 0 { shares[UInt32(id), default: 0] += 1 }
        }
        return shares
    }
}
