// What `switchyard adm --vrrp` shows of each VRRP instance: its state and since when, its
// priority now, and who the master is. VRRPService writes it after every change; the control
// socket's thread reads it.
import SwitchyardCore

public struct VRRPInstanceStatus: Sendable, Equatable {
    public var name: String
    public var interface: String
    public var virtualRouterID: UInt8
    public var state: VRRPInstance.State
    public var priority: UInt8
    /// The master's address and priority as last heard; this box's own while it is master.
    public var master: IPAddressBits?
    public var masterPriority: UInt8?
    /// Seconds on the service's clock when the instance entered its state.
    public var since: Double
    /// The VIPs and other addresses it holds while master.
    public var addresses: [IPAddressBits]

    /// The table adm prints, `now` on the same clock as `since`.
    public static func render(_ instances: [VRRPInstanceStatus], now: Double) -> String {
        guard !instances.isEmpty else { return "no vrrp_instance in this config\n" }
        var rows = [["Instance", "Interface", "VRID", "State", "Priority", "Master", "For", "Addresses"]]
        for i in instances {
            let master = i.master.map { "\($0)" + (i.masterPriority.map { " (\($0))" } ?? "") } ?? "-"
            rows.append([i.name, i.interface, "\(i.virtualRouterID)", i.state.rawValue, "\(i.priority)", master,
                         "\(Int(max(0, now - i.since)))s", i.addresses.map(\.description).joined(separator: ",")])
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[c] - cell.count) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
