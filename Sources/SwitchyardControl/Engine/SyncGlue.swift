// What connection sync asks of the control plane: the directory a backup places received
// flows by (real servers' IDs by address, each VIP's interface, the workers' client split),
// built from the running table under the state lock.
import SwitchyardCore
import SwitchyardIO

extension ControlPlane {
    /// The current table as connection sync's receiver needs it, with the table's generation
    /// (rebuild when it moves on).
    func syncDirectory(workers: Int) -> (directory: SyncDirectory, generation: UInt64) {
        state.withLock { s in
            var d = SyncDirectory()
            d.workers = workers
            for service in s.table.services {
                let c = service.config
                for real in service.reals {
                    let key = SyncDirectory.RealKey(proto: c.proto, virtual: c.vip, virtualPort: c.port,
                                                    real: real.config.address, realPort: real.config.port)
                    d.reals[key] = SyncDirectory.Real(id: real.id, nat: c.method == .nat)
                }
                if let number = try? plan.number(for: c.vip, vip: true) { d.vipInterface[c.vip] = UInt8(number) }
            }
            // As addressSets() gives the fanout program.
            (d.clientMask, d.clientPrefix6) = s.table.clientSplit
            return (d, s.generation)
        }
    }

    /// The table's generation (moves on with every published snapshot).
    var tableGeneration: UInt64 { state.withLock { $0.generation } }
}
