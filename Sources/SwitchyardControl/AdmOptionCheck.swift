// Which options go with which `switchyard adm` command, checked as ipvsadm 1.31 checks them:
// its commands_v_options table (ipvsadm.c lines 270-299), set_option's "multiple" test, and
// generic_opt_check's three messages (lines 1356-1385), word for word.

extension AdmCommand {
    /// ipvsadm's option names (optnames, ipvsadm.c lines 223-258), in the table's column order.
    static let optionNames = [
        "numeric", "connection", "service-address", "scheduler", "persistent", "netmask", "real-server",
        "forwarding-method", "weight", "u-threshold", "l-threshold", "mcast-interface", "timeout", "daemon", "stats",
        "rate", "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe", "sched-flags",
        "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type", "tun-port", "tun-nocsum",
        "tun-csum", "tun-remcsum",
    ]

    /// The column of ipvsadm's table an option sets (its OPTC_ value), or nil for the commands
    /// and for `--sort` (a no-op that sets nothing). Switchyard's `--json` is a column of its own
    /// after ipvsadm's.
    static func column(_ spec: OptionSpec) -> Int? {
        switch spec.long {
        case "tcp-service", "udp-service", "sctp-service", "fwmark-service": return 2
        case "masquerading", "ipip", "gatewaying": return 7
        case "json": return optionNames.count
        case "ipv6", "sort": return nil
        case "sched-flags": return 23
        case "ops": return 21
        default: return optionNames.firstIndex(of: spec.long)
        }
    }

    /// The name a column goes by in messages.
    static func columnName(_ column: Int) -> String { column < optionNames.count ? optionNames[column] : "json" }

    /// ipvsadm's command names (cmdnames, lines 145-160) and Switchyard's own.
    static let commandNames: [String: String] = [
        "A": "add-service", "E": "edit-service", "D": "delete-service", "C": "flush", "L": "list", "a": "add-server",
        "d": "delete-server", "e": "edit-server", "set": "set", "start-daemon": "start-daemon",
        "stop-daemon": "stop-daemon", "R": "restore", "S": "save", "Z": "zero", "reload": "reload", "trace": "trace",
        "vrrp": "vrrp", "sync": "sync", "engine": "engine", "metrics": "metrics", "fingerprint": "fingerprint",
    ]

    /// A row of commands_v_options as its 34 characters ('+' compulsory, 'x' illegal, '1' one of
    /// them at most, ' ' optional), then Switchyard's `--json` column.
    static let optionRows: [String: String] = [
        //         -n-csvc-s-p-Mr fw-w-x-ymctotdmsttrthpcsrsidexopepe-bgrportttsztityprtnocsre json
        "A":      "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx" + "x",
        "E":      "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx" + "x",
        "D":      "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
        "C":      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
        "L":      " 11xxxxxxxxx11       xxxxxxx xxxxx" + " ",
        "a":      "xx+xxx+    xxxxxxxxxxxxxxxxxx     " + "x",
        "d":      "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
        "e":      "xx+xxx+    xxxxxxxxxxxxxxxxxx     " + "x",
        "set":    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
        "start-daemon": "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx" + "x",
        "stop-daemon":  "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx" + "x",
        "R":      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
        "S":      " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
        "Z":      "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
    ]

    /// The options given, as set_option collects them: one bit a column; a second one of the
    /// same column is ipvsadm's "multiple '%s' options specified".
    static func collectColumns(_ options: [ReadOption]) throws(AdmError) -> Set<Int> {
        var given = Set<Int>()
        for option in options {
            guard let c = column(option.spec) else { continue }
            guard given.insert(c).inserted else {
                throw AdmError("multiple '\(columnName(c))' options specified", exitStatus: 2)
            }
        }
        return given
    }

    /// generic_opt_check: a missing compulsory option, an illegal one, or two exclusive ones,
    /// reported for the first column that breaks the row (in column order, as ipvsadm walks it).
    /// Switchyard's own commands take no option at all.
    static func checkColumns(_ given: Set<Int>, command: String) throws(AdmError) {
        let row = Array(optionRows[command] ?? String(repeating: "x", count: optionNames.count + 1))
        let name = commandNames[command] ?? command
        var exclusive: Int?
        for c in 0..<row.count {
            if !given.contains(c) {
                if row[c] == "+" {
                    throw AdmError("You need to supply the '\(columnName(c))' option for the '\(name)' command",
                                   exitStatus: 2)
                }
                continue
            }
            if row[c] == "x" {
                throw AdmError("Illegal '\(columnName(c))' option with the '\(name)' command", exitStatus: 2)
            }
            if row[c] == "1" {
                if let first = exclusive {
                    throw AdmError("The option '\(columnName(c))' conflicts with the '\(columnName(first))' option "
                        + "in the '\(name)' command", exitStatus: 2)
                }
                exclusive = c
            }
        }
    }
}
