// The status page's data model (/status.json): services, real servers, the engine, VRRP and
// the recent actions, as plain values with snake_case keys once encoded. Absent values are
// written as null, so a page can tell "none" from "not sent".

/// What the status page and /status.json show.
public struct StatusModel: Sendable, Equatable, Encodable {
    public struct Rates: Sendable, Equatable, Encodable {
        public var connectionsPerSecond = 0.0
        public var incomingPacketsPerSecond = 0.0
        public var outgoingPacketsPerSecond = 0.0
        public var incomingBytesPerSecond = 0.0
        public var outgoingBytesPerSecond = 0.0
    }

    /// A checker's last finished check of a real server.
    public struct Check: Sendable, Equatable, Encodable {
        /// "success" or "failure".
        public var result: String
        public var reason: String
        public var durationMs: Double
        /// Unix seconds.
        public var at: Double
    }

    public struct RealServer: Sendable, Equatable, Encodable {
        /// "198.18.0.2:80", as the actions name it.
        public var id: String
        public var address: String
        public var port: Int
        /// "up", "drain" (up with weight 0) or "down".
        public var state: String
        /// The config file's weight, the weight in force (adm -e, a MISC_CHECK's), and what new
        /// flows see now (0 while down or while its MAC is unknown).
        public var weightConfigured: Int
        public var weight: Int
        public var weightEffective: Int
        public var active: Int
        public var inactive: Int
        public var connectionsTotal: UInt64
        public var incomingBytesTotal: UInt64
        public var outgoingBytesTotal: UInt64
        public var rates: Rates
        public var lastCheck: Check?
        /// Unix seconds of the last change of state (health or weight) since the start.
        public var lastChange: Double?
        /// What a drain would leave: "VS TCP 198.18.0.100:80 keeps 1 of 3 servers up".
        public var drainPreview: String

        enum CodingKeys: CodingKey {
            case id, address, port, state, weightConfigured, weight, weightEffective, active, inactive
            case connectionsTotal, incomingBytesTotal, outgoingBytesTotal, rates, lastCheck, lastChange, drainPreview
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(address, forKey: .address)
            try c.encode(port, forKey: .port)
            try c.encode(state, forKey: .state)
            try c.encode(weightConfigured, forKey: .weightConfigured)
            try c.encode(weight, forKey: .weight)
            try c.encode(weightEffective, forKey: .weightEffective)
            try c.encode(active, forKey: .active)
            try c.encode(inactive, forKey: .inactive)
            try c.encode(connectionsTotal, forKey: .connectionsTotal)
            try c.encode(incomingBytesTotal, forKey: .incomingBytesTotal)
            try c.encode(outgoingBytesTotal, forKey: .outgoingBytesTotal)
            try c.encode(rates, forKey: .rates)
            // encode, not encodeIfPresent: nil is written as null.
            try c.encode(lastCheck, forKey: .lastCheck)
            try c.encode(lastChange, forKey: .lastChange)
            try c.encode(drainPreview, forKey: .drainPreview)
        }
    }

    /// A service's sorry server: answering while the service has lost its quorum.
    public struct SorryServer: Sendable, Equatable, Encodable {
        public var id: String
        public var serving: Bool
    }

    public struct Service: Sendable, Equatable, Encodable {
        /// "TCP 198.18.0.100:80", ipvsadm's way of naming it.
        public var id: String
        public var `protocol`: String
        public var address: String
        public var port: Int
        public var scheduler: String
        /// "dr" or "nat".
        public var forwarding: String
        /// "up" while some real server takes new flows, else "down".
        public var state: String
        public var serversUp: Int
        public var serversTotal: Int
        public var connectionsTotal: UInt64
        public var active: Int
        public var inactive: Int
        public var rates: Rates
        public var realServers: [RealServer]
        /// null without a sorry_server.
        public var sorryServer: SorryServer? = nil

        enum CodingKeys: CodingKey {
            case id, `protocol`, address, port, scheduler, forwarding, state, serversUp, serversTotal
            case connectionsTotal, active, inactive, rates, realServers, sorryServer
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(`protocol`, forKey: .protocol)
            try c.encode(address, forKey: .address)
            try c.encode(port, forKey: .port)
            try c.encode(scheduler, forKey: .scheduler)
            try c.encode(forwarding, forKey: .forwarding)
            try c.encode(state, forKey: .state)
            try c.encode(serversUp, forKey: .serversUp)
            try c.encode(serversTotal, forKey: .serversTotal)
            try c.encode(connectionsTotal, forKey: .connectionsTotal)
            try c.encode(active, forKey: .active)
            try c.encode(inactive, forKey: .inactive)
            try c.encode(rates, forKey: .rates)
            try c.encode(realServers, forKey: .realServers)
            try c.encode(sorryServer, forKey: .sorryServer)
        }
    }

    public struct Engine: Sendable, Equatable, Encodable {
        public var flowTableEntries = 0
        public var flowTableCapacity = 0
        public var packetsDroppedTotal: UInt64 = 0
        public var configLastReloadSuccessful = true
    }

    public struct VRRP: Sendable, Equatable, Encodable {
        public var instance: String
        public var state: String
        public var priority: Int
    }

    public struct User: Sendable, Equatable, Encodable {
        public var name: String
        public var role: String
        public init(name: String, role: String) {
            self.name = name
            self.role = role
        }
    }

    /// One action taken from the page.
    public struct Action: Sendable, Equatable, Encodable {
        public var at: Double
        public var user: String
        public var action: String
        public var ok: Bool
        public var message: String
        public init(at: Double, user: String, action: String, ok: Bool, message: String) {
            self.at = at
            self.user = user
            self.action = action
            self.ok = ok
            self.message = message
        }
    }

    public var version = ""
    public var host = ""
    public var generatedAt = 0.0
    public var refreshSeconds = 2
    /// Who asked (the web side fills it in).
    public var user: User?
    public var engine = Engine()
    public var vrrp: [VRRP] = []
    public var services: [Service] = []
    public var actions: [Action] = []

    public init() {}

    enum CodingKeys: CodingKey {
        case version, host, generatedAt, refreshSeconds, user, engine, vrrp, services, actions
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(host, forKey: .host)
        try c.encode(generatedAt, forKey: .generatedAt)
        try c.encode(refreshSeconds, forKey: .refreshSeconds)
        try c.encode(user, forKey: .user)
        try c.encode(engine, forKey: .engine)
        try c.encode(vrrp, forKey: .vrrp)
        try c.encode(services, forKey: .services)
        try c.encode(actions, forKey: .actions)
    }

    /// The real server `real` ("198.18.0.2:80") of service `service` ("TCP 198.18.0.100:80").
    public func realServer(_ real: String, of service: String) -> RealServer? {
        services.first { $0.id == service }?.realServers.first { $0.id == real }
    }
}
