// Between the control plane and its announcements: what the rule is fed (the published
// snapshot's services, their quorum and sorry server from the table, the VIPs on VRRP standby,
// the configured table), and when the engine starts and stops announcing.
import SwitchyardCore

extension ControlPlane {
    /// The engine forwards: from now on VIPs that can be served are announced.
    func startAnnouncing() {
        announcer.start()
        refreshAnnouncements()
    }

    /// Brings the routes in line with what the workers forward (the last published snapshot;
    /// quorum and sorry server from the table), after any change (a health report, adm, a
    /// reload, a VRRP transition) and once a second (a failed route change is tried again).
    func refreshAnnouncements() {
        announcer.update {
            state.withLock { s in
                // Without a table the verdicts go unread: none are worked out (this runs every second).
                guard let table = s.config.announce.table else { return (nil, [:]) }
                let services = (s.snapshot?.services ?? []).map { spec in
                    let key = ServiceKey(proto: spec.proto, vip: spec.vip, port: spec.port)
                    let service = s.table.service(key)
                    return AnnouncedService(vip: spec.vip, name: "\(key)", quorumUp: service?.quorumUp ?? true,
                                            sorryServer: service?.config.sorryServer != nil,
                                            takesFlows: spec.reals.contains { $0.available && $0.mac != nil && $0.weight > 0 })
                }
                return (table, AnnouncePlan.verdicts(services, standby: s.standby))
            }
        }
    }

    /// Withdraws every route (the engine is stopping); returns the VIPs withdrawn, their table
    /// and how long to keep forwarding for the routers to move their flows.
    func stopAnnouncing() -> (table: UInt32, withdrawn: [IPAddressBits], drainSeconds: Double)? {
        guard let (table, withdrawn) = announcer.stop() else { return nil }
        return (table, withdrawn, config.announce.drainSeconds)
    }
}
