import SwitchyardCore
import SwitchyardIO

/// A real server as configured.
public struct RealServerConfig: Sendable, Equatable {
    public var address: IPv4Address
    public var port: UInt16
    public var weight: Int
    /// On failure keep it listed with weight 0 instead of removing it (inhibit_on_failure).
    public var inhibitOnFailure: Bool = false
    /// Scripts run on a health transition (notify_up, notify_down).
    public var notifyUp: String?
    public var notifyDown: String?
    /// Health checkers; none means always up.
    public var checkers: [CheckerConfig] = []
    public var location: SourceLocation

    public init(address: IPv4Address, port: UInt16, weight: Int, inhibitOnFailure: Bool = false, notifyUp: String? = nil,
                notifyDown: String? = nil, checkers: [CheckerConfig] = [], location: SourceLocation) {
        self.address = address
        self.port = port
        self.weight = weight
        self.inhibitOnFailure = inhibitOnFailure
        self.notifyUp = notifyUp
        self.notifyDown = notifyDown
        self.checkers = checkers
        self.location = location
    }
}

/// A virtual service as configured; identified by (protocol, VIP, port).
public struct VirtualServiceConfig: Sendable, Equatable {
    public var proto: UInt8
    public var vip: IPv4Address
    public var port: UInt16
    public var scheduler: SchedulerKind
    public var method: ForwardingMethod
    public var delayLoop: Int
    /// persistence_timeout in seconds (0: none) and persistence_granularity as a netmask.
    public var persistenceTimeout: Int
    public var persistenceMask: UInt32
    public var reals: [RealServerConfig]
    /// Used while the alive real servers' weights add up to less than the quorum.
    public var sorryServer: SorryServerConfig?
    /// keepalived's quorum (default 1) and hysteresis, and the scripts run when it is gained or lost.
    public var quorum: Int = 1
    public var hysteresis: Int = 0
    public var quorumUp: String?
    public var quorumDown: String?
    /// alpha: real servers with checkers start down and come up on their first success.
    public var alpha: Bool = false
    public var location: SourceLocation

    public var protocolName: String { proto == IPProtocol.udp ? "UDP" : "TCP" }
    /// ipvsadm's way of naming a service: TCP 198.18.0.100:80.
    public var name: String { "\(protocolName) \(vip):\(port)" }
}

/// A parsed, checked configuration.
public struct Config: Sendable, Equatable {
    public var services: [VirtualServiceConfig] = []
    /// The key of the scheduling hash (global_defs `switchyard_hash_key`).
    public var schedulingKey: HashKey = .defaultScheduling
    /// Flows tracked at most, over all workers (global_defs `switchyard_flow_capacity`).
    public var flowCapacity: Int = 1 << 20
    /// Entries in each Maglev table; prime (global_defs `switchyard_maglev_table_size`).
    public var maglevTableSize: Int = Maglev.defaultTableSize
    /// Idle timeouts (global_defs `lvs_timeouts tcp T tcpfin T udp T`, as keepalived).
    public var timeouts = FlowTimeouts()
    /// Things accepted but not acted on, as `PATH:LINE:COL: warning: …`.
    public var warnings: [ConfigDiagnostic] = []

    public var vips: [IPv4Address] { Array(Set(services.map(\.vip))).sorted() }

    /// Parses config text. Throws the first error, with its line and column.
    public static func parse(_ text: String, path: String) throws(ConfigDiagnostic) -> Config {
        var reader = ConfigReader(path: path)
        let statements = try ConfigSyntax.parse(text, path: path)
        Log.debug("config \(path): \(text.utf8.count) bytes, \(statements.count) top-level statement(s)")
        let config = try reader.read(statements)
        if Log.isEnabled(.debug) {
            for line in config.debugLines(path: path) { Log.debug(line) }
        }
        return config
    }

    /// Reads and parses a file; anything but a regular file is refused (ConfigFile).
    public static func load(path: String) throws(ConfigDiagnostic) -> Config {
        Log.debug("config: reading \(path)")
        return try parse(ConfigFile.read(path), path: path)
    }
}

/// keepalived keywords that Switchyard accepts but does not act on yet: each draws a one-line
/// warning, and a block's contents are skipped.
enum NotYetActedOn {
    static let topLevel: Set<String> = [
        "vrrp_instance", "vrrp_sync_group", "vrrp_script", "vrrp_track_file", "track_file", "static_ipaddress",
        "static_routes", "static_rules", "linkbeat_interfaces", "bfd_instance",
    ]
    static let global: Set<String> = [
        "router_id", "notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout",
        "smtp_alert", "enable_script_security", "script_user", "lvs_id", "lvs_sync_daemon",
        "lvs_flush", "vrrp_mcast_group4", "vrrp_mcast_group6", "vrrp_garp_master_delay", "vrrp_garp_master_repeat",
        "vrrp_garp_master_refresh", "vrrp_version", "vrrp_strict", "vrrp_skip_check_adv_addr", "vrrp_iptables",
        "max_auto_priority", "dynamic_interfaces", "checker_log_all_failures", "default_interface",
    ]
    static let virtualServer: Set<String> = [
        "persistence_engine", "virtualhost", "sorry_server_inhibit", "sorry_server_lvs_method", "omega", "ha_suspend",
        "ops", "mh-port", "mh-fallback", "lvs_flags", "smtp_alert", "one_packet_scheduling", "lb_flags",
    ]
    static let realServer: Set<String> = [
        "uthreshold", "lthreshold", "smtp_alert", "SSL_GET", "SMTP_CHECK", "DNS_CHECK", "BFD_CHECK", "UDP_CHECK",
        "FILE_CHECK",
    ]
}

struct ConfigReader {
    let path: String
    var config = Config()

    init(path: String) { self.path = path }

    func error(_ t: Token, _ message: String) -> ConfigDiagnostic {
        ConfigDiagnostic(path: path, location: t.location, message: message, isWarning: false)
    }

    mutating func warn(_ t: Token, _ message: String) {
        config.warnings.append(ConfigDiagnostic(path: path, location: t.location, message: message, isWarning: true))
    }

    mutating func read(_ statements: [Statement]) throws(ConfigDiagnostic) -> Config {
        for s in statements {
            let k = s.keyword.text
            switch k {
            case "global_defs":
                try globalDefs(try children(s))
            case "virtual_server":
                try virtualServer(s)
            case "include":
                throw error(s.keyword, "include is not supported yet; put everything in one file")
            case "virtual_server_group":
                throw error(s.keyword, "virtual_server_group is not supported yet; write one virtual_server per VIP and port")
            default:
                if NotYetActedOn.topLevel.contains(k) {
                    warn(s.keyword, "\(k) is accepted but not acted on yet")
                } else {
                    throw error(s.keyword, "unknown keyword \"\(k)\"; expected global_defs or virtual_server")
                }
            }
        }
        return config
    }

    func children(_ s: Statement) throws(ConfigDiagnostic) -> [Statement] {
        guard let c = s.children else { throw error(s.keyword, "\(s.keyword.text) needs a block: \(s.keyword.text) { … }") }
        return c
    }

    func single(_ s: Statement) throws(ConfigDiagnostic) -> Token {
        guard s.arguments.count == 1, s.children == nil else {
            throw error(s.keyword, "\(s.keyword.text) takes exactly one value")
        }
        return s.arguments[0]
    }

    func integer(_ s: Statement, in range: ClosedRange<Int>) throws(ConfigDiagnostic) -> Int {
        let t = try single(s)
        guard let v = Int(t.text), range.contains(v) else {
            throw error(t, "\(s.keyword.text) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \"\(t.text)\"")
        }
        return v
    }

    mutating func globalDefs(_ statements: [Statement]) throws(ConfigDiagnostic) {
        for s in statements {
            switch s.keyword.text {
            case "switchyard_hash_key":
                let t = try single(s)
                guard let key = HashKey(hex: t.text) else {
                    throw error(t, "switchyard_hash_key must be 32 hex digits (128 bits), e.g. 0x0123456789abcdef0123456789abcdef")
                }
                config.schedulingKey = key
            case "switchyard_flow_capacity":
                config.flowCapacity = try integer(s, in: 1_024...100_000_000)
            case "lvs_timeouts":
                try lvsTimeouts(s)
            case "switchyard_maglev_table_size":
                let size = try integer(s, in: 251...1_048_573)
                guard Maglev.isPrime(size) else {
                    throw error(s.arguments[0], "switchyard_maglev_table_size must be prime (e.g. 65537, 131071)")
                }
                config.maglevTableSize = size
            default:
                let k = s.keyword.text
                if NotYetActedOn.global.contains(k) || k.hasPrefix("vrrp_") || k.hasPrefix("lvs_") {
                    warn(s.keyword, "global_defs \(k) is accepted but not acted on yet")
                } else {
                    throw error(s.keyword, "unknown keyword \"\(k)\" in global_defs")
                }
            }
        }
    }

    /// `lvs_timeouts tcp 900 tcpfin 120 udp 300` (seconds; any subset, any order).
    mutating func lvsTimeouts(_ s: Statement) throws(ConfigDiagnostic) {
        let args = s.arguments
        guard !args.isEmpty, args.count % 2 == 0 else {
            throw error(s.keyword, "lvs_timeouts takes pairs: lvs_timeouts tcp 900 tcpfin 120 udp 300")
        }
        for i in stride(from: 0, to: args.count, by: 2) {
            guard let seconds = Int(args[i + 1].text), ServiceValues.timeoutSeconds.contains(seconds) else {
                throw error(args[i + 1], "a timeout must be whole seconds from 1 to 2000000, not \"\(args[i + 1].text)\"")
            }
            let ms = UInt32(seconds * 1000)
            switch args[i].text {
            case "tcp": config.timeouts.tcpEstablished = ms
            case "tcpfin": config.timeouts.tcpFin = ms
            case "udp": config.timeouts.udp = ms
            default: throw error(args[i], "unknown timeout \"\(args[i].text)\"; expected tcp, tcpfin or udp")
            }
        }
    }

    func address(_ t: Token, what: String) throws(ConfigDiagnostic) -> IPv4Address {
        guard let a = IPv4Address(t.text) else {
            if t.text.contains(":") { throw error(t, "IPv6 \(what) \(t.text) is not supported yet") }
            throw error(t, "\"\(t.text)\" is not an IPv4 address (\(what))")
        }
        guard a.value != 0, a.value >> 28 != 0xE, a.value != 0xFFFF_FFFF else {
            throw error(t, "\(t.text) cannot be a \(what) (unspecified, multicast or broadcast)")
        }
        return a
    }

    func port(_ t: Token) throws(ConfigDiagnostic) -> UInt16 {
        guard let p = UInt16(t.text), p > 0 else { throw error(t, "\"\(t.text)\" is not a port (1 to 65535)") }
        return p
    }

    mutating func virtualServer(_ s: Statement) throws(ConfigDiagnostic) {
        if let first = s.arguments.first, first.text == "fwmark" || first.text == "group" {
            throw error(first, "virtual_server \(first.text) is not supported yet; use virtual_server IP PORT")
        }
        guard s.arguments.count == 2 else {
            throw error(s.keyword, "virtual_server takes an address and a port: virtual_server 198.18.0.100 80 { … }")
        }
        let vip = try address(s.arguments[0], what: "virtual server address")
        let vport = try port(s.arguments[1])
        var scheduler: SchedulerKind = .maglev
        var method: ForwardingMethod?
        var proto = IPProtocol.tcp
        var delayLoop = 60
        var persistenceTimeout = 0
        var persistenceMask: UInt32 = 0xFFFF_FFFF
        var reals: [RealServerConfig] = []
        var sorry: SorryServerConfig?
        var quorum = 1
        var hysteresis = 0
        var quorumUp: String?
        var quorumDown: String?
        var alpha = false
        var inhibit = false
        var timing = CheckTiming()
        let statements = try children(s)
        // Timing defaults first: they apply to every checker of the service, wherever they stand.
        for c in statements { _ = try timingKeyword(c, into: &timing) }
        for c in statements {
            let k = c.keyword.text
            // Read in the first pass; the service's own delay_loop is also its delayLoop.
            if let keyword = TimingKeyword(rawValue: k) {
                if keyword == .delayLoop { delayLoop = Int(timing.delayLoop.rounded(.up)) }
                continue
            }
            switch k {
            case "sorry_server":
                guard c.arguments.count == 2 else {
                    throw error(c.keyword, "sorry_server takes an address and a port: sorry_server 198.18.0.99 80")
                }
                sorry = SorryServerConfig(address: try address(c.arguments[0], what: "sorry server address"),
                                          port: try port(c.arguments[1]))
            case "quorum": quorum = try integer(c, in: 0...1_000_000)
            case "hysteresis": hysteresis = try integer(c, in: 0...1_000_000)
            case "quorum_up": quorumUp = c.arguments.map(\.text).joined(separator: " ")
            case "quorum_down": quorumDown = c.arguments.map(\.text).joined(separator: " ")
            case "alpha": alpha = true
            case "inhibit_on_failure": inhibit = true
            default: break
            }
        }
        for c in statements {
            let k = c.keyword.text
            if TimingKeyword.isOne(k) { continue }
            switch k {
            case "sorry_server", "quorum", "hysteresis", "quorum_up", "quorum_down", "alpha", "inhibit_on_failure":
                continue
            case "lb_algo", "lvs_sched":
                let t = try single(c)
                guard let kind = SchedulerKind(name: t.text) else {
                    let ipvs: Set = ["lblc", "lblcr", "dh", "fo", "ovf", "twos"]
                    throw error(t, ipvs.contains(t.text)
                        ? "scheduler \"\(t.text)\" is not supported yet; expected \(ServiceValues.schedulerNames)"
                        : "unknown scheduler \"\(t.text)\"; expected \(ServiceValues.schedulerNames)")
                }
                scheduler = kind
            case "lb_kind", "lvs_method":
                let t = try single(c)
                switch t.text.uppercased() {
                case "DR": method = .dr
                case "NAT": method = .nat
                case "TUN":
                    throw error(t, "\(k) TUN is not supported yet (this kernel has no IPIP to test it); expected DR or NAT")
                default:
                    throw error(t, "unknown \(k) \"\(t.text)\"; expected DR or NAT")
                }
            case "protocol":
                let t = try single(c)
                switch t.text.uppercased() {
                case "TCP": proto = IPProtocol.tcp
                case "UDP": proto = IPProtocol.udp
                default: throw error(t, "unknown protocol \"\(t.text)\"; expected TCP or UDP")
                }
            case "persistence_timeout":
                persistenceTimeout = try integer(c, in: ServiceValues.persistenceTimeout)
            case "persistence_granularity":
                let t = try single(c)
                guard let mask = ServiceValues.netmask(t.text) else {
                    throw error(t, "persistence_granularity must be a netmask such as 255.255.255.0, not \"\(t.text)\"")
                }
                persistenceMask = mask
            case "real_server":
                reals.append(try realServer(c, timing: timing, inhibit: inhibit))
            default:
                if NotYetActedOn.virtualServer.contains(k) {
                    warn(c.keyword, "\(k) is accepted but not acted on yet")
                } else {
                    throw error(c.keyword, "unknown keyword \"\(k)\" in virtual_server")
                }
            }
        }
        guard let method else {
            throw error(s.keyword, "virtual_server \(vip) \(vport) has no lb_kind; write `lb_kind DR` or `lb_kind NAT`")
        }
        let service = VirtualServiceConfig(proto: proto, vip: vip, port: vport, scheduler: scheduler, method: method,
                                           delayLoop: delayLoop, persistenceTimeout: persistenceTimeout,
                                           persistenceMask: persistenceMask, reals: reals, sorryServer: sorry,
                                           quorum: quorum, hysteresis: hysteresis, quorumUp: quorumUp,
                                           quorumDown: quorumDown, alpha: alpha, location: s.keyword.location)
        if let other = config.services.first(where: { $0.proto == proto && $0.vip == vip && $0.port == vport }) {
            throw error(s.keyword, "\(service.name) is already defined at line \(other.location.line)")
        }
        var seen: [String: Int] = [:]
        for r in reals {
            let key = "\(r.address):\(r.port)"
            if let line = seen[key] {
                throw ConfigDiagnostic(path: path, location: r.location,
                                       message: "real server \(key) is listed twice in \(service.name) (first at line \(line))",
                                       isWarning: false)
            }
            seen[key] = r.location.line
            if method == .dr && r.port != vport {
                throw ConfigDiagnostic(path: path, location: r.location,
                                       message: "with lb_kind DR a real server's port must be the service's port (\(vport)), not \(r.port): DR does not rewrite ports",
                                       isWarning: false)
            }
        }
        config.services.append(service)
    }

    mutating func realServer(_ s: Statement, timing inherited: CheckTiming, inhibit: Bool) throws(ConfigDiagnostic)
        -> RealServerConfig {
        guard s.arguments.count == 2 else {
            throw error(s.keyword, "real_server takes an address and a port: real_server 198.18.0.11 80 { … }")
        }
        var real = RealServerConfig(address: try address(s.arguments[0], what: "real server address"),
                                    port: try port(s.arguments[1]), weight: 1, inhibitOnFailure: inhibit,
                                    location: s.keyword.location)
        var timing = inherited
        let statements = s.children ?? []
        for c in statements { _ = try timingKeyword(c, into: &timing) }
        for c in statements {
            let k = c.keyword.text
            if TimingKeyword.isOne(k) { continue }
            switch k {
            case "weight": real.weight = try integer(c, in: ServiceValues.weight)
            case "inhibit_on_failure": real.inhibitOnFailure = true
            case "notify_up": real.notifyUp = c.arguments.map(\.text).joined(separator: " ")
            case "notify_down": real.notifyDown = c.arguments.map(\.text).joined(separator: " ")
            default:
                if Self.checkerKinds.contains(k) {
                    real.checkers.append(try checker(c, inherited: timing))
                } else if NotYetActedOn.realServer.contains(k) {
                    warn(c.keyword, "\(k) is accepted but not acted on yet")
                } else {
                    throw error(c.keyword, "unknown keyword \"\(k)\" in real_server")
                }
            }
        }
        return real
    }
}
