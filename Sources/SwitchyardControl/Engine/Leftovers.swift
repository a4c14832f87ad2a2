// What a run changes on the machine outside its own process (the guard's nftables table, GRO
// turned off), written down at start so that the next start of the same config can undo it
// when this run was killed before it could.
import Glibc
import SwitchyardIO

/// The record one run keeps while it runs, in a file beside its default control socket
/// (`/run/switchyard/<config>-<hash>.run`): one `key value…` line each.
public struct RunRecord: Sendable, Equatable {
    public var pid: Int32
    /// The nftables table (family netdev) of the kernel guard.
    public var guardTable: String
    /// The interfaces on which this run turned GRO off.
    public var groTurnedOff: [String]

    public init(pid: Int32, guardTable: String, groTurnedOff: [String]) {
        self.pid = pid
        self.guardTable = guardTable
        self.groTurnedOff = groTurnedOff
    }

    /// The file's path for a config: the default control socket's, with `.run` for `.sock`.
    public static func path(configPath: String) -> String {
        String(EngineOptions.defaultControlPath(configPath: configPath).dropLast(".sock".count)) + ".run"
    }

    /// Writes the record (0600, replacing an older one); false on failure.
    @discardableResult
    public func save(to path: String) -> Bool { writeSmallFile(path, text, createMode: 0o600) }

    public var text: String {
        "pid \(pid)\nguard_table \(guardTable)\ngro_off \(groTurnedOff.joined(separator: " "))\n"
    }

    /// Reads a record; nil for a file that is not one (nothing is undone on a guess).
    public init?(text: String) {
        var pid: Int32?
        var table: String?
        var gro: [String] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            guard let key = words.first else { continue }
            switch key {
            case "pid": pid = words.count == 2 ? Int32(words[1]) : nil
            case "guard_table": table = words.count == 2 && words[1].hasPrefix("switchyard_") ? words[1] : nil
            case "gro_off": gro = Array(words.dropFirst())
            default: continue
            }
        }
        guard let pid, pid > 0, let table else { return nil }
        self.init(pid: pid, guardTable: table, groTurnedOff: gro)
    }
}

/// What a start finds of an earlier run and what it does about it. Pure: the machine is
/// reached through the closures, so tests give it a made-up one.
public enum Leftovers {
    public struct Machine {
        /// Whether a process with this pid is a switchyard still running.
        public var isRunning: (Int32) -> Bool
        public var tableExists: (String) -> Bool
        public var deleteTable: (String) -> Void
        public var restoreGRO: (String) -> Void

        public init(isRunning: @escaping (Int32) -> Bool, tableExists: @escaping (String) -> Bool,
                    deleteTable: @escaping (String) -> Void, restoreGRO: @escaping (String) -> Void) {
            self.isRunning = isRunning
            self.tableExists = tableExists
            self.deleteTable = deleteTable
            self.restoreGRO = restoreGRO
        }
    }

    public enum Outcome: Equatable {
        /// Nothing was left; nothing done.
        case clean
        /// Things were left and are undone; the lines say what, for the log.
        case cleaned([String])
        /// The run that wrote the record is still running: this start must not touch its guard.
        case stillRunning(Int32)
    }

    /// Undoes what an earlier run left: the record's guard table and GRO settings when its
    /// process is gone, and this run's own guard table when one is there without a record
    /// (a run from before records, or a record lost with /run).
    public static func clean(record: RunRecord?, guardTable: String, machine: Machine) -> Outcome {
        var said: [String] = []
        if let record {
            if machine.isRunning(record.pid) { return .stillRunning(record.pid) }
            var undone: [String] = []
            if machine.tableExists(record.guardTable) {
                machine.deleteTable(record.guardTable)
                undone.append("removed its kernel guard table netdev \(record.guardTable)")
            }
            for interface in record.groTurnedOff {
                machine.restoreGRO(interface)
                undone.append("turned GRO back on for \(interface)")
            }
            said.append("an earlier run of this config (pid \(record.pid)) did not stop cleanly"
                + (undone.isEmpty ? "; it left nothing to undo" : ": " + undone.joined(separator: "; ")))
        }
        if guardTable != record?.guardTable, machine.tableExists(guardTable) {
            machine.deleteTable(guardTable)
            said.append("removed the kernel guard table netdev \(guardTable) that an earlier run left")
        }
        return said.isEmpty ? .clean : .cleaned(said)
    }

    /// The machine this process runs on.
    public static var system: Machine {
        Machine(
            isRunning: { pid in
                kill(pid, 0) == 0 && (readSmallFile("/proc/\(pid)/comm")?.hasPrefix("switchyard") ?? false)
            },
            tableExists: { runCommand(["nft", "list", "table", "netdev", $0]).status == 0 },
            deleteTable: { _ = runCommand(["nft", "delete", "table", "netdev", $0]) },
            restoreGRO: { GenericReceiveOffload.restore(on: $0) })
    }
}
