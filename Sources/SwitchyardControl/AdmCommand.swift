// `switchyard adm`'s arguments read in ipvsadm 1.31's syntax into an AdmCommand, option by option
// as ipvsadm.c parse_options and process_options take them, with their messages and statuses.
// The words are split by AdmOptions.swift and checked against ipvsadm's table by
// AdmOptionCheck.swift; AdmExecute.swift applies the edits, AdmRender lists.
import SwitchyardCore

/// What `switchyard adm` asks, parsed from ipvsadm's syntax (short and long options).
public enum AdmCommand: Equatable, Sendable {
    /// `mask`: an IPv4 service's persistence netmask, or an IPv6 service's prefix length (1-128),
    /// as ipvsadm's -M reads it for the service's family; 0xFFFFFFFF is the whole address.
    case addService(ServiceKey, scheduler: SchedulerKind?, persistence: Int?, mask: UInt32?)
    case editService(ServiceKey, scheduler: SchedulerKind?, persistence: Int?, mask: UInt32?)
    case deleteService(ServiceKey)
    case addReal(ServiceKey, IPAddressBits, UInt16?, method: ForwardingMethod?, weight: Int?)
    case editReal(ServiceKey, IPAddressBits, UInt16?, method: ForwardingMethod?, weight: Int?)
    case deleteReal(ServiceKey, IPAddressBits, UInt16?)
    case list(ListOptions)
    /// `-L -c`: the connections and persistence templates the workers hold (AdmConnections).
    case listConnections(ConnectionListOptions)
    case setTimeouts(tcp: Int, tcpfin: Int, udp: Int)
    case zero(ServiceKey?)
    case clear
    case save
    case restore
    case reload
    /// Not in ipvsadm: trace one client's packets through the workers (nil: stop tracing).
    case trace(IPv4Address?)
    /// Not in ipvsadm: each VRRP instance's state, priority and master.
    case vrrp
    /// Not in ipvsadm: connection sync's role and counters.
    case sync
    /// Not in ipvsadm: each mh/sh service's consistent-hash table fingerprint, to compare the
    /// balancers behind one ECMP router.
    case fingerprint
    /// Not in ipvsadm: what the engine did with every frame (drops by reason) and each worker's
    /// share of the frames; `--stats` shows only ipvsadm's table.
    case engine
    /// Not in ipvsadm: the numbers in Prometheus's text format (node_exporter's textfile
    /// collector reads them from a file).
    case metrics
    /// `-h`, `--help` first: the usage text (the client prints it, no daemon needed).
    case help
    /// `-v`, `--version` first: the version line.
    case version

    public struct ListOptions: Equatable, Sendable {
        public var service: ServiceKey?
        public var stats = false
        public var rate = false
        public var timeout = false
        public var json = false
        /// `--exact` (-X): whole numbers, not print_largenum's K, M, G and T.
        public var exact = false
        /// False with `--nosort`: the table's own order.
        public var sorted = true
        /// `--thresholds`: each real server's upper and lower connection thresholds (Switchyard
        /// sets none: 0, as ipvsadm shows a real server without them).
        public var thresholds = false
        public init() {}
    }

    /// Parses an argument list (without the program name). Errors read like ipvsadm's and carry
    /// its exit status.
    public static func parse(_ rawArgs: [String]) throws(AdmError) -> AdmCommand {
        do {
            let command = try parseArguments(rawArgs)
            Log.debug("adm: \(rawArgs.joined(separator: " ")) reads as: \(command.summary)")
            return command
        } catch {
            Log.debug("adm: \(rawArgs.joined(separator: " ")) refused: \(error)")
            throw error
        }
    }

    /// ipvsadm's answer to arguments it cannot start on (tryhelp_exit, ipvsadm.c line 1434),
    /// naming this program as ipvsadm names its argv[0]; it exits 255.
    public static let tryHelp = "Try `switchyard adm -h' or 'switchyard adm --help' for more information."

    /// The command an option starts, by its long name (ipvsadm's first switch in parse_options,
    /// lines 636-701), and Switchyard's own.
    static let commandOptions: [String: String] = [
        "add-service": "A", "edit-service": "E", "delete-service": "D", "add-server": "a", "edit-server": "e",
        "delete-server": "d", "clear": "C", "list": "L", "zero": "Z", "set": "set", "restore": "R", "save": "S",
        "start-daemon": "start-daemon", "stop-daemon": "stop-daemon", "help": "help", "version": "version",
        "reload": "reload", "trace": "trace", "vrrp": "vrrp", "sync": "sync", "engine": "engine",
        "metrics": "metrics", "fingerprint": "fingerprint",
    ]

    /// The options and values read after the command, as process_options holds them in its
    /// ipvs_command_entry.
    struct Entry {
        var command = ""
        var protocolNumber: UInt8 = IPProtocol.tcp
        var address: IPAddressBits?
        var port: UInt16 = 0
        var real: (IPAddressBits, UInt16?)?
        var schedulerName: String?
        var persistence: Int?
        /// -M as given: read once the service's family is known.
        var mask: String?
        var method: ForwardingMethod?
        var weight: Int?
        var list = ListOptions()
        var connection = ConnectionListOptions()
        var columns = Set<Int>()
        var traced: IPv4Address?
        /// A listing format ipvsadm has and Switchyard does not, refused after ipvsadm's checks.
        var unsupportedFormat: String?
        var service: ServiceKey? { address.map { ServiceKey(proto: protocolNumber, vip: $0, port: port) } }
    }

    static func parseArguments(_ rawArgs: [String]) throws(AdmError) -> AdmCommand {
        // ipvsadm with no argument lists the table (main, line 472).
        if rawArgs.isEmpty { return .list(ListOptions()) }
        let read = readArguments(rawArgs)
        // The first option must be a command, or ipvsadm only says where to find help.
        guard let first = read.options.first, let command = commandOptions[first.spec.long] else {
            throw AdmError(tryHelp, exitStatus: 255)
        }
        if command == "help" { return .help }
        if command == "version" { return .version }
        if command == "start-daemon" || command == "stop-daemon" {
            throw AdmError("--\(command) is not supported: connection sync starts with the lvs_sync_daemon of the "
                + "config; switchyard adm --sync shows it", exitStatus: 2)
        }
        var entry = Entry()
        entry.command = command
        if command == "trace" { entry.traced = try traceTarget(first.value ?? "") }
        for option in read.options.dropFirst() { try take(option, into: &entry) }
        if let error = read.error { throw AdmError(error, exitStatus: 255) }
        var leftovers = read.leftovers[...]
        var timeouts: [Int] = []
        if command == "set" {
            guard leftovers.count >= 3 else { throw AdmError("--set option requires 3 timeout values", exitStatus: 2) }
            // 0 keeps a timeout; the flow table holds up to ServiceValues.timeoutSeconds.
            timeouts = try leftovers.prefix(3).map { text throws(AdmError) in
                let seconds = try timeout(text, 0)
                guard seconds <= ServiceValues.timeoutSeconds.upperBound else {
                    throw AdmError("invalid timeout value `\(text)' specified", exitStatus: 2)
                }
                return seconds
            }
            leftovers = leftovers.dropFirst(3)
        }
        if let unexpected = leftovers.first { throw AdmError("unexpected argument \(unexpected)", exitStatus: 2) }
        try checkColumns(entry.columns, command: command)
        return try build(entry, timeouts: timeouts)
    }

    /// ipvsadm's second switch in parse_options (lines 703-919): one option after the command.
    static func take(_ option: ReadOption, into entry: inout Entry) throws(AdmError) {
        if let c = column(option.spec) {
            guard entry.columns.insert(c).inserted else {
                throw AdmError("multiple '\(columnName(c))' options specified", exitStatus: 2)
            }
        }
        let value = option.value ?? ""
        switch option.spec.long {
        case "tcp-service", "udp-service":
            entry.protocolNumber = option.spec.long == "tcp-service" ? IPProtocol.tcp : IPProtocol.udp
            guard let (address, port) = endpoint(value, protocolNumber: entry.protocolNumber) else {
                throw AdmError("illegal virtual server address[:port] specified", exitStatus: 2)
            }
            entry.address = address
            entry.port = port ?? 0
        case "sctp-service": throw AdmError("SCTP services are not supported (TCP and UDP are)", exitStatus: 2)
        case "fwmark-service": throw AdmError("firewall-mark services are not supported", exitStatus: 2)
        case "scheduler": entry.schedulerName = value
        case "persistent": entry.persistence = option.value == nil ? 300 : try timeout(value, 1)
        case "netmask": entry.mask = value
        case "real-server":
            guard let real = endpoint(value, protocolNumber: entry.protocolNumber) else {
                throw AdmError("illegal real server address[:port] specified", exitStatus: 2)
            }
            entry.real = real
        case "gatewaying": entry.method = .dr
        case "masquerading": entry.method = .nat
        case "ipip": throw AdmError("tunnelling (-i) is not supported; use -g or -m", exitStatus: 2)
        case "weight":
            guard let weight = number(value, ServiceValues.weight) else {
                throw AdmError("illegal weight specified", exitStatus: 2)
            }
            entry.weight = weight
        case "u-threshold", "l-threshold":
            throw AdmError("connection thresholds (-x, -y) are not supported", exitStatus: 2)
        case "numeric", "sort", "timeout", "json", "connection": break
        case "stats": entry.list.stats = true
        case "rate": entry.list.rate = true
        case "exact": entry.list.exact = true
        case "nosort": entry.list.sorted = false
        case "persistent-conn": entry.connection.persistenceEngineColumns = true
        case "daemon": throw AdmError("--daemon is not supported here; switchyard adm --sync shows connection sync", exitStatus: 2)
        case "thresholds": entry.list.thresholds = true
        case "tun-info": entry.unsupportedFormat = "--tun-info"
        case "ipv6", "ops", "pe", "sched-flags", "mcast-interface", "syncid", "mcast-group", "mcast-port", "mcast-ttl",
             "sync-maxlen", "tun-type", "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum":
            throw AdmError("--\(option.spec.long) is not supported", exitStatus: 2)
        default:
            // A second command, or -h after one: popt hands it over and ipvsadm does not know it here.
            throw AdmError("invalid option `\(option.word)'", exitStatus: 2)
        }
        if option.spec.long == "timeout" { entry.list.timeout = true }
        if option.spec.long == "json" { entry.list.json = true }
    }

    /// The command process_options runs once every option is in (lines 1019-1129).
    static func build(_ entry: Entry, timeouts: [Int]) throws(AdmError) -> AdmCommand {
        let command = entry.command
        if command == "A" || command == "E" {
            if entry.port == 0 {
                if entry.persistence == nil {
                    throw AdmError("Zero port specified for non-persistent service", exitStatus: 2)
                }
                throw AdmError("port 0 (every port of a persistent service) is not supported", exitStatus: 2)
            }
        }
        var scheduler: SchedulerKind?
        if let name = entry.schedulerName {
            guard let kind = SchedulerKind(name: name) else {
                // The kernel's ENOENT for a scheduler module it lacks, as ipvs_strerror says it.
                throw AdmError("Scheduler or persistence engine not found", exitStatus: 255)
            }
            scheduler = kind
        }
        // The table's rows make a service compulsory where these need one.
        let key = entry.service ?? ServiceKey(proto: IPProtocol.tcp, vip: IPAddressBits(v4: 0), port: 0)
        let realAddress = entry.real?.0 ?? IPAddressBits(v4: 0)
        if let real = entry.real, let vip = entry.address, real.0.isV4 != vip.isV4 {
            throw AdmError("virtual server and real server must be of one address family (DR and NAT keep it)", exitStatus: 2)
        }
        // -M: a netmask for IPv4, a prefix length for IPv6 (ipvsadm's 'M' case).
        var mask: UInt32?
        if let text = entry.mask {
            if let vip = entry.address, !vip.isV4 {
                guard let length = UInt32(text), (1...128).contains(length) else {
                    throw AdmError("illegal ipv6 netmask specified", exitStatus: 2)
                }
                mask = length == 128 ? 0xFFFF_FFFF : length
            } else {
                guard let m = ServiceValues.netmask(text) else {
                    throw AdmError("illegal virtual server persistent mask specified", exitStatus: 2)
                }
                mask = m
            }
        }
        // process_options: an added or edited DR real server's port is the service's (line 1047;
        // DR is the default); otherwise a real server without a port takes the service's.
        let realPort = entry.method == .nat || command == "d" ? entry.real?.1 : nil
        switch command {
        case "A": return .addService(key, scheduler: scheduler, persistence: entry.persistence, mask: mask)
        case "E":
            // ipvs_update_service sends every field: what -E leaves out goes back to ipvsadm's
            // defaults (wlc, not persistent, mask 255.255.255.255).
            return .editService(key, scheduler: scheduler ?? .weightedLeastConnection, persistence: entry.persistence ?? 0,
                                mask: mask ?? 0xFFFF_FFFF)
        case "D": return .deleteService(key)
        case "a": return .addReal(key, realAddress, realPort, method: entry.method, weight: entry.weight)
        case "e":
            // ipvs_update_dest sends the weight too: left out, it is 1 again. The method left out
            // stays (ipvsadm would send DR; Switchyard forwards a service one way).
            return .editReal(key, realAddress, realPort, method: entry.method, weight: entry.weight ?? 1)
        case "d": return .deleteReal(key, realAddress, realPort)
        case "L":
            // process_options's own test (line 1072).
            let list = entry.list
            func given(_ name: String) -> Bool { optionNames.firstIndex(of: name).map(entry.columns.contains) ?? false }
            if (given("connection") || given("timeout")) && (given("stats") || given("rate") || given("thresholds")) {
                throw AdmError("options conflicts in the list command", exitStatus: 2)
            }
            if given("timeout") && given("persistent-conn") {
                throw AdmError("options conflicts in the list command", exitStatus: 2)
            }
            if let format = entry.unsupportedFormat { throw AdmError("\(format) is not supported", exitStatus: 2) }
            if given("connection") {
                if list.json { throw AdmError("-L -c has no --json form (--json lists the services)", exitStatus: 2) }
                return .listConnections(entry.connection)
            }
            if given("persistent-conn") { throw AdmError("--persistent-conn is not supported without -c", exitStatus: 2) }
            var options = list
            options.service = entry.service
            return .list(options)
        case "set": return .setTimeouts(tcp: timeouts[0], tcpfin: timeouts[1], udp: timeouts[2])
        case "Z": return .zero(entry.service)
        case "C": return .clear
        case "S": return .save
        case "R": return .restore
        case "trace": return .trace(entry.traced)
        case "vrrp": return .vrrp
        case "sync": return .sync
        case "fingerprint": return .fingerprint
        case "engine": return .engine
        case "metrics": return .metrics
        default: return .reload
        }
    }

    /// string_to_number (ipvsadm.c line 1134): a whole decimal number within `range`.
    static func number(_ text: String, _ range: ClosedRange<Int>) -> Int? {
        guard let n = Int(text), range.contains(n) else { return nil }
        return n
    }

    /// parse_timeout (line 1152): from `minimum` to 31 days, or ipvsadm's refusal.
    static func timeout(_ text: String, _ minimum: Int) throws(AdmError) -> Int {
        guard let n = number(text, minimum...ServiceValues.persistenceTimeout.upperBound) else {
            throw AdmError("invalid timeout value `\(text)' specified", exitStatus: 2)
        }
        return n
    }

    /// `--trace`'s value: a client's address, or off.
    static func traceTarget(_ text: String) throws(AdmError) -> IPv4Address? {
        if text == "off" { return nil }
        guard let address = IPv4Address(text) else {
            throw AdmError("--trace takes a client's IPv4 address, or off; not \"\(text)\"", exitStatus: 2)
        }
        return address
    }

    /// What the command asks, in words, for the debug log ("add real server …, weight 5").
    var summary: String {
        func service(_ key: ServiceKey, _ scheduler: SchedulerKind?, _ persistence: Int?, _ mask: UInt32?) -> String {
            "\(key)" + (scheduler.map { ", scheduler \($0.name)" } ?? "") + (persistence.map { ", persistent \($0) s" } ?? "")
                + (mask.map { ", netmask " + (key.vip.isV4 ? "\(IPv4Address($0))" : $0 > 128 ? "128" : "\($0)") } ?? "")
        }
        func real(_ address: IPAddressBits, _ port: UInt16?, _ method: ForwardingMethod?, _ weight: Int?) -> String {
            "real server " + (port.map { address.withPort($0) } ?? "\(address)") + (method.map { ", \($0.name)" } ?? "")
                + (weight.map { ", weight \($0)" } ?? "")
        }
        switch self {
        case .addService(let k, let s, let p, let m): return "add service " + service(k, s, p, m)
        case .editService(let k, let s, let p, let m): return "edit service " + service(k, s, p, m)
        case .deleteService(let k): return "delete service \(k)"
        case .addReal(let k, let a, let p, let m, let w): return "add " + real(a, p, m, w) + " to \(k)"
        case .editReal(let k, let a, let p, let m, let w): return "edit " + real(a, p, m, w) + " in \(k)"
        case .deleteReal(let k, let a, let p): return "delete " + real(a, p, nil, nil) + " from \(k)"
        case .list(let o):
            return "list" + (o.service.map { " \($0)" } ?? "") + (o.stats ? " stats" : "") + (o.rate ? " rate" : "")
                + (o.timeout ? " timeouts" : "") + (o.json ? " as JSON" : "") + (o.exact ? " exact" : "")
                + (o.sorted ? "" : " unsorted") + (o.thresholds ? " thresholds" : "")
        case .listConnections(let o):
            return "list the connections" + (o.persistenceEngineColumns ? " with the persistence-engine columns" : "")
        case .setTimeouts(let t, let f, let u): return "set timeouts tcp \(t) s, tcpfin \(f) s, udp \(u) s (0 keeps one)"
        case .zero(let k): return "zero the counters" + (k.map { " of \($0)" } ?? "")
        case .clear: return "clear every service"
        case .save: return "save the rules"
        case .restore: return "restore rules from the input"
        case .reload: return "reload the config file"
        case .trace(let client): return client.map { "trace the packets of client \($0)" } ?? "stop tracing"
        case .vrrp: return "show the VRRP instances"
        case .sync: return "show connection sync"
        case .fingerprint: return "show the consistent-hash tables' fingerprints"
        case .engine: return "show the engine's counters"
        case .metrics: return "show the metrics in Prometheus's text format"
        case .help: return "show the usage"
        case .version: return "show the version"
        }
    }
}
