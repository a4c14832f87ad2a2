// The numbers an operator reads: per real server totals and rates (ipvsadm's --stats and
// --rate), and the engine's counters for the log.
import SwitchyardCore
import SwitchyardIO

extension ControlPlane {
    /// A real server's (or sorry server's) totals from the workers' shared counters.
    func numbers(_ id: UInt32, rates: [UInt32: Rates]) -> RealNumbers {
        var n = RealNumbers()
        (n.active, n.inactive) = counts.totals(realID: id)
        n.connections = stats.total(realID: id, field: RealServerStats.connections)
        n.inPackets = stats.total(realID: id, field: RealServerStats.inPackets)
        n.inBytes = stats.total(realID: id, field: RealServerStats.inBytes)
        n.outPackets = stats.total(realID: id, field: RealServerStats.outPackets)
        n.outBytes = stats.total(realID: id, field: RealServerStats.outBytes)
        n.rates = rates[id] ?? Rates()
        return n
    }

    /// Every 2 s: rates as moving averages (each sample weighs a quarter, as IPVS's estimator
    /// smooths its 2-second samples).
    func updateRates(interval: Double) {
        let ids = state.withLock { s in s.table.services.flatMap { $0.reals.map(\.id) + [$0.sorryID] } }
        let totals = ids.map { ($0, numbers($0, rates: [:])) }
        state.withLock { s in
            for (id, now) in totals {
                // No sample yet: the counters started at 0 (a new server, or after adm -Z), so
                // the traffic before the first sample counts too.
                let before = s.lastTotals[id] ?? RealNumbers()
                var r = s.rates[id] ?? Rates()
                func smooth(_ old: Double, _ now: UInt64, _ before: UInt64) -> Double {
                    // Counters that went back (reset under a reused ID) start over from 0.
                    let delta = now >= before ? now - before : now
                    return old + (Double(delta) / interval - old) / 4
                }
                r.cps = smooth(r.cps, now.connections, before.connections)
                r.inPPS = smooth(r.inPPS, now.inPackets, before.inPackets)
                r.outPPS = smooth(r.outPPS, now.outPackets, before.outPackets)
                r.inBPS = smooth(r.inBPS, now.inBytes, before.inBytes)
                r.outBPS = smooth(r.outBPS, now.outBytes, before.outBytes)
                s.rates[id] = r
                s.lastTotals[id] = now
            }
        }
    }

    /// Forgets the counters and rates of some real servers (adm -Z).
    func zero(_ ids: [UInt32]) {
        for id in ids { stats.reset(realID: id) }
        state.withLock { s in for id in ids { s.lastTotals[id] = nil; s.rates[id] = nil } }
    }

    /// The engine's counters as `name=value` pairs, for the log.
    public func summary() -> String {
        forwarding.engineCounters().map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }
}
