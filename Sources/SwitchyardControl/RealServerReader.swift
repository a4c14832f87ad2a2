// Reading real_server blocks, and settling a service's real servers as keepalived does
// (validate_check_config in check_data.c): the service's port where none is given or DR cannot
// map it, a duplicate dropped, one forwarding method for them all, and a real server whose only
// checkers Switchyard has not built held down.
import SwitchyardCore

/// What a real server takes from its virtual_server.
struct ServiceDefaults {
    /// The service's address: its real servers are of its family.
    var vip: IPAddressBits
    var port: UInt16
    /// The service's lb_kind, if it has one.
    var method: ForwardingMethod?
    var timing: CheckTiming
    var inhibit: Bool
    /// The virtual_server's `weight`: the default of its real servers (vs_weight_handler).
    var weight: Int
    /// The virtual_server's `virtualhost`: the Host header of its HTTP_GET checkers that set none.
    var virtualHost: String?
    /// ipvsadm's name of the service, for messages.
    var name: String
}

/// A real server as read, before its service settles it.
struct ReadRealServer {
    var config: RealServerConfig
    /// The real server's own lvs_method, and where it stands.
    var method: ForwardingMethod?
    var methodToken: Token?
    /// Checkers keepalived has and Switchyard has not built.
    var unbuiltCheckers: [Token] = []
}

extension ConfigReader {
    /// `real_server IP [PORT] { … }`: with no port, or port 0, the service's port (alloc_rs in
    /// check_data.c, and validate_check_config filling it in).
    mutating func realServer(_ s: Statement, service: ServiceDefaults) throws(ConfigDiagnostic) -> ReadRealServer {
        guard (1...2).contains(s.arguments.count) else {
            throw error(s.keyword, "real_server takes an address and a port: real_server 198.18.0.11 80 { … }")
        }
        let address = try serviceAddress(s.arguments[0], what: "real server address")
        guard address.isV4 == service.vip.isV4 else {
            throw familyError(s.arguments[0], address, of: "real server", vip: service.vip)
        }
        var port = service.port
        if s.arguments.count == 2, s.arguments[1].text.contains(where: { $0 != "0" }) {
            port = try self.port(s.arguments[1])
        }
        var real = RealServerConfig(address: address, port: port, weight: service.weight,
                                    inhibitOnFailure: service.inhibit, location: s.keyword.location)
        var read = ReadRealServer(config: real)
        var timing = service.timing
        var virtualHost = service.virtualHost
        let statements = s.children ?? []
        for c in statements {
            _ = try timingKeyword(c, into: &timing)
            if c.keyword.text == "virtualhost" { virtualHost = try text(c) }
        }
        for c in statements {
            let k = c.keyword.text
            if TimingKeyword.isOne(k) { continue }
            switch k {
            case "weight": real.weight = try integer(c, in: ServiceValues.weight)
            case "inhibit_on_failure": real.inhibitOnFailure = true
            case "notify_up": real.notifyUp = try notifyScript(c)
            case "notify_down": real.notifyDown = try notifyScript(c)
            case "virtualhost": continue
            case "lvs_method":
                read.method = try forwardingMethod(c)
                read.methodToken = c.arguments.first
            default:
                if Self.checkerKinds.contains(k) {
                    real.checkers += try checker(c, inherited: timing, virtualHost: virtualHost)
                } else if KeepalivedKeywords.unbuiltCheckers[k] != nil {
                    read.unbuiltCheckers.append(c.keyword)
                } else if !ignore(c, in: .realServer) {
                    throw error(c.keyword, "unknown keyword \"\(k)\" in real_server")
                }
            }
        }
        for t in read.unbuiltCheckers {
            let what = KeepalivedKeywords.unbuiltCheckers[t.text] ?? ""
            let outcome = real.checkers.isEmpty
                ? "real server \(address.withPort(port)) is held down (never up) until it has a checker Switchyard runs "
                    + "(TCP_CHECK, HTTP_GET, SSL_GET, PING_CHECK, MISC_CHECK, SMTP_CHECK, DNS_CHECK, UDP_CHECK or FILE_CHECK)"
                : "real server \(address.withPort(port))'s other checkers decide whether it is up"
            warn(t, "\(t.text) is not built in Switchyard (keepalived: checks \(what)); \(outcome)")
        }
        read.config = real
        return read
    }

    /// Settles a service's real servers as keepalived's validate_check_config does, and returns
    /// the one forwarding method they share and their configured weights' sum (held-down ones
    /// included, as keepalived counts them for the quorum). Switchyard's engine forwards a
    /// service by one method, so a real server's own lvs_method must agree with the others'.
    mutating func settleRealServers(_ reals: inout [ReadRealServer], service: ServiceDefaults, at t: Token)
        throws(ConfigDiagnostic) -> (method: ForwardingMethod, weightSum: Int) {
        // A real server with no method of its own takes the service's; with neither, NAT.
        if service.method == nil, reals.isEmpty || reals.contains(where: { $0.method == nil }) {
            warn(t, "\(service.name) has no lb_kind; NAT is used, as keepalived")
        }
        let fallback = service.method ?? .nat
        let agreed = reals.first.map { $0.method ?? fallback } ?? fallback
        for r in reals where (r.method ?? fallback) != agreed {
            let own = r.method ?? fallback
            throw error(r.methodToken ?? t,
                        "real server \(r.config.address.withPort(r.config.port)) is forwarded by \(own.name) but the first "
                        + "real server of \(service.name) by \(agreed.name); Switchyard forwards a service's real "
                        + "servers by one method: give them the same lvs_method, or put them in two services")
        }
        // DR cannot rewrite ports: keepalived and ipvsadm use the service's.
        if agreed == .dr {
            for i in reals.indices where reals[i].config.port != service.port {
                let r = reals[i].config
                warn(at: r.location,
                     "with DR real server \(r.address.withPort(r.port)) takes the service's port \(service.port), as keepalived "
                     + "and ipvsadm (DR does not rewrite ports); write \(service.port) or use NAT")
                reals[i].config.port = service.port
            }
        }
        // A duplicate is dropped, the first kept (keepalived: "real server … is duplicated").
        var seen: [String: Int] = [:]
        reals = reals.filter { r in
            let key = "\(r.config.address.withPort(r.config.port))"
            if let line = seen[key] {
                warn(at: r.config.location,
                     "real server \(key) is listed twice in \(service.name) (first at line \(line)); "
                     + "this one is dropped, as keepalived")
                return false
            }
            seen[key] = r.config.location.line
            return true
        }
        let weightSum = reals.reduce(0) { $0 + $1.config.weight }
        // Held down: out of the table, or kept at weight 0 with inhibit_on_failure, as keepalived
        // treats a real server that is down.
        reals = reals.compactMap { r in
            guard !r.unbuiltCheckers.isEmpty, r.config.checkers.isEmpty else { return r }
            guard r.config.inhibitOnFailure else { return nil }
            var held = r
            held.config.weight = 0
            return held
        }
        return (agreed, weightSum)
    }
}
