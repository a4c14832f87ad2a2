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

    /// Resolves the interfaces a config needs: `given` (or each VIP's route) first, then each
    /// real and sorry server's on-link route. `lookup` reads an interface's facts (the kernel's
    /// in the daemon, made-up ones in tests).
    public init(config: Config, given: String?, routes: [Route],
                lookup: (String) throws -> InterfaceInfo = InterfaceInfo.lookup) throws {
        try InterfacePlan.refuseIPv6(config)
        var names: [String] = []
        if let given { names.append(given) }
        for address in InterfacePlan.addressesNeeded(config) {
            let name = try InterfacePlan.interfaceName(for: address, vip: config.vips.contains(address), given: given,
                                                       routes: routes)
            if !names.contains(name) { names.append(name) }
        }
        guard names.count <= Limits.maxInterfaces else {
            throw SetupError("\(names.count) interfaces needed; at most \(Limits.maxInterfaces) are supported")
        }
        self.interfaces = try names.map(lookup)
        self.given = given
        self.routes = routes
    }

    /// The config reader and adm take IPv6 services; the engine does not forward them yet.
    static func refuseIPv6(_ config: Config) throws {
        guard let s = config.services.first(where: { !$0.vip.isV4 }) else { return }
        throw SetupError("\(s.name) (line \(s.location.line)): IPv6 virtual servers are read and checked "
            + "(switchyard check lists them), but the engine does not forward IPv6 yet")
    }

    /// VIPs first (their interface leads), then every real and sorry server.
    static func addressesNeeded(_ config: Config) -> [IPv4Address] {
        var table = ServiceTable()
        table.apply(config)
        return config.vips + table.reachableAddresses
    }

    /// The interface for an address: for a VIP, --interface or the kernel's route to it; for a
    /// real server, its on-link route (DR and NAT both need it on one of our segments).
    static func interfaceName(for address: IPv4Address, vip: Bool, given: String?, routes: [Route]) throws -> String {
        if vip {
            if let given { return given }
            guard let route = Route.best(to: address, in: routes) else {
                throw SetupError("no route to VIP \(address): cannot tell which interface its clients come from; give --interface")
            }
            return route.interface
        }
        guard let route = Route.best(to: address, in: routes), route.gateway == 0 else {
            throw SetupError("real server \(address) is not on a segment of this machine (the kernel routes it through "
                + "a gateway, or not at all); real servers must be reachable without a router")
        }
        return route.interface
    }

    /// The engine's number for the interface an address needs, or an error if it is not one of
    /// the interfaces the engine started on.
    func number(for address: IPv4Address, vip: Bool) throws -> Int {
        let name = try InterfacePlan.interfaceName(for: address, vip: vip, given: given, routes: routes)
        guard let i = interfaces.firstIndex(where: { $0.name == name }) else {
            throw SetupError("\(address) needs interface \(name), which this engine was not started on; restart it")
        }
        return i
    }

    /// A real server's interface number (0 when it has none: such a server was refused at
    /// start or reload, so this is only a fallback).
    func realInterface(_ address: IPv4Address) -> Int { (try? number(for: address, vip: false)) ?? 0 }

    /// Throws if a config needs an interface this engine was not started on (a reload's check).
    func admits(_ config: Config) throws {
        try InterfacePlan.refuseIPv6(config)
        for a in InterfacePlan.addressesNeeded(config) { _ = try number(for: a, vip: config.vips.contains(a)) }
    }
}
