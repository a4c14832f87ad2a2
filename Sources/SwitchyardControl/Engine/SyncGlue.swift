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
            // Sync's entries are IPv4 (FlowRecord): IPv6 services have none.
            for service in s.table.services {
                let c = service.config
                guard let vip = c.vip.ipv4 else { continue }
                for real in service.reals {
                    guard let address = real.config.address.ipv4 else { continue }
                    let key = SyncDirectory.RealKey(proto: c.proto, virtual: vip.value, virtualPort: c.port,
                                                    real: address.value, realPort: real.config.port)
                    d.reals[key] = SyncDirectory.Real(id: real.id, nat: c.method == .nat)
                }
                if let number = try? plan.number(for: IPAddressBits(vip), vip: true) { d.vipInterface[vip.value] = UInt8(number) }
            }
            d.clientMask = s.table.services.filter { $0.config.persistenceTimeout > 0 }
                .reduce(UInt32.max) { $0 & $1.config.persistenceMask }
            return (d, s.generation)
        }
    }

    /// The table's generation (moves on with every published snapshot).
    var tableGeneration: UInt64 { state.withLock { $0.generation } }
}
