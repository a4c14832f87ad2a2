// Reading the failover blocks beside vrrp_instance: `vrrp_script`, `vrrp_sync_group`, and
// global_defs' `lvs_sync_daemon` (with our `switchyard_sync_auth_key`) and VRRP defaults
// (vrrp_version, vrrp_garp_master_*, v3_checksum_as_v2), keyword by keyword as keepalived's
// vrrp_parser.c and global_parser.c.
import SwitchyardCore

extension ConfigReader {
    /// `vrrp_script NAME { script "…"; interval S; timeout S; weight W; rise N; fall N; user U [G] }`.
    mutating func vrrpScript(_ s: Statement) throws(ConfigDiagnostic) {
        noteFailover(s.keyword)
        let name = try blockName(s)
        if let other = config.failover.scripts.first(where: { $0.name == name }) {
            throw error(s.arguments[0], "vrrp_script \(name) is already defined at line \(other.location.line)")
        }
        var script = VRRPScriptConfig(name: name, location: s.keyword.location)
        for c in try children(s) {
            let k = c.keyword.text
            switch k {
            case "script":
                // The line, quoted or not (a user goes in the block's own `user`).
                guard !c.arguments.isEmpty, c.children == nil else {
                    throw error(c.keyword, "script takes a command: script \"/path/to/check args\"")
                }
                script.script = c.arguments.map(\.text).joined(separator: " ")
            case "interval":
                script.interval = try scriptSeconds(c)
            case "timeout":
                script.timeout = try scriptSeconds(c)
            case "weight":
                guard let t = c.arguments.first else { throw error(c.keyword, "weight takes a value from -253 to 253") }
                script.weight = try integer(t, "vrrp_script weight", in: VRRPValues.scriptWeight)
                if let extra = c.arguments.dropFirst().first {
                    throw error(extra, extra.text == "reverse" ? "weight … reverse is not supported yet"
                        : "unexpected \"\(extra.text)\" after the weight")
                }
            case "rise": script.rise = try integer(c, in: VRRPValues.riseFall)
            case "fall": script.fall = try integer(c, in: VRRPValues.riseFall)
            case "user":
                guard (1...2).contains(c.arguments.count) else { throw error(c.keyword, "user takes a user and maybe a group: user nobody nogroup") }
                script.user = c.arguments[0].text
                script.group = c.arguments.count == 2 ? c.arguments[1].text : nil
            case "init_fail":
                warn(c.keyword, "\(k) is accepted but not acted on yet")
            default:
                throw error(c.keyword, "unknown keyword \"\(k)\" in vrrp_script")
            }
        }
        guard !script.script.isEmpty else {
            throw error(s.keyword, "vrrp_script \(name) has no script; write e.g. `script \"/usr/bin/pgrep -x haproxy\"`")
        }
        config.failover.scripts.append(script)
    }

    /// A vrrp_script's interval or timeout: seconds with up to 3 decimals; keepalived makes 0
    /// into 1 s with a warning.
    mutating func scriptSeconds(_ s: Statement) throws(ConfigDiagnostic) -> Double {
        let ms = try decimal(s, decimals: 3, in: VRRPValues.scriptMilliseconds)
        if ms == 0 {
            warn(s.arguments[0], "vrrp_script \(s.keyword.text) must be greater than 0; 1 is used, as keepalived")
            return 1
        }
        return Double(ms) / 1000
    }

    /// `vrrp_sync_group NAME { group { I1 I2 … } notify_master …; … }`.
    mutating func vrrpSyncGroup(_ s: Statement) throws(ConfigDiagnostic) {
        noteFailover(s.keyword)
        let name = try blockName(s)
        if let other = config.failover.syncGroups.first(where: { $0.name == name }) {
            throw error(s.arguments[0], "vrrp_sync_group \(name) is already defined at line \(other.location.line)")
        }
        var group = VRRPSyncGroupConfig(name: name, location: s.keyword.location)
        var members: [FailoverReading.Member]?
        let owner = "vrrp_sync_group \(name)"
        for c in try children(s) {
            let k = c.keyword.text
            switch k {
            case "group":
                if members != nil { throw error(c.keyword, "\(owner) has a second group block; list every instance in one") }
                // keepalived reads the block as words, any number a line.
                var list: [FailoverReading.Member] = []
                for line in try children(c) {
                    if line.children != nil { throw error(line.keyword, "group lists vrrp_instance names; no blocks inside") }
                    for t in [line.keyword] + line.arguments { list.append(.init(name: t.text, location: t.location)) }
                }
                members = list
            case "notify_master": try notify(c, &group.notifyMaster, owner: owner)
            case "notify_backup": try notify(c, &group.notifyBackup, owner: owner)
            case "notify_fault": try notify(c, &group.notifyFault, owner: owner)
            case "notify_stop": try notify(c, &group.notifyStop, owner: owner)
            case "notify": try notify(c, &group.notify, owner: owner)
            case "track_script":
                // Not acted on yet, but the scripts it names are in use (no "not tracked" warning).
                for line in c.children ?? [] { failover.usedScripts.insert(line.keyword.text) }
                warn(c.keyword, "vrrp_sync_group \(k) is accepted but not acted on yet")
            case "track_interface", "track_file", "track_process", "track_bfd", "smtp_alert",
                 "global_tracking", "sync_group_tracking_weight", "notify_priority_changes":
                warn(c.keyword, "vrrp_sync_group \(k) is accepted but not acted on yet")
            default:
                // keepalived's own sample (keepalived.conf.vrrp.lvs_syncd) lists members bare.
                throw error(c.keyword, "unknown keyword \"\(k)\" in vrrp_sync_group; if \(k) is an instance, "
                    + "list the members inside group { … }")
            }
        }
        guard let members, !members.isEmpty else {
            throw error(s.keyword, "\(owner) has no members; write `group { VI_1 VI_2 }`")
        }
        group.instances = members.map(\.name)
        config.failover.syncGroups.append(group)
        failover.groupMembers.append(members)
    }

    /// global_defs keywords for failover; false when `s` is none of them.
    mutating func vrrpGlobal(_ s: Statement) throws(ConfigDiagnostic) -> Bool {
        switch s.keyword.text {
        case "vrrp_version":
            failover.defaults.version = UInt8(try integer(s, in: VRRPValues.version))
        case "vrrp_garp_master_delay":
            failover.defaults.garpMasterDelay = Double(try integer(s, in: VRRPValues.garpDelaySeconds))
        case "vrrp_garp_master_repeat":
            failover.defaults.garpMasterRepeat = try garpCount(s)
        case "vrrp_garp_master_refresh":
            failover.defaults.garpMasterRefresh = Double(try integer(s, in: VRRPValues.garpCount))
        case "vrrp_garp_master_refresh_repeat":
            failover.defaults.garpMasterRefreshRepeat = try garpCount(s)
        case "v3_checksum_as_v2":
            failover.defaults.v3ChecksumAsV2 = try flag(s)
        case "lvs_sync_daemon":
            try lvsSyncDaemon(s)
        case "switchyard_sync_auth_key":
            try syncAuthKey(s)
        default:
            return false
        }
        return true
    }

    /// `lvs_sync_daemon IF INSTANCE [id N] [maxlen N] [port P] [ttl T] [group ADDR]`, also
    /// keepalived's older `inst NAME` and a bare sync ID after the instance.
    mutating func lvsSyncDaemon(_ s: Statement) throws(ConfigDiagnostic) {
        noteFailover(s.keyword)
        let args = s.arguments
        guard args.count >= 2 else {
            throw error(s.keyword, "lvs_sync_daemon takes an interface and the vrrp_instance whose state decides "
                + "who sends: lvs_sync_daemon eth0 VI_1")
        }
        guard args[0].text.utf8.count < 16 else { throw error(args[0], "interface name \"\(args[0].text)\" is longer than 15 characters") }
        var instance: Token?
        var sync = SyncDaemonConfig(interface: args[0].text, instance: "", location: s.keyword.location)
        var index = 1
        while index < args.count {
            let option = args[index]
            let value = index + 1 < args.count ? args[index + 1] : nil
            switch option.text {
            case "inst", "id", "maxlen", "port", "ttl", "group":
                guard let value else { throw error(option, "lvs_sync_daemon \(option.text) needs a value after it") }
                switch option.text {
                case "inst":
                    if instance != nil { throw error(option, "lvs_sync_daemon names its vrrp_instance twice") }
                    instance = value
                case "id": sync.syncID = UInt8(try integer(value, "lvs_sync_daemon id", in: VRRPValues.syncID))
                case "maxlen": sync.maxLength = try integer(value, "lvs_sync_daemon maxlen", in: VRRPValues.syncMaxLength)
                case "port": sync.port = UInt16(try integer(value, "lvs_sync_daemon port", in: VRRPValues.syncPort))
                case "ttl": sync.ttl = UInt8(try integer(value, "lvs_sync_daemon ttl", in: VRRPValues.syncTTL))
                default:
                    guard let a = IPv4Address(value.text), a.value >> 28 == 0xE else {
                        if value.text.contains(":") { throw error(value, "IPv6 lvs_sync_daemon group \(value.text) is not supported yet") }
                        throw error(value, "lvs_sync_daemon group must be an IPv4 multicast address (224.0.0.0/4), not \"\(value.text)\"")
                    }
                    sync.group = a
                }
                index += 2
            default:
                // keepalived's older form: lvs_sync_daemon IF INSTANCE [SYNCID].
                if index == 1 && instance == nil {
                    instance = option
                } else if index == 2, let id = Int(option.text) {
                    sync.syncID = UInt8(try integer(option, "lvs_sync_daemon id", in: VRRPValues.syncID))
                    warn(option, "write `id \(id)` for the lvs_sync_daemon sync ID, as keepalived asks")
                } else {
                    throw error(option, "unknown lvs_sync_daemon option \"\(option.text)\"; expected id, maxlen, port, ttl or group")
                }
                index += 1
            }
        }
        guard let instance else {
            throw error(s.keyword, "lvs_sync_daemon needs the vrrp_instance whose state decides who sends: lvs_sync_daemon \(sync.interface) VI_1")
        }
        sync.instance = instance.text
        try setSyncDaemon(sync, instanceAt: instance.location, at: s.keyword)
    }

    /// `switchyard_sync_auth_key "SECRET"`: the key of the sync messages' HMAC-SHA256 envelope
    /// (Sync/SyncAuth.swift), kept until finishFailover hands it to the sync daemon.
    mutating func syncAuthKey(_ s: Statement) throws(ConfigDiagnostic) {
        let t = try single(s)
        if let first = failover.syncAuthKey {
            throw error(s.keyword, "switchyard_sync_auth_key is already set at line \(first.location.line)")
        }
        let key = Array(t.text.utf8)
        guard key.count >= SyncAuth.minimumKeyLength else {
            throw error(t, "switchyard_sync_auth_key must be at least \(SyncAuth.minimumKeyLength) characters, "
                + "not \(key.count); the same secret on both balancers, e.g. the output of `openssl rand -hex 16`")
        }
        failover.syncAuthKey = (key, s.keyword.location)
    }

    /// keepalived has one sync daemon: a second one is ignored with a warning.
    mutating func setSyncDaemon(_ sync: SyncDaemonConfig, instanceAt: SourceLocation, at t: Token) throws(ConfigDiagnostic) {
        if let first = config.failover.syncDaemon {
            warn(t, "lvs_sync_daemon is already set at line \(first.location.line) (\(first.interface) \(first.instance)); "
                + "this one is ignored, as keepalived")
            return
        }
        config.failover.syncDaemon = sync
        failover.syncDaemonInstance = instanceAt
    }
}
