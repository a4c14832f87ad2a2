// Every VRRP machine of one config behind one door, for the socket and timer layer: standalone
// instances and sync groups built from FailoverConfig, adverts routed to the instance they are
// for (interface and VRID), everything else handed to all. Still pure and on the caller's clock.
import SwitchyardCore

/// How the glue drives it: build it from the config; send `.start`; after every `receive` or
/// `handle`, perform the actions in order and arm one timer for `nextDeadline`; when it fires,
/// `handle(.timer, at: now)`. Interface link changes and raw vrrp_script results go in as events;
/// `.shutdown` on exit (a master sends priority 0 first).
public struct VRRPRouter: Sendable {
    public enum Action: Sendable, Equatable {
        /// An instance's action (send an advert, serve or drop its VIPs, gratuitous ARPs, notify).
        case instance(String, VRRPInstance.Action)
        case groupTransition(String, from: VRRPInstance.State, to: VRRPInstance.State)
        /// Run a sync group's notify scripts (`VRRPNotify.commands(for: group, …)`).
        case groupNotify(String, VRRPInstance.State)
    }

    private enum Unit: Sendable {
        case single(VRRPInstance)
        case group(VRRPSyncGroup)

        var instances: [VRRPInstance] {
            switch self {
            case .single(let i): [i]
            case .group(let g): g.members
            }
        }
    }

    private var units: [Unit]

    /// `localAddress` gives each instance its primary address (unicast_src_ip, else the
    /// interface's). An instance named in a sync group joins it; a name no instance has is
    /// skipped (the config reader reports it).
    public init(config: FailoverConfig, options: VRRPInstance.Options = VRRPInstance.Options(),
                localAddress: (VRRPInstanceConfig) -> IPAddressBits) {
        var machines: [String: VRRPInstance] = [:]
        for c in config.instances {
            machines[c.name] = VRRPInstance(config: c, scripts: config.scripts, localAddress: localAddress(c), options: options)
        }
        var units: [Unit] = []
        var grouped: Set<String> = []
        for g in config.syncGroups {
            let members = g.instances.filter { !grouped.contains($0) }.compactMap { machines[$0] }
            guard !members.isEmpty else { continue }
            grouped.formUnion(members.map(\.config.name))
            units.append(.group(VRRPSyncGroup(config: g, members: members)))
        }
        for c in config.instances where !grouped.contains(c.name) { units.append(.single(machines[c.name]!)) }
        self.units = units
    }

    public var instances: [VRRPInstance] { units.flatMap(\.instances) }

    public func instance(_ name: String) -> VRRPInstance? { instances.first { $0.config.name == name } }

    public var nextDeadline: Double? {
        units.compactMap { unit in
            switch unit {
            case .single(let i): i.nextDeadline
            case .group(let g): g.nextDeadline
            }
        }.min()
    }

    /// An event for every machine (start, timer, interface, script result, shutdown).
    public mutating func handle(_ event: VRRPInstance.Event, at now: Double) -> [Action] {
        var out: [Action] = []
        for u in units.indices { out += handle(event, member: nil, unit: u, now) }
        return out
    }

    /// A checked advert that arrived on `interface` for `virtualRouterID`; nothing if no
    /// instance there uses that VRID.
    public mutating func receive(_ advert: ReceivedAdvert, interface: String, virtualRouterID: UInt8, ipv6: Bool = false,
                                 at now: Double) -> [Action] {
        for u in units.indices {
            // An IPv4 and an IPv6 instance may share a VRID on one interface: the family tells them apart.
            if let target = units[u].instances.first(where: {
                $0.config.interface == interface && $0.config.virtualRouterID == virtualRouterID && $0.config.isIPv6 == ipv6
            }) {
                return handle(.advert(advert), member: target.config.name, unit: u, now)
            }
        }
        return []
    }

    private mutating func handle(_ event: VRRPInstance.Event, member: String?, unit u: Int, _ now: Double) -> [Action] {
        switch units[u] {
        case .single(var i):
            let actions = i.handle(event, at: now)
            units[u] = .single(i)
            return actions.map { .instance(i.config.name, $0) }
        case .group(var g):
            let actions = g.handle(event, member: member, at: now)
            units[u] = .group(g)
            return actions.map { action in
                switch action {
                case .member(let name, let a): .instance(name, a)
                case .transition(let from, let to): .groupTransition(g.config.name, from: from, to: to)
                case .notify(let state): .groupNotify(g.config.name, state)
                }
            }
        }
    }
}
