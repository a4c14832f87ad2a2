// Which interfaces the engine runs on, and which of them each VIP and real server needs.
// Pure over the kernel's routes (passed in), so tests give it routes of their own.
import SwitchyardCore
import SwitchyardIO

/// The engine's interfaces, fixed at start: a frame's ingress/egress number indexes
/// `interfaces`. A reload that needs another interface is refused.
public struct InterfacePlan: Sendable {
    public let interfaces: [InterfaceInfo]
    /// `--interface`, if given: where every VIP is served.
    let given: String?
    let routes: [Route]
    let routes6: [Route6]
    /// Why IPv6 services cannot be forwarded by this engine (its receive path), if they cannot.
    let ipv6Refused: String?

    /// Resolves the interfaces a config needs: `given` (or each VIP's route) first, then each
    /// real and sorry server's on-link route. `lookup` reads an interface's facts (the kernel's
    /// in the daemon, made-up ones in tests).
    public init(config: Config, given: String?, routes: [Route], routes6: [Route6] = [], ipv6Refused: String? = nil,
                lookup: (String) throws -> InterfaceInfo = InterfaceInfo.lookup) throws {
        self.given = given
        self.routes = routes
        self.routes6 = routes6
        self.ipv6Refused = ipv6Refused
        try InterfacePlan.refuseUnforwardable(config, ipv6Refused)
        var names: [String] = []
        if let given { names.append(given) }
        for address in InterfacePlan.addressesNeeded(config) {
            let name = try InterfacePlan.interfaceName(for: address, vip: config.services.contains { $0.vip == address },
                                                       given: given, routes: routes, routes6: routes6)
            if !names.contains(name) { names.append(name) }
        }
        guard names.count <= Limits.maxInterfaces else {
            throw SetupError("\(names.count) interfaces needed; at most \(Limits.maxInterfaces) are supported")
        }
        self.interfaces = try names.map(lookup)
    }

    /// Refuses a config this engine cannot forward: more VIPs than the fanout program holds, or
    /// an IPv6 service when the engine cannot forward IPv6 (`reason`).
    static func refuseUnforwardable(_ config: Config, _ reason: String?) throws {
        if let tooMany = FanoutProgram.limitError(v4: config.vips.count, v6: config.vips6.count) {
            throw SetupError(tooMany)
        }
        guard let reason, let s = config.services.first(where: { !$0.vip.isV4 }) else { return }
        throw SetupError("\(s.name) (line \(s.location.line)): \(reason)")
    }

    /// VIPs first (their interface leads), then every real and sorry server; IPv4 before IPv6.
    static func addressesNeeded(_ config: Config) -> [IPAddressBits] {
        var table = ServiceTable()
        table.apply(config)
        return config.vips.map(IPAddressBits.init) + config.vips6 + table.reachableAddresses
    }

    /// The interface for an address: for a VIP, --interface or the kernel's route to it; for a
    /// real server, its on-link route (DR and NAT both need it on one of our segments).
    static func interfaceName(for address: IPAddressBits, vip: Bool, given: String?, routes: [Route],
                              routes6: [Route6]) throws -> String {
        if vip, let given { return given }
        // The route the kernel would take, and whether it goes through a gateway.
        let route: (interface: String, onLink: Bool)?
        if let v4 = address.ipv4 {
            route = Route.best(to: v4, in: routes).map { ($0.interface, $0.gateway == 0) }
        } else {
            route = Route6.best(to: address, in: routes6).map { ($0.interface, $0.gateway == nil) }
        }
        if vip {
            guard let route else {
                throw SetupError("no route to VIP \(address): cannot tell which interface its clients come from; give --interface")
            }
            return route.interface
        }
        guard let route, route.onLink else {
            throw SetupError("real server \(address) is not on a segment of this machine (the kernel routes it through "
                + "a gateway, or not at all); real servers must be reachable without a router")
        }
        return route.interface
    }

    /// The engine's number for the interface an address needs, or an error if it is not one of
    /// the interfaces the engine started on.
    func number(for address: IPAddressBits, vip: Bool) throws -> Int {
        let name = try InterfacePlan.interfaceName(for: address, vip: vip, given: given, routes: routes, routes6: routes6)
        guard let i = interfaces.firstIndex(where: { $0.name == name }) else {
            throw SetupError("\(address) needs interface \(name), which this engine was not started on; restart it")
        }
        return i
    }

    /// A real server's interface number (0 when it has none: such a server was refused at
    /// start or reload, so this is only a fallback).
    func realInterface(_ address: IPAddressBits) -> Int { (try? number(for: address, vip: false)) ?? 0 }

    /// Throws if a config needs an interface this engine was not started on (a reload's check).
    func admits(_ config: Config) throws {
        try InterfacePlan.refuseUnforwardable(config, ipv6Refused)
        for a in InterfacePlan.addressesNeeded(config) {
            _ = try number(for: a, vip: config.services.contains { $0.vip == a })
        }
    }
}
