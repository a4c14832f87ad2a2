// Reading virtual_server and real_server blocks into services: scheduler, forwarding method,
// persistence, quorum and sorry server, and the timing defaults their checkers inherit.
import SwitchyardCore

extension ConfigReader {
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
