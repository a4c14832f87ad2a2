// `switchyard adm`'s arguments read in ipvsadm's syntax (short, long and bundled options) into an
// AdmCommand, and the edits among them applied to a ServiceTable. Listing is AdmRender's job
// (AdmConnections' for -L -c, whose options AdmConnectionOptions.swift reads).
import SwitchyardCore

/// What `switchyard adm` asks, parsed from ipvsadm's syntax (short and long options).
public enum AdmCommand: Equatable, Sendable {
    case addService(ServiceKey, scheduler: SchedulerKind?, persistence: Int?, mask: UInt32?)
    case editService(ServiceKey, scheduler: SchedulerKind?, persistence: Int?, mask: UInt32?)
    case deleteService(ServiceKey)
    case addReal(ServiceKey, IPv4Address, UInt16?, method: ForwardingMethod?, weight: Int?)
    case editReal(ServiceKey, IPv4Address, UInt16?, method: ForwardingMethod?, weight: Int?)
    case deleteReal(ServiceKey, IPv4Address, UInt16?)
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

    public struct ListOptions: Equatable, Sendable {
        public var service: ServiceKey?
        public var stats = false
        public var rate = false
        public var timeout = false
        public var json = false
        public init() {}
    }

    static let commands: [String: String] = [
        "-A": "A", "--add-service": "A", "-E": "E", "--edit-service": "E", "-D": "D", "--delete-service": "D",
        "-a": "a", "--add-server": "a", "-e": "e", "--edit-server": "e", "-d": "d", "--delete-server": "d",
        "-L": "L", "-l": "L", "--list": "L", "--set": "set", "-Z": "Z", "--zero": "Z", "-C": "C", "--clear": "C",
        "-S": "S", "--save": "S", "-R": "R", "--restore": "R", "--reload": "reload",
        "--trace": "trace", "--vrrp": "vrrp", "--sync": "sync",
    ]

    /// Options that take no value and may be bundled (`-Ln`), as getopt allows ipvsadm.
    static let bundleable: Set<Character> = ["A", "E", "D", "a", "e", "d", "L", "l", "n", "Z", "C", "S", "R", "g", "m", "c"]
    /// Options that take a value: in a bundle only the last letter may be one (`-nt VIP:80`).
    static let valued: Set<Character> = ["t", "u", "r", "s", "w", "M", "p"]

    /// Splits `-Ln` into `-L -n` (and `-nt X` into `-n -t X`).
    static func unbundle(_ args: [String]) -> [String] {
        args.flatMap { a -> [String] in
            guard a.count > 2, a.hasPrefix("-"), !a.hasPrefix("--") else { return [a] }
            let letters = Array(a.dropFirst())
            guard letters.dropLast().allSatisfy(bundleable.contains),
                  let last = letters.last, bundleable.contains(last) || valued.contains(last) else { return [a] }
            return letters.map { "-\($0)" }
        }
    }

    /// Parses an argument list (without the program name). Errors read like ipvsadm's.
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

    static func parseArguments(_ rawArgs: [String]) throws(AdmError) -> AdmCommand {
        let args = unbundle(rawArgs)
        var command: String?
        var service: ServiceKey?
        var real: (IPv4Address, UInt16?)?
        var scheduler: SchedulerKind?
        var persistence: Int?
        var mask: UInt32?
        var method: ForwardingMethod?
        var weight: Int?
        var list = ListOptions()
        var setValues: [Int] = []
        var traced: IPv4Address?
        var connection = ConnectionFlags()
        var i = 0
        func value(_ option: String) throws(AdmError) -> String {
            i += 1
            guard i < args.count else { throw AdmError("option \(option) needs a value") }
            return args[i]
        }
        while i < args.count {
            let a = args[i]
            if let c = commands[a] {
                if let command, command != c { throw AdmError("only one command at a time: \(a) after -\(command)") }
                command = c
                if c == "trace" {
                    let text = try value(a)
                    if text != "off" {
                        guard let address = IPv4Address(text) else {
                            throw AdmError("--trace takes a client's IPv4 address, or off; not \"\(text)\"")
                        }
                        traced = address
                    }
                }
                if c == "set" {
                    for _ in 0..<3 {
                        let v = try value("--set")
                        guard let n = Int(v), n == 0 || ServiceValues.timeoutSeconds.contains(n) else {
                            throw AdmError("--set takes three timeouts in seconds (tcp tcpfin udp; 0 keeps one), not \"\(v)\"")
                        }
                        setValues.append(n)
                    }
                }
            } else {
                switch a {
                case "-t", "--tcp-service", "-u", "--udp-service":
                    let proto = a == "-t" || a == "--tcp-service" ? IPProtocol.tcp : IPProtocol.udp
                    let (address, port) = try endpoint(try value(a), portRequired: true)
                    service = ServiceKey(proto: proto, vip: address, port: port!)
                case "-f", "--fwmark-service":
                    throw AdmError("firewall-mark services are not supported")
                case "-r", "--real-server":
                    real = try endpoint(try value(a), portRequired: false)
                case "-s", "--scheduler":
                    let name = try value(a)
                    guard let k = SchedulerKind(name: name) else {
                        throw AdmError("scheduler \"\(name)\" is not known here; expected \(ServiceValues.schedulerNames)")
                    }
                    scheduler = k
                case "-p", "--persistent":
                    // The timeout is optional, as in ipvsadm (default 300 s).
                    if i + 1 < args.count, let t = Int(args[i + 1]) {
                        guard ServiceValues.persistenceTimeout.contains(t) else {
                            throw AdmError("persistence timeout must be \(ServiceValues.persistenceTimeout.lowerBound) to "
                                + "\(ServiceValues.persistenceTimeout.upperBound) s")
                        }
                        persistence = t
                        i += 1
                    } else {
                        persistence = 300
                    }
                case "-M", "--netmask":
                    let text = try value(a)
                    guard let m = ServiceValues.netmask(text) else { throw AdmError("illegal netmask \"\(text)\"") }
                    mask = m
                case "-g", "--gatewaying": method = .dr
                case "-m", "--masquerading": method = .nat
                case "-i", "--ipip": throw AdmError("tunnelling (-i) is not supported; use -g or -m")
                case "-w", "--weight":
                    let text = try value(a)
                    guard let w = Int(text), ServiceValues.weight.contains(w) else {
                        throw AdmError("illegal weight \"\(text)\": it must be \(ServiceValues.weight.lowerBound) to "
                            + "\(ServiceValues.weight.upperBound)")
                    }
                    weight = w
                case "-n", "--numeric", "--exact": break
                case "--stats": list.stats = true
                case "--rate": list.rate = true
                case "--timeout": list.timeout = true
                case "--json": list.json = true
                default:
                    guard connection.take(a) else { throw AdmError("unknown option \"\(a)\" (see switchyard adm --help)") }
                }
            }
            i += 1
        }
        guard let command else {
            throw AdmError("no command given: -A -E -D -a -e -d -L -Z -C -S -R --set or --reload")
        }
        let editOptions = real != nil || method != nil || weight != nil || scheduler != nil || persistence != nil
            || mask != nil
        if let listing = try connection.command(command, list: list, service: service, editOptions: editOptions) {
            return listing
        }
        func needService() throws(AdmError) -> ServiceKey {
            guard let service else { throw AdmError("-\(command) needs a service: -t VIP:PORT or -u VIP:PORT") }
            return service
        }
        func needReal() throws(AdmError) -> (IPv4Address, UInt16?) {
            guard let real else { throw AdmError("-\(command) needs a real server: -r RIP[:PORT]") }
            return real
        }
        func noRealOptions() throws(AdmError) {
            if real != nil || method != nil || weight != nil {
                throw AdmError("-\(command) takes no -r, -g, -m or -w (those are for -a, -e, -d)")
            }
        }
        switch command {
        case "A", "E":
            try noRealOptions()
            let key = try needService()
            return command == "A" ? .addService(key, scheduler: scheduler, persistence: persistence, mask: mask)
                : .editService(key, scheduler: scheduler, persistence: persistence, mask: mask)
        case "D":
            try noRealOptions()
            return .deleteService(try needService())
        case "a", "e":
            let key = try needService()
            let (address, port) = try needReal()
            if scheduler != nil || persistence != nil { throw AdmError("-\(command) takes no -s or -p (those are for -A and -E)") }
            return command == "a" ? .addReal(key, address, port, method: method, weight: weight)
                : .editReal(key, address, port, method: method, weight: weight)
        case "d":
            let key = try needService()
            let (address, port) = try needReal()
            return .deleteReal(key, address, port)
        case "L":
            list.service = service
            return .list(list)
        case "set": return .setTimeouts(tcp: setValues[0], tcpfin: setValues[1], udp: setValues[2])
        case "Z": return .zero(service)
        case "C": return .clear
        case "S": return .save
        case "R": return .restore
        case "trace": return .trace(traced)
        case "vrrp": return .vrrp
        case "sync": return .sync
        default: return .reload
        }
    }

    /// What the command asks, in words, for the debug log ("add real server …, weight 5").
    var summary: String {
        func service(_ scheduler: SchedulerKind?, _ persistence: Int?, _ mask: UInt32?) -> String {
            (scheduler.map { ", scheduler \($0.name)" } ?? "") + (persistence.map { ", persistent \($0) s" } ?? "")
                + (mask.map { ", netmask \(IPv4Address($0))" } ?? "")
        }
        func real(_ address: IPv4Address, _ port: UInt16?, _ method: ForwardingMethod?, _ weight: Int?) -> String {
            "real server \(address)" + (port.map { ":\($0)" } ?? "") + (method.map { ", \($0.name)" } ?? "")
                + (weight.map { ", weight \($0)" } ?? "")
        }
        switch self {
        case .addService(let k, let s, let p, let m): return "add service \(k)" + service(s, p, m)
        case .editService(let k, let s, let p, let m): return "edit service \(k)" + service(s, p, m)
        case .deleteService(let k): return "delete service \(k)"
        case .addReal(let k, let a, let p, let m, let w): return "add " + real(a, p, m, w) + " to \(k)"
        case .editReal(let k, let a, let p, let m, let w): return "edit " + real(a, p, m, w) + " in \(k)"
        case .deleteReal(let k, let a, let p): return "delete " + real(a, p, nil, nil) + " from \(k)"
        case .list(let o):
            return "list" + (o.service.map { " \($0)" } ?? "") + (o.stats ? " stats" : "") + (o.rate ? " rate" : "")
                + (o.timeout ? " timeouts" : "") + (o.json ? " as JSON" : "")
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
        }
    }

    /// ADDRESS:PORT, or ADDRESS alone where the port may be left out.
    static func endpoint(_ text: String, portRequired: Bool) throws(AdmError) -> (IPv4Address, UInt16?) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPv4Address(parts[0]) else {
            throw AdmError("illegal address \"\(text)\": expected an IPv4 address\(portRequired ? " and port, e.g. 198.18.0.100:80" : "")")
        }
        if parts.count == 1 {
            if portRequired { throw AdmError("\"\(text)\" needs a port, e.g. \(text):80") }
            return (address, nil)
        }
        guard let port = UInt16(parts[1]), port > 0 else { throw AdmError("illegal port in \"\(text)\"") }
        return (address, port)
    }
}

extension ServiceTable {
    /// Applies an editing command. The list, save, zero, restore, reload and trace commands are the
    /// engine's (they need counters, input or the config file).
    public mutating func execute(_ command: AdmCommand) throws(AdmError) -> TableChanges {
        var changes = TableChanges()
        switch command {
        case .addService(let key, let scheduler, let persistence, let mask):
            guard index(of: key) == nil else { throw AdmError("service \(key) already exists") }
            let config = VirtualServiceConfig(
                proto: key.proto, vip: key.vip, port: key.port, scheduler: scheduler ?? .weightedLeastConnection,
                method: .dr, delayLoop: 60, persistenceTimeout: persistence ?? 0, persistenceMask: mask ?? 0xFFFF_FFFF,
                reals: [], location: SourceLocation(line: 0, column: 0))
            services.append(newService(config, &changes))
            changes.servicesAdded.append(key)
        case .editService(let key, let scheduler, let persistence, let mask):
            guard let i = index(of: key) else { throw AdmError("no such service: \(key)") }
            if let scheduler { services[i].config.scheduler = scheduler }
            if let persistence { services[i].config.persistenceTimeout = persistence }
            if let mask { services[i].config.persistenceMask = mask }
            changes.servicesChanged.append(key)
        case .deleteService(let key):
            guard let i = index(of: key) else { throw AdmError("no such service: \(key)") }
            release(services[i], &changes)
            services.remove(at: i)
            changes.servicesRemoved.append(key)
        case .addReal(let key, let address, let port, let method, let weight):
            guard let i = index(of: key) else { throw AdmError("no such service: \(key)") }
            let p = port ?? key.port
            guard !services[i].reals.contains(where: { $0.config.address == address && $0.config.port == p }) else {
                throw AdmError("real server \(address):\(p) is already in \(key)")
            }
            try setMethod(i, method ?? .dr, port: p)
            let real = RealServerConfig(address: address, port: p, weight: weight ?? 1,
                                        location: SourceLocation(line: 0, column: 0))
            services[i].reals.append(RealState(config: real, id: newRealID(), checkersUp: []))
            changes.realsAdded = 1
        case .editReal(let key, let address, let port, let method, let weight):
            guard let i = index(of: key) else { throw AdmError("no such service: \(key)") }
            let p = port ?? key.port
            guard let r = services[i].reals.firstIndex(where: { $0.config.address == address && $0.config.port == p }) else {
                throw AdmError("no such real server \(address):\(p) in \(key)")
            }
            if let method { try setMethod(i, method, port: p) }
            if let weight { services[i].reals[r].config.weight = weight }
            changes.realsChanged = 1
        case .deleteReal(let key, let address, let port):
            guard let i = index(of: key) else { throw AdmError("no such service: \(key)") }
            let p = port ?? key.port
            guard let r = services[i].reals.firstIndex(where: { $0.config.address == address && $0.config.port == p }) else {
                throw AdmError("no such real server \(address):\(p) in \(key)")
            }
            let id = services[i].reals.remove(at: r).id
            freedRealIDs.append(id)
            changes.checkersToStop.append(id)
            changes.realsRemoved = 1
        case .setTimeouts(let tcp, let tcpfin, let udp):
            if tcp > 0 { timeouts.tcpEstablished = UInt32(tcp * 1000) }
            if tcpfin > 0 { timeouts.tcpFin = UInt32(tcpfin * 1000) }
            if udp > 0 { timeouts.udp = UInt32(udp * 1000) }
        case .clear:
            for s in services { release(s, &changes) }
            changes.servicesRemoved = services.map(\.key)
            services = []
        case .list, .listConnections, .zero, .save, .restore, .reload, .trace, .vrrp, .sync:
            preconditionFailure("\(command) is not a table edit")
        }
        _ = updateQuorum()
        return changes
    }

    /// Switchyard forwards a whole service one way; the first real server sets it.
    mutating func setMethod(_ i: Int, _ method: ForwardingMethod, port: UInt16) throws(AdmError) {
        if services[i].reals.isEmpty {
            services[i].config.method = method
        } else if services[i].config.method != method {
            throw AdmError("\(services[i].key) forwards by \(services[i].config.method.name); "
                + "Switchyard uses one forwarding method per virtual service")
        }
        if method == .dr && port != services[i].key.port {
            throw AdmError("with -g (DR) the real server's port must be the service's port (\(services[i].key.port))")
        }
    }
}
