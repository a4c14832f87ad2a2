// global_defs' route announcement settings: `switchyard_announce_table N` (the kernel routing
// table where a VIP's route stands while it can be served) and `switchyard_announce_drain S`.
// The settings and their reader; what is announced when is AnnouncePlan's.
import SwitchyardCore

/// Where and how VIP routes are kept for a routing daemon (off while `table` is nil).
public struct AnnounceSettings: Sendable, Equatable {
    /// The kernel routing table the routes go in.
    public var table: UInt32?
    /// Seconds a stopping engine keeps forwarding after it withdrew its routes.
    public var drainSeconds = Limits.announceDrainSeconds

    public init() {}

    public var isOn: Bool { table != nil }

    /// Tables a VIP route must not go in: unspec (0), and the kernel's default (253), main
    /// (254) and local (255) tables, where a VIP's route would change how this box itself
    /// routes (its own packets to the VIP would go into the announce link).
    static let reservedTables: [UInt32: String] = [0: "unspec", 253: "default", 254: "main", 255: "local"]
}

extension ConfigReader {
    /// The announcement keywords of global_defs; false for any other keyword.
    mutating func announceGlobal(_ s: Statement) throws(ConfigDiagnostic) -> Bool {
        switch s.keyword.text {
        case "switchyard_announce_table":
            let t = try single(s)
            guard let table = UInt32(t.text), table > 0 else {
                throw error(t, "switchyard_announce_table must be a routing table number from 1 to 4294967295, not \"\(t.text)\"")
            }
            if let name = AnnounceSettings.reservedTables[table] {
                throw error(t, "switchyard_announce_table \(table) is the kernel's \(name) table; "
                    + "give a table of its own (e.g. 100) that the routing daemon reads")
            }
            config.announce.table = table
        case "switchyard_announce_drain":
            config.announce.drainSeconds = try seconds(s, in: 0...3600)
        default:
            return false
        }
        return true
    }

    /// After a global_defs block: a drain with nothing to drain is said so.
    mutating func checkAnnounce(_ statements: [Statement]) {
        guard !config.announce.isOn,
              let drain = statements.first(where: { $0.keyword.text == "switchyard_announce_drain" }) else { return }
        warn(drain.keyword, "switchyard_announce_drain has no effect without switchyard_announce_table")
    }
}
