// `switchyard check`'s listing of the failover blocks, after the services: one line per VRRP
// instance in columns, its addresses, peers and tracking below it as `->` lines (the way -Ln
// lists real servers under a service), then sync groups and the sync daemon.
import SwitchyardCore

extension AdmRender {
    static func failover(_ f: FailoverConfig) -> String {
        guard !f.isEmpty else { return "" }
        var out = "VRRP Instance        Interface        VRID Prio Advert Ver State  Flags\n"
        for i in f.instances {
            var flags: [String] = []
            if !i.preempt { flags.append("nopreempt") }
            if i.preemptDelay > 0 { flags.append("preempt_delay \(VRRPValues.seconds(Int((i.preemptDelay * 1e6).rounded()), decimals: 6))") }
            if i.authPass != nil { flags.append("auth PASS") }
            if i.version == 3 && i.v3ChecksumAsV2 { flags.append("v3_checksum_as_v2") }
            var line = pad(i.name, 20) + " " + pad(i.interface, 16) + " " + pad("\(i.virtualRouterID)", 4) + " "
                + pad("\(i.priority)", 4) + " " + pad(VRRPValues.seconds(Int(i.advertInterval), decimals: 2) + "s", 6) + " "
                + pad("\(i.version)", 3) + " " + pad(i.initialState.rawValue, 6) + " " + flags.joined(separator: ", ")
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
            for a in i.virtualAddresses {
                out += "  -> vip \(a.address)/\(a.prefixLength)" + (a.device.map { " dev \($0)" } ?? "") + "\n"
            }
            for p in i.unicastPeers {
                out += "  -> peer \(p)" + (i.unicastSource.map { " from \($0)" } ?? "") + "\n"
            }
            for t in i.trackInterfaces { out += "  -> track interface \(tracked(t))\n" }
            for t in i.trackScripts { out += "  -> track script \(tracked(t))\n" }
        }
        for g in f.syncGroups { out += "sync group \(g.name): \(g.instances.joined(separator: " "))\n" }
        if let s = f.syncDaemon {
            out += "lvs_sync_daemon \(s.interface) \(s.instance) id \(s.syncID.map { "\($0)" } ?? "-") port \(s.port) "
                + "group \(s.group) ttl \(s.ttl)" + (s.maxLength.map { " maxlen \($0)" } ?? "")
                + (s.authKey == nil ? "" : " auth hmac-sha256") + "\n"
        }
        return out
    }

    static func tracked(_ t: VRRPInstanceConfig.Tracked) -> String {
        t.name + (t.weight.map { " weight \($0)" } ?? " (fault when down)")
    }
}
