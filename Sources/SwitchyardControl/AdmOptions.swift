// `switchyard adm`'s arguments split into options and values the way ipvsadm 1.31's popt table
// reads them (ipvsadm.c parse_options, lines 523-629): long options with `--name value` or
// `--name=value`, short ones bundled (`-Ln`) with a value in the same word (`-w5`, `-srr`,
// `-t1.2.3.4:80`) or the next one. AdmOptionCheck.swift checks which go with which command.

extension AdmCommand {
    /// How an option takes its value (popt's POPT_ARG_NONE, POPT_ARG_STRING, and
    /// POPT_ARG_STRING with POPT_ARGFLAG_OPTIONAL).
    enum ValueKind: Equatable {
        case none, required, optional
    }

    /// One entry of the option table: ipvsadm's long name, its short letter, and its value.
    struct OptionSpec: Equatable {
        var long: String
        var short: Character?
        var value: ValueKind
    }

    /// ipvsadm 1.31's popt table (ipvsadm.c lines 523-629), in its order, then Switchyard's own
    /// long options (`--reload`, `--trace`, `--vrrp`, `--sync`, `--engine`, `--json`).
    static let optionTable: [OptionSpec] = [
        .init(long: "add-service", short: "A", value: .none), .init(long: "edit-service", short: "E", value: .none),
        .init(long: "delete-service", short: "D", value: .none), .init(long: "clear", short: "C", value: .none),
        .init(long: "list", short: "L", value: .none), .init(long: "list", short: "l", value: .none),
        .init(long: "zero", short: "Z", value: .none), .init(long: "add-server", short: "a", value: .none),
        .init(long: "edit-server", short: "e", value: .none), .init(long: "delete-server", short: "d", value: .none),
        .init(long: "set", short: nil, value: .none), .init(long: "help", short: "h", value: .none),
        .init(long: "version", short: "v", value: .none), .init(long: "restore", short: "R", value: .none),
        .init(long: "save", short: "S", value: .none), .init(long: "start-daemon", short: nil, value: .required),
        .init(long: "stop-daemon", short: nil, value: .required), .init(long: "tcp-service", short: "t", value: .required),
        .init(long: "udp-service", short: "u", value: .required), .init(long: "sctp-service", short: nil, value: .required),
        .init(long: "fwmark-service", short: "f", value: .required), .init(long: "scheduler", short: "s", value: .required),
        .init(long: "persistent", short: "p", value: .optional), .init(long: "netmask", short: "M", value: .required),
        .init(long: "real-server", short: "r", value: .required), .init(long: "masquerading", short: "m", value: .none),
        .init(long: "ipip", short: "i", value: .none), .init(long: "gatewaying", short: "g", value: .none),
        .init(long: "weight", short: "w", value: .required), .init(long: "u-threshold", short: "x", value: .required),
        .init(long: "l-threshold", short: "y", value: .required), .init(long: "numeric", short: "n", value: .none),
        .init(long: "connection", short: "c", value: .none), .init(long: "mcast-interface", short: nil, value: .required),
        .init(long: "syncid", short: nil, value: .required), .init(long: "timeout", short: nil, value: .none),
        .init(long: "daemon", short: nil, value: .none), .init(long: "stats", short: nil, value: .none),
        .init(long: "rate", short: nil, value: .none), .init(long: "thresholds", short: nil, value: .none),
        .init(long: "persistent-conn", short: nil, value: .none), .init(long: "nosort", short: nil, value: .none),
        .init(long: "sort", short: nil, value: .none), .init(long: "exact", short: "X", value: .none),
        .init(long: "ipv6", short: "6", value: .none), .init(long: "ops", short: "o", value: .none),
        .init(long: "pe", short: nil, value: .required), .init(long: "sched-flags", short: "b", value: .required),
        .init(long: "mcast-group", short: nil, value: .required), .init(long: "mcast-port", short: nil, value: .required),
        .init(long: "mcast-ttl", short: nil, value: .required), .init(long: "sync-maxlen", short: nil, value: .required),
        .init(long: "tun-info", short: nil, value: .none), .init(long: "tun-type", short: nil, value: .required),
        .init(long: "tun-port", short: nil, value: .required), .init(long: "tun-nocsum", short: nil, value: .none),
        .init(long: "tun-csum", short: nil, value: .none), .init(long: "tun-remcsum", short: nil, value: .none),
        // Switchyard's own.
        .init(long: "reload", short: nil, value: .none), .init(long: "trace", short: nil, value: .required),
        .init(long: "vrrp", short: nil, value: .none), .init(long: "sync", short: nil, value: .none),
        .init(long: "engine", short: nil, value: .none), .init(long: "metrics", short: nil, value: .none),
        .init(long: "fingerprint", short: nil, value: .none),
        .init(long: "json", short: nil, value: .none),
    ]

    /// An option as read: its table entry, its value, and the word it came from (for messages).
    struct ReadOption: Equatable {
        var spec: OptionSpec
        var value: String?
        var word: String
    }

    /// What the words say: the options in order, the words that are no option (popt's
    /// leftover arguments: --set's three timeouts, or something unexpected), or popt's error.
    struct ReadArguments: Equatable {
        var options: [ReadOption] = []
        var leftovers: [String] = []
        /// popt's error as ipvsadm prints it ("%s: %s\n" with poptBadOption and poptStrerror,
        /// ipvsadm.c line 925): "--bogus: unknown option", "-w: missing argument".
        var error: String?
    }

    /// Reads the words as popt does with ipvsadm's table. Stops at the first error, keeping
    /// what was read before it (ipvsadm acts on the first option before it reads the rest).
    static func readArguments(_ words: [String]) -> ReadArguments {
        var read = ReadArguments()
        var i = 0
        var optionsEnded = false
        func byLong(_ name: Substring) -> OptionSpec? { optionTable.first { $0.long == name } }
        func byShort(_ letter: Character) -> OptionSpec? { optionTable.first { $0.short == letter } }
        /// The next word as a value: a required value takes any next word; an optional one
        /// (-p) only a word that does not start with '-'.
        func nextValue(_ kind: ValueKind) -> String? {
            guard i + 1 < words.count else { return nil }
            if kind == .optional && words[i + 1].hasPrefix("-") { return nil }
            i += 1
            return words[i]
        }
        while i < words.count {
            let word = words[i]
            defer { i += 1 }
            if optionsEnded || word == "-" || !word.hasPrefix("-") {
                read.leftovers.append(word)
                continue
            }
            if word == "--" {
                optionsEnded = true
                continue
            }
            if word.hasPrefix("--") {
                let body = word.dropFirst(2)
                let name = body.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let spec = byLong(name[0]) else {
                    read.error = "\(word): unknown option"
                    return read
                }
                var value: String? = name.count == 2 ? String(name[1]) : nil
                if spec.value == .none, value != nil {
                    read.error = "\(word): option does not take an argument"
                    return read
                }
                if spec.value != .none, value == nil {
                    value = nextValue(spec.value)
                    if value == nil && spec.value == .required {
                        read.error = "\(word): missing argument"
                        return read
                    }
                }
                read.options.append(ReadOption(spec: spec, value: value, word: word))
                continue
            }
            // A bundle of short options: each letter an option until one takes a value, which
            // is the rest of the word or else the next word.
            var letters = Substring(word.dropFirst())
            while let letter = letters.first {
                letters = letters.dropFirst()
                guard let spec = byShort(letter) else {
                    read.error = "\(word): unknown option"
                    return read
                }
                guard spec.value != .none else {
                    read.options.append(ReadOption(spec: spec, value: nil, word: "-\(letter)"))
                    continue
                }
                var value: String? = letters.isEmpty ? nil : String(letters)
                letters = ""
                if value == nil {
                    value = nextValue(spec.value)
                    if value == nil && spec.value == .required {
                        read.error = "\(word): missing argument"
                        return read
                    }
                }
                read.options.append(ReadOption(spec: spec, value: value, word: "-\(letter)"))
            }
        }
        return read
    }
}
