// adm --metrics: the text parses as Prometheus's text format (a parser of its own here), with
// node_exporter's IPVS label names, every drop reason from the start, and a state set.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

/// A strict reader of the text format: HELP and TYPE before a family's samples, one family in
/// one block, names and label names as the format allows, label values unescaped.
private struct ParsedMetrics {
    struct Sample: Equatable { let name: String, labels: [String: String], value: Double }
    var types: [String: String] = [:]
    var helps: [String: String] = [:]
    var samples: [Sample] = []

    init(_ text: String) throws {
        struct Bad: Error, CustomStringConvertible { let description: String }
        var finished = Set<String>()
        var current = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
                guard parts.count == 4, Self.isName(parts[2]) else { throw Bad(description: "bad line: \(line)") }
                if parts[2] != current {
                    guard !finished.contains(parts[2]) else { throw Bad(description: "\(parts[2]) in two blocks") }
                    if !current.isEmpty { finished.insert(current) }
                    current = parts[2]
                }
                if parts[1] == "HELP" { helps[parts[2]] = parts[3] } else { types[parts[2]] = parts[3] }
                continue
            }
            var rest = Substring(line)
            let name = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
            rest = rest.dropFirst(name.count)
            guard Self.isName(name), name == current, types[name] != nil, helps[name] != nil else {
                throw Bad(description: "sample before its HELP and TYPE, or in another family's block: \(line)")
            }
            var labels: [String: String] = [:]
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    let label = String(rest.prefix { $0 != "=" })
                    guard Self.isName(label), !label.hasPrefix("__") else { throw Bad(description: "bad label in \(line)") }
                    rest = rest.dropFirst(label.count)
                    guard rest.hasPrefix("=\"") else { throw Bad(description: "no value for \(label) in \(line)") }
                    rest = rest.dropFirst(2)
                    var value = ""
                    while let c = rest.first, c != "\"" {
                        rest = rest.dropFirst()
                        if c == "\\" {
                            guard let e = rest.first else { throw Bad(description: "escape at the end: \(line)") }
                            rest = rest.dropFirst()
                            switch e {
                            case "\\": value.append("\\")
                            case "\"": value.append("\"")
                            case "n": value.append("\n")
                            default: throw Bad(description: "unknown escape \\\(e) in \(line)")
                            }
                        } else {
                            value.append(c)
                        }
                    }
                    guard rest.first == "\"" else { throw Bad(description: "unterminated value in \(line)") }
                    rest = rest.dropFirst()
                    guard labels.updateValue(value, forKey: label) == nil else { throw Bad(description: "\(label) twice: \(line)") }
                    if rest.first == "," { rest = rest.dropFirst() }
                }
                rest = rest.dropFirst()
            }
            guard rest.first == " ", let value = Double(rest.dropFirst()) else { throw Bad(description: "bad value: \(line)") }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
    }

    static func isName(_ s: String) -> Bool {
        guard let first = s.first, first.isLetter || first == "_" || first == ":" else { return false }
        return s.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" || $0 == ":" }
    }

    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }
}

final class MetricsTests: XCTestCase {
    static func input() -> MetricsInput {
        var web1 = RealNumbers()
        web1.connections = 7
        web1.active = 2
        web1.inactive = 1
        web1.inPackets = 40
        web1.inBytes = 4_000
        web1.outPackets = 30
        web1.outBytes = 90_000
        var web2 = RealNumbers()
        web2.connections = 3
        web2.inPackets = 10
        var input = MetricsInput()
        input.services = [
            MetricsInput.Service(proto: IPProtocol.tcp, vip: IPAddressBits(text: "198.18.0.100")!, port: 80, reals: [
                MetricsInput.Real(address: IPAddressBits(text: "198.18.0.11")!, port: 8080, weight: 3, up: true, numbers: web1),
                MetricsInput.Real(address: IPAddressBits(text: "198.18.0.12")!, port: 8080, weight: 0, up: true, numbers: web2),
            ]),
            MetricsInput.Service(proto: IPProtocol.udp, vip: IPAddressBits(text: "198.18.0.100")!, port: 53, reals: [
                MetricsInput.Real(address: IPAddressBits(text: "198.18.0.11")!, port: 53, weight: 1, up: false, numbers: RealNumbers()),
            ]),
        ]
        input.engineCounters = ["rx_frames": 100, "forwarded": 90, "drop_no_service": 6, "nat_replies": 30]
        input.flowEntries = 12
        input.flowCapacity = 2_048
        input.checks = (41, 2)
        input.workerCPUSeconds = [1.5, 0.25]
        input.vrrp = [VRRPInstanceStatus(name: "VI_1", interface: "eth0", virtualRouterID: 51, state: .master, priority: 150,
                                         master: nil, masterPriority: nil, since: 0, addresses: [])]
        return input
    }

    func testTheTextParsesWithTheNamesAndLabelsDashboardsExpect() throws {
        let text = PrometheusText.render(EngineMetrics.families(Self.input()))
        let m = try ParsedMetrics(text)
        let tcp = ["local_address": "198.18.0.100", "local_port": "80", "proto": "TCP"]
        var web1 = tcp
        web1["remote_address"] = "198.18.0.11"
        web1["remote_port"] = "8080"
        var web2 = web1
        web2["remote_address"] = "198.18.0.12"
        XCTAssertEqual(m.value("switchyard_virtual_service_connections_total", tcp), 10)
        XCTAssertEqual(m.value("switchyard_virtual_service_incoming_packets_total", tcp), 50)
        XCTAssertEqual(m.value("switchyard_virtual_service_outgoing_bytes_total", tcp), 90_000)
        XCTAssertEqual(m.value("switchyard_real_server_connections_total", web1), 7)
        XCTAssertEqual(m.value("switchyard_real_server_connections_active", web1), 2)
        XCTAssertEqual(m.value("switchyard_real_server_connections_inactive", web1), 1)
        XCTAssertEqual(m.value("switchyard_real_server_incoming_bytes_total", web1), 4_000)
        XCTAssertEqual(m.value("switchyard_real_server_outgoing_packets_total", web1), 30)
        XCTAssertEqual(m.value("switchyard_real_server_weight", web2), 0)
        // A state set: one sample per state, 1 for the one the server is in.
        func states(_ labels: [String: String]) -> [String] {
            EngineMetrics.states.filter { state in
                var l = labels
                l["state"] = state
                return m.value("switchyard_real_server_state", l) == 1
            }
        }
        XCTAssertEqual(states(web1), ["up"])
        XCTAssertEqual(states(web2), ["drain"], "weight 0: draining")
        let dns = ["local_address": "198.18.0.100", "local_port": "53", "proto": "UDP",
                   "remote_address": "198.18.0.11", "remote_port": "53"]
        XCTAssertEqual(states(dns), ["down"])
        XCTAssertEqual(m.samples.filter { $0.name == "switchyard_real_server_state" }.count, 3 * 3)
        // Every drop reason from the start, named without the drop_ prefix.
        let reasons = Counter.allCases.map(\.name).filter { $0.hasPrefix("drop_") }
        XCTAssertGreaterThan(reasons.count, 10)
        for reason in reasons {
            XCTAssertNotNil(m.value("switchyard_engine_packets_dropped_total", ["reason": String(reason.dropFirst(5))]), reason)
        }
        XCTAssertEqual(m.value("switchyard_engine_packets_dropped_total", ["reason": "no_service"]), 6)
        XCTAssertEqual(m.value("switchyard_engine_frames_received_total", [:]), 100)
        XCTAssertEqual(m.value("switchyard_config_last_reload_successful", [:]), 1)
        XCTAssertEqual(m.value("switchyard_flow_table_entries", [:]), 12)
        XCTAssertEqual(m.value("switchyard_flow_table_capacity", [:]), 2_048)
        XCTAssertEqual(m.value("switchyard_health_checks_total", ["result": "success"]), 41)
        XCTAssertEqual(m.value("switchyard_health_checks_total", ["result": "failure"]), 2)
        XCTAssertEqual(m.value("switchyard_worker_busy_seconds_total", ["worker": "0"]), 1.5)
        XCTAssertEqual(m.value("switchyard_worker_busy_seconds_total", ["worker": "1"]), 0.25)
        let vi1 = ["instance": "VI_1", "interface": "eth0", "vrid": "51"]
        XCTAssertEqual(m.samples.filter { $0.name == "switchyard_vrrp_state" && $0.value == 1 }.map { $0.labels["state"] }, ["MASTER"])
        XCTAssertEqual(m.samples.filter { $0.name == "switchyard_vrrp_state" }.count, 5)
        XCTAssertEqual(m.value("switchyard_vrrp_priority", vi1), 150)
        // Counters end in _total and carry no state or method label.
        for (name, type) in m.types {
            XCTAssertEqual(type == "counter", name.hasSuffix("_total"), name)
            if type == "counter" {
                XCTAssertFalse(m.samples.contains { $0.name == name && ($0.labels["state"] != nil || $0.labels["method"] != nil) }, name)
            }
        }
    }

    func testEscapesAndNumbers() throws {
        let family = MetricFamily("x_total", .counter, help: "a \\ back\nslash", samples: [
            MetricFamily.Sample([MetricFamily.Label("v", "a\"b\\c\nd")], 1),
            MetricFamily.Sample([MetricFamily.Label("v", "big")], 1.5),
        ])
        let text = PrometheusText.render([family])
        XCTAssertEqual(text, "# HELP x_total a \\\\ back\\nslash\n# TYPE x_total counter\nx_total{v=\"a\\\"b\\\\c\\nd\"} 1\nx_total{v=\"big\"} 1.5\n")
        let m = try ParsedMetrics(text)
        XCTAssertEqual(m.samples.first?.labels["v"], "a\"b\\c\nd")
        XCTAssertEqual(PrometheusText.format(.infinity), "+Inf")
        XCTAssertEqual(PrometheusText.format(.nan), "NaN")
        XCTAssertEqual(PrometheusText.format(12_345_678_901), "12345678901")
    }

    /// A sample before its family's HELP and TYPE is what the parser is there to catch.
    func testTheParserRefusesOutOfOrderText() {
        XCTAssertThrowsError(try ParsedMetrics("x_total 1\n"))
        XCTAssertThrowsError(try ParsedMetrics("# HELP x_total h\n# TYPE x_total counter\nx_total{v=\"a} 1\n"))
    }

    func testAdmParsesMetrics() throws {
        XCTAssertEqual(try AdmCommand.parse(["--metrics"]), .metrics)
    }
}
