// The config reader: keepalived.conf's top level, global_defs and lvs_timeouts, and the helpers
// every block's reader uses (one value, a whole number in a range, an address, a port), each
// failing with PATH:LINE:COL. virtual_server and real_server are ServiceReader.swift's;
// checkers HealthConfig.swift's; the failover blocks (vrrp_instance, vrrp_script,
// vrrp_sync_group, lvs_sync_daemon) VRRP/VRRPReader.swift's and its neighbours'.
import SwitchyardCore

struct ConfigReader {
    let path: String
    var config = Config()
    /// The failover blocks read so far, settled when the file ends (VRRPCompletion.swift).
    var failover = FailoverReading()
    /// The top-level SSL block, given to every SSL_GET checker when the file ends.
    var tls: TLSClientSettings?

    init(path: String) { self.path = path }

    func error(_ t: Token, _ message: String) -> ConfigDiagnostic {
        ConfigDiagnostic(path: path, location: t.location, message: message, isWarning: false)
    }

    mutating func warn(_ t: Token, _ message: String) { warn(at: t.location, message) }

    mutating func read(_ statements: [Statement]) throws(ConfigDiagnostic) -> Config {
        for s in statements {
            let k = s.keyword.text
            switch k {
            case "global_defs":
                try globalDefs(try children(s))
            case "virtual_server":
                try virtualServer(s)
            case "virtual_server_group":
                throw error(s.keyword, "virtual_server_group is not supported yet: Switchyard's services are one "
                    + "address and port each; write one virtual_server per address and port of the group, "
                    + "with the same real servers")
            case "vrrp_instance":
                try vrrpInstance(s)
            case "vrrp_script":
                try vrrpScript(s)
            case "vrrp_sync_group":
                try vrrpSyncGroup(s)
            case "SSL":
                tls = try tlsBlock(s)
            case "track_file", "vrrp_track_file":
                let file = try trackFile(s)
                if let other = config.trackFiles.first(where: { $0.name == file.name }) {
                    throw error(s.arguments[0], "track_file \(file.name) is already defined at line \(other.location.line)")
                }
                config.trackFiles.append(file)
            default:
                guard ignore(s, in: .topLevel) else {
                    throw error(s.keyword, "unknown keyword \"\(k)\"; expected global_defs or virtual_server")
                }
            }
        }
        try finishFailover()
        if let tls { config.applyTLS(tls) }
        try settleFileChecks()
        settleHTTP()
        return config
    }

    /// A keepalived keyword Switchyard does not act on: one warning saying what keepalived
    /// would have done, and its block (if any) skipped whole. False if keepalived has no such
    /// keyword in `block` either.
    mutating func ignore(_ s: Statement, in block: KeepalivedBlock) -> Bool {
        guard let what = KeepalivedKeywords.ignored(s.keyword.text, in: block) else { return false }
        warn(s.keyword, KeepalivedKeywords.warning(s.keyword.text, opensBlock: s.children != nil, what: what))
        return true
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
        // keepalived's global_defs keywords: global_parser.c, init_global_keywords.
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
            case "script_user":
                // keepalived's script_user_handler: a user, and a group if given.
                guard (1...2).contains(s.arguments.count), s.children == nil else {
                    throw error(s.keyword, "script_user takes a user and maybe a group: script_user keepalived_script")
                }
                config.scripts.user = s.arguments[0].text
                config.scripts.group = s.arguments.count == 2 ? s.arguments[1].text : nil
            case "enable_script_security":
                guard s.arguments.isEmpty, s.children == nil else { throw error(s.keyword, "enable_script_security takes no value") }
                config.scripts.enforcing = true
            case "switchyard_maglev_table_size":
                let size = try integer(s, in: 251...1_048_573)
                guard Maglev.isPrime(size) else {
                    throw error(s.arguments[0], "switchyard_maglev_table_size must be prime (e.g. 65537, 131071)")
                }
                config.maglevTableSize = size
            default:
                let k = s.keyword.text
                if try vrrpGlobal(s) { continue }
                if try httpGlobal(s) { continue }
                if try announceGlobal(s) { continue }
                guard ignore(s, in: .globalDefs) else {
                    throw error(s.keyword, "unknown keyword \"\(k)\" in global_defs")
                }
            }
        }
        checkAnnounce(statements)
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

    /// An IPv4 or IPv6 address for a service, a real server or a sorry server: one a packet can
    /// be sent to (no unspecified, loopback, multicast or broadcast address; no IPv6 link-local
    /// one, which would need its interface, unless `linkLocal` (a VRRP instance's addresses,
    /// which have one); no IPv4-mapped one: write the IPv4 address).
    func serviceAddress(_ t: Token, what: String, linkLocal: Bool = false) throws(ConfigDiagnostic) -> IPAddressBits {
        guard t.text.contains(":") else { return IPAddressBits(try address(t, what: what)) }
        guard let a = IPAddressBits(ipv6: t.text) else {
            throw error(t, "\"\(t.text)\" is not an IPv6 address (\(what))")
        }
        // ::/64, as the packet parser drops it: ::, ::1, the IPv4-compatible and -mapped forms.
        if a.high == 0 {
            throw error(t, "\(t.text) cannot be a \(what) (unspecified, loopback, IPv4-compatible or -mapped: "
                + "write an IPv4 address as 198.18.0.1)")
        }
        if a.high >> 56 == 0xFF { throw error(t, "\(t.text) cannot be a \(what) (multicast)") }
        if a.high >> 54 == 0xFE80 >> 6 && !linkLocal {
            throw error(t, "\(t.text) cannot be a \(what) (link-local: it would need an interface; use a global address)")
        }
        return a
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

    /// A notify script (notify_up/down, quorum_up/down, VRRP notify*), as keepalived's
    /// notify_script_init reads it: the script with its arguments is one word (quoted if it has
    /// arguments), then maybe the user and group it runs as.
    func notifyScript(_ s: Statement) throws(ConfigDiagnostic) -> ScriptUse {
        let k = s.keyword.text
        guard (1...3).contains(s.arguments.count), s.children == nil, !s.arguments[0].text.isEmpty else {
            throw error(s.arguments.count > 3 ? s.arguments[3] : s.keyword,
                        "\(k) takes a script, quoted if it has arguments, then maybe a user and a group: "
                        + "\(k) \"/path/to/script args\" [USER [GROUP]]")
        }
        let words = s.arguments.map(\.text)
        return ScriptUse(command: words[0], user: words.count > 1 ? words[1] : nil, group: words.count > 2 ? words[2] : nil)
    }

    func port(_ t: Token) throws(ConfigDiagnostic) -> UInt16 {
        guard let p = UInt16(t.text), p > 0 else { throw error(t, "\"\(t.text)\" is not a port (1 to 65535)") }
        return p
    }
}
