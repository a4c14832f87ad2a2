// Reading virtual_server blocks into services: scheduler, forwarding method, persistence, quorum
// and sorry server, and the timing defaults their checkers inherit, with keepalived's defaults
// where a keyword is missing. Real servers are RealServerReader.swift's.
import SwitchyardCore

extension ConfigReader {
    mutating func virtualServer(_ s: Statement) throws(ConfigDiagnostic) {
        // keepalived's other two forms (vs_handler, check_parser.c) select packets Switchyard's
        // services cannot: by firewall mark, or by a virtual_server_group's many addresses.
        if let first = s.arguments.first, first.text == "fwmark" {
            throw error(first, "virtual_server fwmark is not supported yet: Switchyard matches a service by address, "
                + "protocol and port, not by firewall mark; write one virtual_server per address and port the mark covers")
        }
        if let first = s.arguments.first, first.text == "group" {
            throw error(first, "virtual_server group is not supported yet: write one virtual_server per address and port "
                + "of the virtual_server_group, with the same real servers")
        }
        guard (1...2).contains(s.arguments.count) else {
            throw error(s.keyword, "virtual_server takes an address and a port: virtual_server 198.18.0.100 80 { … }")
        }
        let vip = try serviceAddress(s.arguments[0], what: "virtual server address")
        // keepalived reads a missing port or port 0 as "every port", which IPVS allows only with
        // persistence (alloc_vs and validate_check_config in check_data.c).
        guard s.arguments.count == 2, s.arguments[1].text.contains(where: { $0 != "0" }) else {
            throw error(s.arguments.count == 2 ? s.arguments[1] : s.keyword,
                        "virtual_server \(vip) with no port (or port 0) would serve every port of the address, with "
                        + "persistence; Switchyard's services are one port each: write one virtual_server per port")
        }
        let vport = try port(s.arguments[1])
        var scheduler: SchedulerKind?
        var method: ForwardingMethod?
        var proto = IPProtocol.tcp
        var delayLoop = 60
        var persistenceTimeout = 0
        var persistenceMask: UInt32?
        var persistencePrefix: Int?
        var realStatements: [Statement] = []
        var sorry: SorryServerConfig?
        var sorryAt: SourceLocation?
        var virtualHost: String?
        var quorum = 1
        var hysteresis = 0
        var quorumUp: ScriptUse?
        var quorumDown: ScriptUse?
        var alpha = false
        var inhibit = false
        var weight = 1
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
                guard (1...2).contains(c.arguments.count) else {
                    throw error(c.keyword, "sorry_server takes an address and a port: sorry_server 198.18.0.99 80")
                }
                // As a real server's: no port, or 0, is the service's (alloc_ssvr, check_data.c).
                let given = c.arguments.count == 2 && c.arguments[1].text.contains(where: { $0 != "0" })
                let address = try serviceAddress(c.arguments[0], what: "sorry server address")
                guard address.isV4 == vip.isV4 else { throw familyError(c.arguments[0], address, of: "sorry server", vip: vip) }
                sorry = SorryServerConfig(address: address, port: given ? try port(c.arguments[1]) : vport)
                sorryAt = c.keyword.location
            case "virtualhost": virtualHost = try text(c)
            case "ip_family":
                // The address says the family; ip_family may only agree (ip_family_handler).
                let t = try single(c)
                switch t.text {
                case "inet", "inet6":
                    guard (t.text == "inet") == vip.isV4 else {
                        throw error(t, "ip_family \(t.text) does not match the virtual server's address \(vip)")
                    }
                default: throw error(t, "unknown ip_family \"\(t.text)\"; expected inet or inet6")
                }
            case "quorum": quorum = try integer(c, in: 0...1_000_000)
            case "hysteresis": hysteresis = try integer(c, in: 0...1_000_000)
            case "quorum_up": quorumUp = try notifyScript(c)
            case "quorum_down": quorumDown = try notifyScript(c)
            case "alpha": alpha = true
            case "inhibit_on_failure": inhibit = true
            case "weight": weight = try integer(c, in: ServiceValues.weight)
            default: break
            }
        }
        for c in statements {
            let k = c.keyword.text
            if TimingKeyword.isOne(k) { continue }
            switch k {
            case "sorry_server", "quorum", "hysteresis", "quorum_up", "quorum_down", "alpha", "inhibit_on_failure", "weight",
                 "virtualhost", "ip_family":
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
                method = try forwardingMethod(c)
            case "protocol":
                let t = try single(c)
                switch t.text.uppercased() {
                case "TCP": proto = IPProtocol.tcp
                case "UDP": proto = IPProtocol.udp
                case "SCTP": throw error(t, "protocol SCTP is not supported yet; expected TCP or UDP")
                default: throw error(t, "unknown protocol \"\(t.text)\"; expected TCP or UDP")
                }
            case "persistence_timeout":
                // With no value keepalived uses IPVS's default, 300 s (pto_handler, check_parser.c).
                persistenceTimeout = c.arguments.isEmpty && c.children == nil
                    ? ServiceValues.defaultPersistenceTimeout
                    : try integer(c, in: ServiceValues.persistenceTimeout)
            case "persistence_granularity":
                let t = try single(c)
                guard vip.isV4 else {
                    guard let length = Int(t.text), (1...128).contains(length) else {
                        throw error(t, "persistence_granularity of an IPv6 virtual_server is a prefix length from 1 to 128, "
                            + "not \"\(t.text)\"")
                    }
                    persistencePrefix = length
                    continue
                }
                guard let mask = ServiceValues.netmask(t.text) else {
                    throw error(t, "persistence_granularity must be a netmask such as 255.255.255.0, not \"\(t.text)\"")
                }
                persistenceMask = mask
            case "real_server":
                realStatements.append(c)
            default:
                guard ignore(c, in: .virtualServer) else {
                    throw error(c.keyword, "unknown keyword \"\(k)\" in virtual_server")
                }
            }
        }
        let name = "\(proto == IPProtocol.udp ? "UDP" : "TCP") \(vip.withPort(vport))"
        // keepalived's defaults for what is missing (validate_check_config, check_data.c):
        // scheduler wlc (IPVS_DEF_SCHED), quietly; forwarding method NAT, with a warning
        // (settleRealServers), since DR or NAT is a choice of topology.
        // persistence_granularity alone turns persistence on for 300 s (pgr_handler, check_parser.c).
        if (persistenceMask != nil || persistencePrefix != nil) && persistenceTimeout == 0 {
            persistenceTimeout = ServiceValues.defaultPersistenceTimeout
        }
        let serviceDefaults = ServiceDefaults(vip: vip, port: vport, method: method, timing: timing, inhibit: inhibit, weight: weight,
                                             virtualHost: virtualHost, name: name)
        var reals: [ReadRealServer] = []
        for c in realStatements { reals.append(try realServer(c, service: serviceDefaults)) }
        let (agreed, weightSum) = try settleRealServers(&reals, service: serviceDefaults, at: s.keyword)
        if agreed == .dr, let at = sorryAt, let port = sorry?.port, port != vport {
            warn(at: at, "with DR the sorry server takes the service's port \(vport), not \(port), as keepalived "
                + "(DR does not rewrite ports)")
            sorry?.port = vport
        }
        // keepalived lowers a quorum the real servers' weights can never reach, and a
        // hysteresis not below the quorum (validate_check_config, check_data.c). It drops a
        // service with no real servers before that; Switchyard keeps it (adm may add some).
        if !realStatements.isEmpty && quorum > weightSum {
            warn(s.keyword, "quorum \(quorum) of \(name) exceeds the real servers' total weight \(weightSum); "
                + "\(weightSum) is used, as keepalived")
            quorum = weightSum
        }
        if !realStatements.isEmpty && hysteresis > 0 && hysteresis >= quorum {
            let lowered = max(quorum - 1, 0)
            warn(s.keyword, "hysteresis \(hysteresis) of \(name) is not below its quorum \(quorum); \(lowered) is used, "
                + "as keepalived")
            hysteresis = lowered
        }
        let service = VirtualServiceConfig(proto: proto, vip: vip, port: vport, scheduler: scheduler ?? .weightedLeastConnection,
                                           method: agreed, delayLoop: delayLoop, persistenceTimeout: persistenceTimeout,
                                           persistenceMask: persistenceMask ?? 0xFFFF_FFFF, reals: reals.map(\.config),
                                           sorryServer: sorry, quorum: quorum, hysteresis: hysteresis, quorumUp: quorumUp,
                                           quorumDown: quorumDown, alpha: alpha, location: s.keyword.location,
                                           persistencePrefixLength: persistencePrefix ?? 128)
        if let other = config.services.first(where: { $0.proto == proto && $0.vip == vip && $0.port == vport }) {
            throw error(s.keyword, "\(service.name) is already defined at line \(other.location.line)")
        }
        config.services.append(service)
    }

    /// A real or sorry server of the other family than its service's: NAT and DR keep the
    /// family (IPVS mixes families only for tunnelling).
    func familyError(_ t: Token, _ address: IPAddressBits, of what: String, vip: IPAddressBits) -> ConfigDiagnostic {
        func family(_ a: IPAddressBits) -> String { a.isV4 ? "IPv4" : "IPv6" }
        return error(t, "\(what) \(address) is \(family(address)) but virtual server \(vip) is \(family(vip)): "
            + "DR and NAT keep the address family")
    }

    /// `lb_kind`/`lvs_method` on a virtual_server or a real_server: DR or NAT.
    func forwardingMethod(_ s: Statement) throws(ConfigDiagnostic) -> ForwardingMethod {
        let k = s.keyword.text
        guard let t = s.arguments.first, s.children == nil else { throw error(s.keyword, "\(k) takes DR or NAT") }
        switch t.text.uppercased() {
        case "DR": return .dr
        case "NAT": return .nat
        case "TUN":
            throw error(t, "\(k) TUN is not supported yet (this kernel has no IPIP to test it); expected DR or NAT")
        default:
            throw error(t, "unknown \(k) \"\(t.text)\"; expected DR or NAT")
        }
    }
}
