// A parsed, checked configuration: the types the rest of the control plane reads (services,
// real servers, global settings) and the two ways in, text and file. Reading the statements is
// ConfigReader's job, the grammar ConfigSyntax's.
import SwitchyardCore

/// A real server as configured.
public struct RealServerConfig: Sendable, Equatable {
    /// IPv4 or IPv6, the service's family.
    public var address: IPAddressBits
    public var port: UInt16
    public var weight: Int
    /// On failure keep it listed with weight 0 instead of removing it (inhibit_on_failure).
    public var inhibitOnFailure: Bool = false
    /// Scripts run on a health transition (notify_up, notify_down).
    public var notifyUp: ScriptUse?
    public var notifyDown: ScriptUse?
    /// Health checkers; none means always up.
    public var checkers: [CheckerConfig] = []
    public var location: SourceLocation

    public init(address: IPAddressBits, port: UInt16, weight: Int, inhibitOnFailure: Bool = false, notifyUp: ScriptUse? = nil,
                notifyDown: ScriptUse? = nil, checkers: [CheckerConfig] = [], location: SourceLocation) {
        self.address = address
        self.port = port
        self.weight = weight
        self.inhibitOnFailure = inhibitOnFailure
        self.notifyUp = notifyUp
        self.notifyDown = notifyDown
        self.checkers = checkers
        self.location = location
    }
}

/// A virtual service as configured; identified by (protocol, VIP, port).
public struct VirtualServiceConfig: Sendable, Equatable {
    public var proto: UInt8
    /// IPv4 or IPv6 (its real servers and sorry server are of the same family).
    public var vip: IPAddressBits
    public var port: UInt16
    public var scheduler: SchedulerKind
    public var method: ForwardingMethod
    public var delayLoop: Int
    /// persistence_timeout in seconds (0: none) and persistence_granularity: an IPv4 service's
    /// as a netmask, an IPv6 service's as a prefix length (`persistencePrefixLength`).
    public var persistenceTimeout: Int
    public var persistenceMask: UInt32
    public var reals: [RealServerConfig]
    /// Used while the alive real servers' weights add up to less than the quorum.
    public var sorryServer: SorryServerConfig?
    /// keepalived's quorum (default 1) and hysteresis, and the scripts run when it is gained or lost.
    public var quorum: Int = 1
    public var hysteresis: Int = 0
    public var quorumUp: ScriptUse?
    public var quorumDown: ScriptUse?
    /// alpha: real servers with checkers start down and come up on their first success.
    public var alpha: Bool = false
    public var location: SourceLocation
    /// An IPv6 service's persistence_granularity, 1 to 128 (keepalived's pgr_handler).
    public var persistencePrefixLength: Int = 128

    /// Sets the persistence granularity from adm's -M value: a netmask for an IPv4 service, a
    /// prefix length for an IPv6 one (0xFFFFFFFF: the whole address).
    public mutating func setPersistenceGranularity(_ mask: UInt32) {
        if vip.isV4 { persistenceMask = mask } else { persistencePrefixLength = mask > 128 ? 128 : Int(mask) }
    }

    /// The persistence granularity as ipvsadm prints it (a netmask, or an IPv6 prefix length),
    /// or nil for the whole client address.
    public var persistenceGranularity: String? {
        if vip.isV4 { return persistenceMask == .max ? nil : "\(IPv4Address(persistenceMask))" }
        return persistencePrefixLength == 128 ? nil : "\(persistencePrefixLength)"
    }

    public var protocolName: String { proto == IPProtocol.udp ? "UDP" : "TCP" }
    /// ipvsadm's way of naming a service: TCP 198.18.0.100:80, TCP [2001:db8::100]:80.
    public var name: String { "\(protocolName) \(vip.withPort(port))" }
}

/// A parsed, checked configuration.
public struct Config: Sendable, Equatable {
    public var services: [VirtualServiceConfig] = []
    /// The key of the scheduling hash (global_defs `switchyard_hash_key`).
    public var schedulingKey: HashKey = .defaultScheduling
    /// Flows tracked at most, over all workers (global_defs `switchyard_flow_capacity`).
    public var flowCapacity: Int = 1 << 20
    /// Entries in each Maglev table; prime (global_defs `switchyard_maglev_table_size`).
    public var maglevTableSize: Int = Maglev.defaultTableSize
    /// Idle timeouts (global_defs `lvs_timeouts tcp T tcpfin T udp T`, as keepalived).
    public var timeouts = FlowTimeouts()
    /// VRRP instances, their scripts and sync groups, and connection sync (VRRP/VRRPConfig.swift).
    public var failover = FailoverConfig()
    /// Top-level `track_file` blocks, followed by FILE_CHECKs (TrackFiles.swift).
    public var trackFiles: [TrackFileConfig] = []
    /// global_defs `script_user` and `enable_script_security` (ScriptLauncher.swift).
    public var scripts = ScriptSettings()
    /// global_defs `switchyard_http`, `switchyard_http_user`, `switchyard_http_metrics_auth` (ConfigHTTP.swift).
    public var http = HTTPSettings()
    /// global_defs `switchyard_announce_table` and `switchyard_announce_drain` (Announce/AnnounceSettings.swift).
    public var announce = AnnounceSettings()
    /// Things accepted but not acted on, as `PATH:LINE:COL: warning: …`.
    public var warnings: [ConfigDiagnostic] = []

    /// The warnings as `switchyard check --strict` prints them: each one an error.
    public var warningsAsErrors: [ConfigDiagnostic] {
        warnings.map { ConfigDiagnostic(path: $0.path, location: $0.location, message: $0.message, isWarning: false) }
    }

    /// The IPv4 VIPs (the ARP responder's, the capture filter's, the kernel guard's).
    public var vips: [IPv4Address] { Array(Set(services.compactMap(\.vip.ipv4))).sorted() }
    /// The IPv6 VIPs.
    public var vips6: [IPAddressBits] { Array(Set(services.map(\.vip).filter { !$0.isV4 })).sorted() }
    /// Every VIP, both families (IPv4 first).
    public var allVIPs: [IPAddressBits] { Array(Set(services.map(\.vip))).sorted() }

    /// Parses config text. Throws the first error, with its line and column. `configID` is
    /// what `@ID` lines are compared with (keepalived's --config-id; default: the host name up
    /// to its first dot); includes are read relative to `path`'s directory. `lineLimit` lowers
    /// the most lines the text may expand to (the fuzz target's, whose inputs must finish in
    /// seconds under its sanitizers; the daemon keeps ConfigLineReader.maximumLines).
    public static func parse(_ text: String, path: String, configID: String? = nil,
                             lineLimit: Int? = nil) throws(ConfigDiagnostic) -> Config {
        var reader = ConfigReader(path: path)
        var lineWarnings: [ConfigDiagnostic] = []
        let statements = try ConfigSyntax.parse(text, path: path, configID: configID, lineLimit: lineLimit,
                                                warnings: &lineWarnings)
        Log.debug("config \(path): \(text.utf8.count) bytes, \(statements.count) top-level statement(s)")
        var config = try reader.read(statements)
        config.warnings = lineWarnings + config.warnings
        if Log.isEnabled(.debug) {
            for line in config.debugLines(path: path) { Log.debug(line) }
        }
        return config
    }

    /// Reads and parses a file; anything but a regular file is refused (ConfigFile).
    public static func load(path: String, configID: String? = nil) throws(ConfigDiagnostic) -> Config {
        Log.debug("config: reading \(path)")
        return try parse(ConfigFile.read(path), path: path, configID: configID)
    }
}
