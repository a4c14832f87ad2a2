// Settling the failover blocks once the whole file is read, as keepalived's vrrp_complete_init
// and vrrp_complete_instance do: what an instance left unsaid (version, priority, state), the
// advert interval its version can carry, settings that contradict each other (keepalived drops
// them with a warning; so does this), and what refers across blocks (sync groups, the sync
// daemon's instance, duplicate VRIDs).
import SwitchyardCore

extension ConfigReader {
    mutating func finishFailover() throws(ConfigDiagnostic) {
        var instances: [VRRPInstanceConfig] = []
        for pending in failover.instances { instances.append(try complete(pending)) }
        try checkRouterIDs(instances)
        try resolveSyncGroups(&instances)
        config.failover.instances = instances
        if var sync = config.failover.syncDaemon {
            guard let owner = instances.first(where: { $0.name == sync.instance }) else {
                throw error(at: failover.syncDaemonInstance ?? sync.location,
                            "lvs_sync_daemon names vrrp_instance \(sync.instance), which is not defined")
            }
            if sync.syncID == nil { sync.syncID = owner.virtualRouterID }
            sync.authKey = failover.syncAuthKey?.key
            config.failover.syncDaemon = sync
        } else if let key = failover.syncAuthKey {
            throw error(at: key.location, "switchyard_sync_auth_key without lvs_sync_daemon: the key authenticates "
                + "connection sync; add e.g. `lvs_sync_daemon eth1 VI_1` to global_defs, or remove the key")
        }
        for script in config.failover.scripts where !failover.usedScripts.contains(script.name) {
            warn(at: script.location, "vrrp_script \(script.name) is not tracked by any vrrp_instance (keepalived drops it)")
        }
    }

    /// One instance as keepalived's vrrp_complete_instance leaves it.
    mutating func complete(_ p: FailoverReading.Instance) throws(ConfigDiagnostic) -> VRRPInstanceConfig {
        var c = p.config
        let name = c.name
        guard p.hasInterface else {
            throw error(at: c.location, "vrrp_instance \(name) has no interface; write e.g. `interface eth0` "
                + "(where its addresses are served and its adverts sent)")
        }
        guard p.hasRouterID else {
            throw error(at: c.location, "vrrp_instance \(name) has no virtual_router_id; write e.g. "
                + "`virtual_router_id 51` (1 to 255, the same on every balancer of the pair)")
        }
        c.version = p.version ?? failover.defaults.version ?? 2
        // keepalived applies global_defs' vrrp_version to IPv4 instances only.
        if c.isIPv6 { completeIPv6(&c, versionGiven: p.version) }
        for a in c.unicastPeers + (c.unicastSource.map { [$0] } ?? []) where a.isV4 == c.isIPv6 {
            throw error(at: c.location, "vrrp_instance \(name) is \(c.isIPv6 ? "IPv6" : "IPv4") but its unicast address \(a) "
                + "is not; an instance's adverts and addresses are of one family")
        }
        // keepalived: no priority → 255 if it says MASTER, else 100; no state → MASTER only for
        // the owner (priority 255).
        let owner = UInt8(VRRPValues.ownerPriority)
        c.priority = p.priority ?? (p.state == .master ? owner : 100)
        c.initialState = p.state ?? (c.priority == owner ? .master : .backup)
        c.advertInterval = advertCentiseconds(p.advertMicroseconds ?? 1_000_000, version: c.version, name: name, at: c.location)
        completeAuthentication(&c, typed: p.authTyped)
        if !c.preempt && c.priority == owner {
            warn(at: c.location, "vrrp_instance \(name): nopreempt does not work with priority 255; it is cleared, as keepalived")
            c.preempt = true
        }
        if c.initialState == .master {
            if !c.preempt {
                warn(at: c.location, "vrrp_instance \(name): nopreempt does not work with state MASTER; it is cleared, as keepalived")
                c.preempt = true
            }
            if c.preemptDelay > 0 {
                warn(at: c.location, "vrrp_instance \(name): preempt_delay does not work with state MASTER; it is cleared, as keepalived")
                c.preemptDelay = 0
            }
        }
        if c.preemptDelay > 0 && !c.preempt {
            warn(at: c.location, "vrrp_instance \(name): preempt_delay means nothing with nopreempt; it is cleared, as keepalived")
            c.preemptDelay = 0
        }
        return c
    }

    /// An IPv6 instance as keepalived completes one: version 3 (RFC 5798 defines no other over
    /// IPv6; keepalived forces it in strict mode, and we always do), and a word when its first
    /// address is not link-local.
    mutating func completeIPv6(_ c: inout VRRPInstanceConfig, versionGiven: UInt8?) {
        if c.version == 2 {
            if versionGiven == 2 {
                warn(at: c.location, "vrrp_instance \(c.name): VRRP version 2 cannot carry IPv6; version 3 is used "
                    + "(as keepalived does in strict mode). A keepalived peer outside strict mode sends version 2 over "
                    + "IPv6, which this box refuses: give the peer version 3 too")
            }
            c.version = 3
        }
        if c.unicastPeers.isEmpty, let first = c.virtualAddresses.first?.address, first.high >> 54 != 0xFE80 >> 6 {
            warn(at: c.location, "vrrp_instance \(c.name): the first IPv6 virtual_ipaddress should be link-local "
                + "(RFC 5798: the virtual router's own address, e.g. fe80::1/64 first), as keepalived says too")
        }
    }

    /// keepalived reads advert_int to the microsecond, then fits it to what the version carries:
    /// version 2 whole seconds (rounded half up, at least 1), version 3 centiseconds up to 40.95.
    mutating func advertCentiseconds(_ us: Int, version: UInt8, name: String, at location: SourceLocation) -> UInt16 {
        let given = VRRPValues.seconds(us, decimals: 6)
        if version == 2 {
            guard us % 1_000_000 != 0 else { return UInt16(us / 10_000) }
            let seconds = max((us + 500_000) / 1_000_000, 1)
            warn(at: location, "vrrp_instance \(name): VRRP version 2 adverts carry whole seconds; advert_int \(given) "
                + "is rounded to \(seconds), as keepalived (use version 3 for sub-second adverts)")
            return UInt16(seconds * 100)
        }
        if us / 10_000 > VRRPValues.advertMaxV3Centiseconds {
            warn(at: location, "vrrp_instance \(name): VRRP version 3 adverts carry at most 40.95 s; advert_int \(given) "
                + "is made 40.95, as keepalived")
            return UInt16(VRRPValues.advertMaxV3Centiseconds)
        }
        guard us % 10_000 != 0 else { return UInt16(us / 10_000) }
        let cs = min(max((us + 5_000) / 10_000, 1), VRRPValues.advertMaxV3Centiseconds)
        warn(at: location, "vrrp_instance \(name): VRRP version 3 counts advert_int in hundredths of a second; \(given) "
            + "is rounded to \(VRRPValues.seconds(cs, decimals: 2)), as keepalived")
        return UInt16(cs)
    }

    /// keepalived's rules: no authentication in version 3, and none without both a type and a
    /// password; each is dropped with a warning.
    mutating func completeAuthentication(_ c: inout VRRPInstanceConfig, typed: Bool) {
        guard typed || c.authPass != nil else { return }
        let name = c.name
        if c.version == 3 {
            warn(at: c.location, "vrrp_instance \(name): VRRP version 3 has no authentication; it is ignored, as keepalived")
        } else if !typed {
            warn(at: c.location, "vrrp_instance \(name): auth_pass without auth_type authenticates nothing; it is ignored, as keepalived")
        } else if c.authPass == nil || c.authPass == "" {
            warn(at: c.location, "vrrp_instance \(name): authentication without auth_pass is ignored, as keepalived")
        } else {
            return
        }
        c.authPass = nil
    }

    /// Two instances may not share a VRID on one interface: multicast ones all hear each other;
    /// unicast ones collide when they also share a peer (keepalived's check_vrid_conflicts).
    func checkRouterIDs(_ instances: [VRRPInstanceConfig]) throws(ConfigDiagnostic) {
        for (index, b) in instances.enumerated() {
            // IPv4 and IPv6 instances number their routers apart (RFC 5798 §5.2.3): one of each may share a VRID.
            for a in instances[..<index] where a.virtualRouterID == b.virtualRouterID && a.interface == b.interface
                && a.isIPv6 == b.isIPv6 {
                let unicast = !a.unicastPeers.isEmpty
                guard unicast == !b.unicastPeers.isEmpty else { continue }
                if unicast && (a.unicastSource != b.unicastSource || Set(a.unicastPeers).isDisjoint(with: b.unicastPeers)) {
                    continue
                }
                throw error(at: b.location, "vrrp_instance \(b.name) uses virtual_router_id \(b.virtualRouterID) on "
                    + "\(b.interface), as vrrp_instance \(a.name) at line \(a.location.line) does; each needs its own")
            }
        }
    }

    /// Every member a known instance in one group only. keepalived also starts a whole group
    /// as BACKUP when any member would start as BACKUP or is not the address owner.
    mutating func resolveSyncGroups(_ instances: inout [VRRPInstanceConfig]) throws(ConfigDiagnostic) {
        var groupOf: [String: String] = [:]
        for (group, members) in zip(config.failover.syncGroups, failover.groupMembers) {
            var indices: [Int] = []
            for m in members {
                guard let i = instances.firstIndex(where: { $0.name == m.name }) else {
                    throw error(at: m.location, "vrrp_sync_group \(group.name) names vrrp_instance \(m.name), which is not defined")
                }
                if let other = groupOf[m.name] {
                    throw error(at: m.location, other == group.name
                        ? "vrrp_sync_group \(group.name) lists vrrp_instance \(m.name) twice"
                        : "vrrp_instance \(m.name) is already in vrrp_sync_group \(other); an instance can be in one sync group only")
                }
                groupOf[m.name] = group.name
                indices.append(i)
            }
            if indices.count == 1 {
                warn(at: group.location, "vrrp_sync_group \(group.name) has only one instance; this probably isn't what you want")
            }
            let owner = UInt8(VRRPValues.ownerPriority)
            let someMaster = indices.contains { instances[$0].initialState == .master }
            let someBackup = indices.contains { instances[$0].initialState == .backup || instances[$0].priority != owner }
            if someMaster && someBackup {
                warn(at: group.location, "vrrp_sync_group \(group.name): its instances start as BACKUP, as keepalived "
                    + "starts a group as MASTER only when every member says MASTER with priority 255")
                for i in indices { instances[i].initialState = .backup }
            }
        }
    }
}
