// The balancer's numbers as Prometheus metric families: virtual services and real servers
// with node_exporter's IPVS label names (local_address, local_port, proto; remote_address,
// remote_port), so dashboards built on its ipvs collector carry over, and the engine's drops
// by reason. A pure function of what the control plane holds (MetricsInput).
import SwitchyardCore

/// What the metrics are made of, read from the control plane in one go.
public struct MetricsInput: Sendable {
    public struct Real: Sendable {
        public var address: IPAddressBits
        public var port: UInt16
        /// The weight in force (ipvsadm -L's).
        public var weight: Int
        /// Its checkers say it is up.
        public var up: Bool
        public var numbers: RealNumbers

        public init(address: IPAddressBits, port: UInt16, weight: Int, up: Bool, numbers: RealNumbers) {
            self.address = address
            self.port = port
            self.weight = weight
            self.up = up
            self.numbers = numbers
        }
    }

    public struct Service: Sendable {
        public var proto: UInt8
        public var vip: IPAddressBits
        public var port: UInt16
        public var reals: [Real]

        public init(proto: UInt8, vip: IPAddressBits, port: UInt16, reals: [Real]) {
            self.proto = proto
            self.vip = vip
            self.port = port
            self.reals = reals
        }
    }

    public var services: [Service] = []
    /// The engine's counters by name (adm --engine's); absent ones are 0.
    public var engineCounters: [String: UInt64] = [:]
    /// The last reload took (or none was tried yet).
    public var lastReloadTook = true
    /// Flows in the workers' tables, and their room, summed over the workers.
    public var flowEntries = 0, flowCapacity = 0
    /// The VRRP instances (none without failover).
    public var vrrp: [VRRPInstanceStatus] = []
    /// Each worker's CPU time, seconds, by worker index.
    public var workerCPUSeconds: [Double] = []
    /// Health checks done, by result.
    public var checks: (succeeded: UInt64, failed: UInt64) = (0, 0)
    /// With switchyard_announce_table: each VIP, and whether its route stands now.
    public var announced: [(vip: IPAddressBits, standing: Bool)]?

    public init() {}
}

public enum EngineMetrics {
    /// A real server's state in words: down (its checkers say so), drain (up, weight 0: no new
    /// flows, its own go on) or up.
    public static let states = ["up", "down", "drain"]

    static func state(_ r: MetricsInput.Real) -> String { !r.up ? "down" : r.weight == 0 ? "drain" : "up" }

    public static func families(_ input: MetricsInput) -> [MetricFamily] {
        typealias Label = MetricFamily.Label
        func serviceLabels(_ s: MetricsInput.Service) -> [Label] {
            [Label("local_address", "\(s.vip)"), Label("local_port", "\(s.port)"),
             Label("proto", s.proto == IPProtocol.udp ? "UDP" : "TCP")]
        }
        func realLabels(_ s: MetricsInput.Service, _ r: MetricsInput.Real) -> [Label] {
            serviceLabels(s) + [Label("remote_address", "\(r.address)"), Label("remote_port", "\(r.port)")]
        }
        func perService(_ value: (RealNumbers) -> UInt64) -> [MetricFamily.Sample] {
            input.services.map { s in
                MetricFamily.Sample(serviceLabels(s), Double(s.reals.reduce(UInt64(0)) { $0 &+ value($1.numbers) }))
            }
        }
        func perReal(_ value: (MetricsInput.Real) -> Double) -> [MetricFamily.Sample] {
            input.services.flatMap { s in s.reals.map { MetricFamily.Sample(realLabels(s, $0), value($0)) } }
        }
        let traffic: [(String, String, (RealNumbers) -> UInt64)] = [
            ("incoming_packets", "Packets from clients", \.inPackets), ("incoming_bytes", "Bytes from clients", \.inBytes),
            ("outgoing_packets", "Packets back to clients (NAT replies; DR replies skip the balancer)", \.outPackets),
            ("outgoing_bytes", "Bytes back to clients (NAT replies; DR replies skip the balancer)", \.outBytes),
        ]
        var families = [MetricFamily("switchyard_virtual_service_connections_total", .counter,
                                     help: "Connections scheduled to the virtual service's real servers.",
                                     samples: perService(\.connections))]
        families += traffic.map { name, help, value in
            MetricFamily("switchyard_virtual_service_\(name)_total", .counter, help: "\(help); per virtual service.",
                         samples: perService(value))
        }
        families.append(MetricFamily("switchyard_real_server_connections_total", .counter,
                                     help: "Connections scheduled to the real server.",
                                     samples: perReal { Double($0.numbers.connections) }))
        families.append(MetricFamily("switchyard_real_server_connections_active", .gauge,
                                     help: "The real server's established TCP connections (ipvsadm's ActiveConn).",
                                     samples: perReal { Double($0.numbers.active) }))
        families.append(MetricFamily("switchyard_real_server_connections_inactive", .gauge,
                                     help: "The real server's other connections and UDP flows (ipvsadm's InActConn).",
                                     samples: perReal { Double($0.numbers.inactive) }))
        families += traffic.map { name, help, value in
            MetricFamily("switchyard_real_server_\(name)_total", .counter, help: "\(help); per real server.",
                         samples: perReal { Double(value($0.numbers)) })
        }
        families.append(MetricFamily("switchyard_real_server_weight", .gauge,
                                     help: "The real server's weight in force (0: draining).",
                                     samples: perReal { Double($0.weight) }))
        // A state set: one sample per state, 1 for the one it is in.
        families.append(MetricFamily("switchyard_real_server_state", .gauge,
                                     help: "The real server's state: up, down (its checkers failed) or drain (weight 0).",
                                     samples: input.services.flatMap { s in
                                         s.reals.flatMap { r in
                                             states.map { MetricFamily.Sample(realLabels(s, r) + [Label("state", $0)],
                                                                              state(r) == $0 ? 1 : 0) }
                                         }
                                     }))
        // Every drop reason from the start, so a rate() over one never starts from nothing.
        let reasons = Counter.allCases.map(\.name).filter { $0.hasPrefix("drop_") }
        families.append(MetricFamily("switchyard_engine_packets_dropped_total", .counter,
                                     help: "Frames the engine dropped, by reason (adm --engine's drop_ counters).",
                                     samples: reasons.map {
                                         MetricFamily.Sample([Label("reason", String($0.dropFirst(5)))],
                                                             Double(input.engineCounters[$0] ?? 0))
                                     }))
        let engine: [(String, String, String)] = [
            ("switchyard_engine_frames_received_total", "rx_frames", "Frames the engine's workers received."),
            ("switchyard_engine_frames_forwarded_total", "forwarded", "Frames the engine sent on to a real server."),
            ("switchyard_engine_nat_replies_total", "nat_replies", "Real servers' replies the engine translated back (NAT)."),
        ]
        families += engine.map { name, counter, help in
            MetricFamily(name, .counter, help: help, samples: [MetricFamily.Sample([], Double(input.engineCounters[counter] ?? 0))])
        }
        families.append(MetricFamily("switchyard_worker_busy_seconds_total", .counter,
                                     help: "CPU time each worker's thread has used (busy-polling included), as of its last sweep.",
                                     samples: input.workerCPUSeconds.enumerated().map {
                                         MetricFamily.Sample([Label("worker", "\($0.offset)")], $0.element)
                                     }))
        families.append(MetricFamily("switchyard_health_checks_total", .counter,
                                     help: "Health checks done, by result: success (the checker says up) or failure.",
                                     samples: [MetricFamily.Sample([Label("result", "success")], Double(input.checks.succeeded)),
                                               MetricFamily.Sample([Label("result", "failure")], Double(input.checks.failed))]))
        families.append(MetricFamily("switchyard_flow_table_entries", .gauge,
                                     help: "Entries in the workers' flow tables: one a connection, and for NAT one more for its replies.",
                                     samples: [MetricFamily.Sample([], Double(input.flowEntries))]))
        families.append(MetricFamily("switchyard_flow_table_capacity", .gauge,
                                     help: "The flows the workers' tables hold at most (a full table evicts the oldest).",
                                     samples: [MetricFamily.Sample([], Double(input.flowCapacity))]))
        if !input.vrrp.isEmpty {
            let states: [VRRPInstance.State] = [.initialize, .backup, .master, .fault, .stopped]
            func labels(_ i: VRRPInstanceStatus) -> [Label] {
                [Label("instance", i.name), Label("interface", i.interface), Label("vrid", "\(i.virtualRouterID)")]
            }
            families.append(MetricFamily("switchyard_vrrp_state", .gauge,
                                         help: "Each VRRP instance's state (INIT, BACKUP, MASTER, FAULT, STOP): 1 for the one it is in.",
                                         samples: input.vrrp.flatMap { i in
                                             states.map { MetricFamily.Sample(labels(i) + [Label("state", $0.rawValue)],
                                                                              i.state == $0 ? 1 : 0) }
                                         }))
            families.append(MetricFamily("switchyard_vrrp_priority", .gauge,
                                         help: "Each VRRP instance's priority now (tracked scripts and interfaces included).",
                                         samples: input.vrrp.map { MetricFamily.Sample(labels($0), Double($0.priority)) }))
        }
        if let announced = input.announced {
            families.append(MetricFamily("switchyard_vip_announced", .gauge,
                                         help: "1 while the VIP's route stands in the announce table (switchyard_announce_table) for the routing daemon, 0 while it is withdrawn.",
                                         samples: announced.map { MetricFamily.Sample([Label("vip", "\($0.vip)")], $0.standing ? 1 : 0) }))
        }
        families.append(MetricFamily("switchyard_config_last_reload_successful", .gauge,
                                     help: "1 if the last reload (SIGHUP, adm --reload) took or none was tried, 0 if it was refused.",
                                     samples: [MetricFamily.Sample([], input.lastReloadTook ? 1 : 0)]))
        return families
    }
}
