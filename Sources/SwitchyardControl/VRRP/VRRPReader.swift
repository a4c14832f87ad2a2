// Reading one `vrrp_instance NAME { … }` block into a VRRPInstanceConfig, keyword by keyword as
// keepalived's vrrp_parser.c does. What depends on the whole file (the version from global_defs,
// priority and state derived from each other, advert_int rounding, sync groups, duplicate VRIDs)
// is settled afterwards in VRRPCompletion.swift. The small helpers the failover readers share
// (a decimal, a flag, a notify script, an error at a stored place) live here too.
import SwitchyardCore

/// What the reader keeps about the failover blocks until the whole file is read.
struct FailoverReading {
    /// global_defs' defaults for instances. keepalived copies the garp ones into an instance
    /// when its block starts (so only a global_defs above it counts) and reads vrrp_version
    /// when the file is complete; the reader does the same.
    struct Defaults {
        var version: UInt8?
        var garpMasterDelay: Double = 5
        var garpMasterRepeat = 5
        var garpMasterRefresh: Double = 0
        var garpMasterRefreshRepeat = 1
        var v3ChecksumAsV2 = false
    }

    /// An instance as its block gave it, with what was left unsaid (keepalived derives those).
    struct Instance {
        var config: VRRPInstanceConfig
        var state: VRRPInstanceConfig.InitialState?
        var priority: UInt8?
        var version: UInt8?
        var advertMicroseconds: Int?
        /// `auth_type PASS` was given (a password alone authenticates nothing in keepalived).
        var authTyped = false
        var hasInterface = false
        var hasRouterID = false
    }

    struct Member {
        var name: String
        var location: SourceLocation
    }

    var defaults = Defaults()
    var instances: [Instance] = []
    /// The members each sync group names, in the order of config.failover.syncGroups.
    var groupMembers: [[Member]] = []
    /// Where lvs_sync_daemon names its instance.
    var syncDaemonInstance: SourceLocation?
    /// global_defs `switchyard_sync_auth_key` and where it stands, until the sync daemon it
    /// belongs to is known (either may come first).
    var syncAuthKey: (key: [UInt8], location: SourceLocation)?
    var usedScripts: Set<String> = []
    /// The first failover block, where the one "not acted on yet" warning points.
    var first: SourceLocation?
}

/// keepalived's vrrp_instance keywords that Switchyard reads but does not act on: each draws a
/// warning, and a block's contents are skipped.
enum VRRPNotActedOn {
    static let instance: Set<String> = [
        "use_vmac", "use_vmac_addr", "vmac_xmit_base", "use_ipvlan", "unicast_fault_no_peer", "check_unicast_src",
        "old_unicast_checksum", "vrf", "dont_track_primary", "track_file", "track_process", "track_bfd",
        "mcast_src_ip", "mcast_dst_ip", "track_src_ip", "unicast_ttl", "virtual_ipaddress_excluded",
        "no_virtual_ipaddress", "promote_secondaries", "linkbeat_use_polling", "virtual_routes", "virtual_rules",
        "accept", "no_accept", "skip_check_adv_addr", "strict_mode", "debug", "notify_deleted",
        "notify_master_rx_lower_pri", "smtp_alert", "notify_priority_changes", "garp_lower_prio_delay",
        "garp_lower_prio_repeat", "down_timer_adverts", "timer_expired_backup", "thread_timer_expired",
        "garp_extra_if", "vmac_garp_intvl", "lower_prio_no_advert", "higher_prio_send_advert",
        "owner_ignore_adverts", "kernel_rx_buf_size", "auth_hmac",
    ]
    /// virtual_ipaddress options after the address: those that take a value, and flags.
    static let addressOptionsWithValue: Set<String> = ["scope", "broadcast", "brd", "label", "peer", "preferred_lft"]
    static let addressFlags: Set<String> = [
        "home", "-nodad", "mngtmpaddr", "noprefixroute", "autojoin", "no_track", "use_vmac",
    ]
}

extension ConfigReader {
    func error(at location: SourceLocation, _ message: String) -> ConfigDiagnostic {
        ConfigDiagnostic(path: path, location: location, message: message, isWarning: false)
    }

    mutating func warn(at location: SourceLocation, _ message: String) {
        config.warnings.append(ConfigDiagnostic(path: path, location: location, message: message, isWarning: true))
    }

    /// A block's name, its one argument: `vrrp_instance VI_1 {`.
    func blockName(_ s: Statement) throws(ConfigDiagnostic) -> String {
        guard s.arguments.count == 1 else {
            throw error(s.keyword, "\(s.keyword.text) takes one name: \(s.keyword.text) NAME { … }")
        }
        return s.arguments[0].text
    }

    /// A whole number in a range, from a token that need not be the statement's only one.
    func integer(_ t: Token, _ what: String, in range: ClosedRange<Int>) throws(ConfigDiagnostic) -> Int {
        guard let v = Int(t.text), range.contains(v) else {
            throw error(t, "\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \"\(t.text)\"")
        }
        return v
    }

    /// keepalived's decimal seconds (`advert_int 0.1`), in units of 10^-decimals.
    func decimal(_ s: Statement, decimals: Int, in range: ClosedRange<Int>) throws(ConfigDiagnostic) -> Int {
        let t = try single(s)
        guard let v = VRRPValues.decimal(t.text, decimals: decimals), range.contains(v) else {
            throw error(t, "\(s.keyword.text) must be a number of seconds from "
                + "\(VRRPValues.seconds(range.lowerBound, decimals: decimals)) to "
                + "\(VRRPValues.seconds(range.upperBound, decimals: decimals)) (at most \(decimals) decimals), not \"\(t.text)\"")
        }
        return v
    }

    /// keepalived's check_true_false: no value means true.
    func flag(_ s: Statement) throws(ConfigDiagnostic) -> Bool {
        guard let t = s.arguments.first else { return true }
        switch t.text {
        case "true", "on", "yes": return true
        case "false", "off", "no": return false
        default: throw error(t, "\(s.keyword.text) takes true or false (on/off, yes/no), not \"\(t.text)\"")
        }
    }

    /// Sets a notify script once; keepalived keeps the first and warns about the others.
    mutating func notify(_ s: Statement, _ slot: inout ScriptUse?, owner: String) throws(ConfigDiagnostic) {
        let value = try notifyScript(s)
        if slot != nil {
            warn(s.keyword, "\(owner): \(s.keyword.text) is already set; this one is ignored, as keepalived")
        } else {
            slot = value
        }
    }

    mutating func noteFailover(_ t: Token) {
        if failover.first == nil { failover.first = t.location }
    }

    mutating func vrrpInstance(_ s: Statement) throws(ConfigDiagnostic) {
        noteFailover(s.keyword)
        let name = try blockName(s)
        if let other = failover.instances.first(where: { $0.config.name == name }) {
            throw error(s.arguments[0], "vrrp_instance \(name) is already defined at line \(other.config.location.line)")
        }
        let d = failover.defaults
        var i = FailoverReading.Instance(config: VRRPInstanceConfig(name: name, location: s.keyword.location))
        i.config.garpMasterDelay = d.garpMasterDelay
        i.config.garpMasterRepeat = d.garpMasterRepeat
        i.config.garpMasterRefresh = d.garpMasterRefresh
        i.config.garpMasterRefreshRepeat = d.garpMasterRefreshRepeat
        i.config.v3ChecksumAsV2 = d.v3ChecksumAsV2
        let owner = "vrrp_instance \(name)"
        for c in try children(s) {
            let k = c.keyword.text
            switch k {
            case "state":
                let t = try single(c)
                switch t.text {
                case "MASTER": i.state = .master
                case "BACKUP":
                    if i.state == .master {
                        warn(t, "\(owner): state was already MASTER; BACKUP is ignored, as keepalived")
                    } else {
                        i.state = .backup
                    }
                default:
                    throw error(t, "unknown state \"\(t.text)\"; expected MASTER or BACKUP (in capitals, as keepalived reads it)")
                }
            case "interface":
                let t = try single(c)
                guard t.text.utf8.count < 16 else { throw error(t, "interface name \"\(t.text)\" is longer than 15 characters") }
                i.config.interface = t.text
                i.hasInterface = true
            case "virtual_router_id":
                i.config.virtualRouterID = UInt8(try integer(c, in: VRRPValues.virtualRouterID))
                i.hasRouterID = true
            case "priority":
                i.priority = UInt8(try integer(c, in: VRRPValues.priority))
            case "advert_int":
                i.advertMicroseconds = try decimal(c, decimals: 6, in: VRRPValues.advertMicroseconds)
            case "version":
                i.version = UInt8(try integer(c, in: VRRPValues.version))
            case "nopreempt": i.config.preempt = false
            case "preempt": i.config.preempt = true
            case "preempt_delay":
                i.config.preemptDelay = Double(try decimal(c, decimals: 6, in: VRRPValues.preemptDelayMicroseconds)) / 1e6
            case "virtual_ipaddress":
                for line in try children(c) { try virtualAddress(line, into: &i.config, owner: owner) }
            case "unicast_src_ip":
                i.config.unicastSource = try serviceAddress(try single(c), what: "unicast_src_ip", linkLocal: true)
            case "unicast_peer":
                for line in try children(c) { try unicastPeer(line, into: &i.config, owner: owner) }
            case "authentication":
                try authentication(c, into: &i.config, typed: &i.authTyped)
            case "track_interface":
                for line in try children(c) { try trackInterface(line, into: &i.config, owner: owner) }
            case "track_script":
                for line in try children(c) { try trackScript(line, into: &i.config, owner: owner) }
            case "notify_master": try notify(c, &i.config.notifyMaster, owner: owner)
            case "notify_backup": try notify(c, &i.config.notifyBackup, owner: owner)
            case "notify_fault": try notify(c, &i.config.notifyFault, owner: owner)
            case "notify_stop": try notify(c, &i.config.notifyStop, owner: owner)
            case "notify": try notify(c, &i.config.notify, owner: owner)
            case "garp_master_delay":
                i.config.garpMasterDelay = Double(try integer(c, in: VRRPValues.garpDelaySeconds))
            case "garp_master_repeat":
                i.config.garpMasterRepeat = try garpCount(c)
            case "garp_master_refresh":
                i.config.garpMasterRefresh = Double(try integer(c, in: VRRPValues.garpCount))
            case "garp_master_refresh_repeat":
                i.config.garpMasterRefreshRepeat = try garpCount(c)
            case "v3_checksum_as_v2":
                i.config.v3ChecksumAsV2 = try flag(c)
            case "lvs_sync_daemon_interface":
                // keepalived's older spelling: the instance it stands in is the sync instance.
                let t = try single(c)
                warn(c.keyword, "lvs_sync_daemon_interface in a vrrp_instance is deprecated (as in keepalived); "
                    + "write `lvs_sync_daemon \(t.text) \(name)` in global_defs")
                try setSyncDaemon(SyncDaemonConfig(interface: t.text, instance: name, location: c.keyword.location),
                                  instanceAt: s.arguments[0].location, at: c.keyword)
            case "native_ipv6":
                guard i.config.virtualAddresses.allSatisfy({ !$0.address.isV4 }) else {
                    throw error(c.keyword, "native_ipv6 in a vrrp_instance with IPv4 addresses (keepalived: cannot specify "
                        + "native_ipv6 with IPv4 addresses); an instance's addresses are of one family")
                }
                i.config.nativeIPv6 = true
            default:
                if VRRPNotActedOn.instance.contains(k) {
                    warn(c.keyword, "\(k) is accepted but not acted on yet")
                } else {
                    throw error(c.keyword, "unknown keyword \"\(k)\" in vrrp_instance")
                }
            }
        }
        failover.instances.append(i)
    }

    /// `garp_master_repeat N`: keepalived once allowed 0 and now makes it 1 with a warning.
    mutating func garpCount(_ s: Statement) throws(ConfigDiagnostic) -> Int {
        let n = try integer(s, in: VRRPValues.garpCount)
        if n == 0 { warn(s.arguments[0], "\(s.keyword.text) must be greater than 0; 1 is used, as keepalived") }
        return max(n, 1)
    }

    /// `ADDR[/LEN] [dev IF] [label L] [brd B] [scope S] …`, one a line.
    mutating func virtualAddress(_ s: Statement, into c: inout VRRPInstanceConfig, owner: String) throws(ConfigDiagnostic) {
        if s.children != nil { throw error(s.keyword, "virtual_ipaddress lists addresses, one a line; no blocks inside") }
        let text = s.keyword.text
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        var addressToken = s.keyword
        addressToken.text = String(parts[0])
        let a = try serviceAddress(addressToken, what: "virtual_ipaddress", linkLocal: true)
        var vip = VRRPInstanceConfig.VirtualAddress(address: a)
        if parts.count == 2 {
            let most: UInt8 = a.isV4 ? 32 : 128
            guard let len = UInt8(parts[1]), len <= most else {
                throw error(s.keyword, "\"\(text)\": the prefix length after / must be 0 to \(most)")
            }
            vip.prefixLength = len
        }
        var index = 0
        let args = s.arguments
        while index < args.count {
            let option = args[index]
            if option.text == "dev" || VRRPNotActedOn.addressOptionsWithValue.contains(option.text) {
                guard index + 1 < args.count else { throw error(option, "\(option.text) needs a value after it (\(text))") }
                if option.text == "dev" {
                    if vip.device != nil { throw error(option, "dev is given twice for \(text)") }
                    vip.device = args[index + 1].text
                } else {
                    warn(option, "virtual_ipaddress option \(option.text) is accepted but not acted on yet")
                }
                index += 2
            } else if VRRPNotActedOn.addressFlags.contains(option.text) {
                warn(option, "virtual_ipaddress option \(option.text) is accepted but not acted on yet")
                index += 1
            } else {
                throw error(option, "unknown virtual_ipaddress option \"\(option.text)\"; expected dev, label, brd, scope, …")
            }
        }
        if c.virtualAddresses.contains(where: { $0.address == a }) {
            warn(s.keyword, "\(owner): virtual_ipaddress \(a) is listed twice; the second is ignored, as keepalived")
            return
        }
        // keepalived: the first address (or native_ipv6) sets the instance's family; one of the
        // other family is ignored with a warning.
        if (c.isIPv6 || !c.virtualAddresses.isEmpty) && a.isV4 == c.isIPv6 {
            warn(s.keyword, "\(owner): virtual_ipaddress \(a) is \(a.isV4 ? "IPv4" : "IPv6") but the instance is "
                + "\(c.isIPv6 ? "IPv6" : "IPv4") (its first address\(c.nativeIPv6 ? " or native_ipv6" : "")); it is ignored, as keepalived. "
                + "Put it in a vrrp_instance of its own")
            return
        }
        c.virtualAddresses.append(vip)
    }

    /// `ADDR [min_ttl N] [max_ttl N]`, one a line.
    mutating func unicastPeer(_ s: Statement, into c: inout VRRPInstanceConfig, owner: String) throws(ConfigDiagnostic) {
        if s.children != nil { throw error(s.keyword, "unicast_peer lists addresses, one a line; no blocks inside") }
        let a = try serviceAddress(s.keyword, what: "unicast_peer", linkLocal: true)
        var index = 0
        while index < s.arguments.count {
            let option = s.arguments[index]
            guard option.text == "min_ttl" || option.text == "max_ttl" else {
                if IPAddressBits(text: option.text) != nil {
                    throw error(option, "one unicast_peer address a line (keepalived reads only the first of a line)")
                }
                throw error(option, "unknown unicast_peer option \"\(option.text)\"; expected min_ttl or max_ttl")
            }
            guard index + 1 < s.arguments.count else { throw error(option, "\(option.text) needs a value after it") }
            _ = try integer(s.arguments[index + 1], option.text, in: 0...255)
            warn(option, "unicast_peer option \(option.text) is accepted but not acted on yet")
            index += 2
        }
        if c.unicastPeers.contains(a) {
            warn(s.keyword, "\(owner): unicast_peer \(a) is listed twice; the second is ignored, as keepalived")
            return
        }
        c.unicastPeers.append(a)
    }

    /// `authentication { auth_type PASS; auth_pass SECRET }`. keepalived also has AH (an
    /// IPsec-AH header keyed with the password); the advert codec does not, so it is refused
    /// rather than silently sent as PASS.
    mutating func authentication(_ s: Statement, into c: inout VRRPInstanceConfig,
                                 typed: inout Bool) throws(ConfigDiagnostic) {
        var pass: String?
        for line in try children(s) {
            switch line.keyword.text {
            case "auth_type":
                let t = try single(line)
                switch t.text {
                case "PASS": typed = true
                case "AH": throw error(t, "auth_type AH is not supported yet; use auth_type PASS, or no authentication")
                default: throw error(t, "unknown auth_type \"\(t.text)\"; expected PASS (AH is not supported yet)")
                }
            case "auth_pass":
                let t = try single(line)
                var secret = t.text
                if secret.utf8.count > VRRPValues.authPassLength {
                    secret = String(decoding: secret.utf8.prefix(VRRPValues.authPassLength), as: UTF8.self)
                    warn(t, "auth_pass is longer than \(VRRPValues.authPassLength) characters; only \"\(secret)\" is used, as keepalived")
                }
                pass = secret
            default:
                throw error(line.keyword, "unknown keyword \"\(line.keyword.text)\" in authentication; expected auth_type or auth_pass")
            }
        }
        // keepalived authenticates only with both; the completion drops the rest with a warning.
        if pass != nil { c.authPass = pass }
    }

    /// `IF [weight W]`, one a line.
    mutating func trackInterface(_ s: Statement, into c: inout VRRPInstanceConfig, owner: String) throws(ConfigDiagnostic) {
        if s.children != nil { throw error(s.keyword, "track_interface lists interfaces, one a line; no blocks inside") }
        let weight = try trackWeight(s, default: 0)
        if c.trackInterfaces.contains(where: { $0.name == s.keyword.text }) {
            warn(s.keyword, "\(owner): track_interface \(s.keyword.text) is listed twice; the second is ignored, as keepalived")
            return
        }
        c.trackInterfaces.append(.init(name: s.keyword.text, weight: weight))
    }

    /// `NAME [weight W]`, one a line; the vrrp_script must be defined above, as keepalived
    /// looks it up while reading the instance.
    mutating func trackScript(_ s: Statement, into c: inout VRRPInstanceConfig, owner: String) throws(ConfigDiagnostic) {
        if s.children != nil { throw error(s.keyword, "track_script lists vrrp_script names, one a line; no blocks inside") }
        let name = s.keyword.text
        guard let script = config.failover.scripts.first(where: { $0.name == name }) else {
            throw error(s.keyword, "track_script \(name): no vrrp_script \(name) is defined above this vrrp_instance "
                + "(keepalived only finds scripts defined before the instance)")
        }
        let weight = try trackWeight(s, default: script.weight)
        if c.trackScripts.contains(where: { $0.name == name }) {
            warn(s.keyword, "\(owner): track_script \(name) is listed twice; the second is ignored, as keepalived")
            return
        }
        failover.usedScripts.insert(name)
        c.trackScripts.append(.init(name: name, weight: weight))
    }

    /// `weight W` after a tracked name; nil for 0, which means FAULT on failure.
    mutating func trackWeight(_ s: Statement, default value: Int) throws(ConfigDiagnostic) -> Int? {
        let args = s.arguments
        var weight = value
        if let first = args.first {
            guard first.text == "weight" else {
                throw error(first, "unknown option \"\(first.text)\" after \(s.keyword.text); expected weight W")
            }
            guard args.count >= 2 else { throw error(first, "weight needs a value: \(s.keyword.text) weight -20") }
            weight = try integer(args[1], "weight", in: VRRPValues.trackWeight)
            if abs(weight) == 254 {
                weight = weight < 0 ? -253 : 253
                warn(args[1], "a weight cannot be ±254; \(weight) is used, as keepalived")
            }
            if args.count >= 3 {
                // noreverse is keepalived's default spelled out; reverse turns the weight around.
                if args[2].text == "reverse" { throw error(args[2], "weight … reverse is not supported yet") }
                let extra = args[2].text == "noreverse" ? args.dropFirst(3).first : args[2]
                if let extra { throw error(extra, "unexpected \"\(extra.text)\" after the weight") }
            }
        }
        return weight == 0 ? nil : weight
    }
}
