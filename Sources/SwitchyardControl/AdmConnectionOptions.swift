// `switchyard adm -L -c`'s arguments: the options of ipvsadm's connection listing read while
// AdmCommand parses, and checked as ipvsadm 1.31 checks them (ipvsadm.c: the commands_v_options
// table, LIST row at line 285, and the list command's conflict test at lines 1072-1076).
// AdmConnections renders the listing.

extension AdmCommand {
    /// What `-L -c` (list the connections and persistence templates) may ask.
    public struct ConnectionListOptions: Equatable, Sendable {
        /// `--persistent-conn`: ipvsadm's header gains its "pe name" and "pe_data" columns. ipvsadm
        /// fills them only for an entry with persistence-engine data, and no flow here has any, so
        /// the rows stay as they are.
        public var persistenceEngineColumns = false
        public init() {}
    }

    /// The options only the connection listing takes, gathered while the arguments are read.
    /// `-n` and `--exact` are taken by the main parser (accepted everywhere, as before).
    struct ConnectionFlags {
        /// `-c`, `--connection`.
        var connection = false
        /// `--persistent-conn`.
        var persistentConn = false
        /// `--sort` or `--nosort`, the last given: no-ops for the connection listing, which
        /// ipvsadm prints in the kernel's hash order whatever they say.
        var sortOption: String?

        /// Takes `option` if it is one of these; false leaves it to the caller.
        mutating func take(_ option: String) -> Bool {
            switch option {
            case "-c", "--connection": connection = true
            case "--persistent-conn": persistentConn = true
            case "--sort", "--nosort": sortOption = option
            default: return false
            }
            return true
        }

        /// The connection listing when `-c` came with `-L`; nil when no option of these was
        /// given; an error for what ipvsadm refuses, or for what the service listing here lacks.
        /// `editOptions` says whether -r, -s, -p, -M, -g, -m or -w were given.
        func command(_ command: String, list: ListOptions, service: ServiceKey?,
                     editOptions: Bool) throws(AdmError) -> AdmCommand? {
            let given = (persistentConn ? "--persistent-conn" : nil) ?? sortOption
            guard command == "L" else {
                // ipvsadm: "Illegal 'connection' option with the 'add-service' command".
                let name = command.count == 1 ? "-\(command)" : "--\(command)"
                if connection { throw AdmError("\(name) takes no -c (that is for -L: list the connections)") }
                if let given { throw AdmError("\(name) takes no \(given) (that is for -L -c)") }
                return nil
            }
            guard connection else {
                if let given { throw AdmError("\(given) goes with -L -c here (list the connections)") }
                return nil
            }
            // ipvsadm: "The option 'service-address' conflicts with the 'connection' option in
            // the 'list' command": it lists every connection or none.
            if service != nil {
                throw AdmError("-L -c lists every connection and takes no -t or -u, as in ipvsadm "
                    + "(filter its output instead, e.g. with grep)")
            }
            // ipvsadm: "options conflicts in the list command" (--stats, --rate), and "The option
            // 'timeout' conflicts with the 'connection' option in the 'list' command".
            for (on, option) in [(list.stats, "--stats"), (list.rate, "--rate"), (list.timeout, "--timeout")] where on {
                throw AdmError("-L -c conflicts with \(option): list either the connections or the services")
            }
            if list.json { throw AdmError("-L -c has no --json form (--json lists the services)") }
            // ipvsadm: "Illegal 'real-server' option with the 'list' command", and so on.
            if editOptions { throw AdmError("-L -c takes no -r, -s, -p, -M, -g, -m or -w") }
            var options = ConnectionListOptions()
            options.persistenceEngineColumns = persistentConn
            return .listConnections(options)
        }
    }
}
