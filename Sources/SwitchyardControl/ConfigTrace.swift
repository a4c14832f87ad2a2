// What a config was read as, for `--log-level debug`: one line per global setting, service,
// real server, checker and VRRP instance, with the timing each checker ended up with after
// inheriting from its real_server and virtual_server. Answers "which delay_loop did this checker get?" without a
// debugger; built only while debug lines are on.
import SwitchyardCore

extension Config {
    func debugLines(path: String) -> [String] {
        let t = timeouts
        var lines = ["config \(path): \(services.count) virtual service(s), \(warnings.count) warning(s); "
            + "flow capacity \(flowCapacity), Maglev table size \(maglevTableSize), "
            + "timeouts tcp \(t.tcpEstablished / 1000) s, tcpfin \(t.tcpFin / 1000) s, udp \(t.udp / 1000) s"]
        for s in services {
            var text = "config \(path):\(s.location): \(s.name) \(s.scheduler.name) \(s.method.name), "
                + "\(s.reals.count) real server(s), quorum \(s.quorum) hysteresis \(s.hysteresis)"
            if s.persistenceTimeout > 0 {
                text += ", persistent \(s.persistenceTimeout) s mask \(s.persistenceGranularity ?? (s.vip.isV4 ? "255.255.255.255" : "128"))"
            }
            if let sorry = s.sorryServer { text += ", sorry server \(sorry.address.withPort(sorry.port))" }
            if s.alpha { text += ", alpha" }
            lines.append(text)
            for r in s.reals {
                lines.append("config \(path):\(r.location):   real server \(r.address.withPort(r.port)) weight \(r.weight)"
                    + (r.inhibitOnFailure ? ", inhibit_on_failure" : "")
                    + (r.checkers.isEmpty ? ", no checker (always up)" : ""))
                for c in r.checkers {
                    let target = c.connectIP.map { "\($0)" } ?? "\(r.address)"
                    let timing = c.timing
                    lines.append("config \(path):\(c.location):     \(c.kind.name) \(target):\(c.connectPort ?? r.port) "
                        + "delay_loop \(timing.delayLoop) s, connect_timeout \(timing.connectTimeout) s, "
                        + "retry \(timing.retry), delay_before_retry \(timing.delayBeforeRetry) s, "
                        + "warmup \(timing.warmup) s (down within \(timing.detectionBound) s)")
                }
            }
        }
        for i in failover.instances {
            lines.append("config \(path):\(i.location): vrrp_instance \(i.name) \(i.interface) vrid \(i.virtualRouterID) "
                + "priority \(i.priority) advert \(i.advertSeconds) s version \(i.version) \(i.initialState.rawValue), "
                + "\(i.virtualAddresses.count) address(es), \(i.unicastPeers.count) unicast peer(s)")
        }
        return lines
    }
}
