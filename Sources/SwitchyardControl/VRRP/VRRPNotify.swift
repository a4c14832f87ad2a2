// The notify scripts keepalived runs on a VRRP transition, as shell lines for ScriptPort:
// the state's own script (notify_master, …) with no arguments of ours, then the generic `notify`
// script with keepalived's four: INSTANCE|GROUP, the name, the state, the priority (0 for a group).

public enum VRRPNotify {
    /// The lines to run when `config`'s instance enters `state` with `priority`.
    public static func commands(for config: VRRPInstanceConfig, state: VRRPInstance.State, priority: UInt8) -> [ScriptUse] {
        let specific: ScriptUse?
        switch state {
        case .master: specific = config.notifyMaster
        case .backup: specific = config.notifyBackup
        case .fault: specific = config.notifyFault
        case .stopped: specific = config.notifyStop
        case .initialize: return []
        }
        return lines(specific: specific, generic: config.notify, kind: "INSTANCE", name: config.name,
                     state: state, priority: Int(priority))
    }

    /// The lines to run when a sync group enters `state` (keepalived has no group notify_stop
    /// in our config; the generic script is told STOP).
    public static func commands(for group: VRRPSyncGroupConfig, state: VRRPInstance.State) -> [ScriptUse] {
        let specific: ScriptUse?
        switch state {
        case .master: specific = group.notifyMaster
        case .backup: specific = group.notifyBackup
        case .fault: specific = group.notifyFault
        case .stopped: specific = group.notifyStop
        case .initialize: return []
        }
        return lines(specific: specific, generic: group.notify, kind: "GROUP", name: group.name, state: state, priority: 0)
    }

    private static func lines(specific: ScriptUse?, generic: ScriptUse?, kind: String, name: String,
                              state: VRRPInstance.State, priority: Int) -> [ScriptUse] {
        var out: [ScriptUse] = []
        if let specific, !specific.command.isEmpty { out.append(specific) }
        if var generic, !generic.command.isEmpty {
            generic.command += " \(kind) \(shellQuoted(name)) \(state.rawValue) \(priority)"
            out.append(generic)
        }
        return out
    }

    /// keepalived passes the name as one argv entry; through /bin/sh it must be quoted.
    static func shellQuoted(_ text: String) -> String {
        let safe = text.allSatisfy { $0.isLetter || $0.isNumber || "_-.:/@".contains($0) }
        return safe && !text.isEmpty ? text : "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}
