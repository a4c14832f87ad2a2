// Text out: the running table as ipvsadm prints it (-Ln, --stats, --rate, --timeout, -S) and as
// JSON, and `switchyard check`'s listing of a config in the same columns.
import SwitchyardCore

/// Moving-average rates of a real server (ipvsadm -L --rate).
public struct Rates: Sendable, Equatable {
    public var cps = 0.0, inPPS = 0.0, outPPS = 0.0, inBPS = 0.0, outBPS = 0.0
    public init() {}
}

/// The numbers `-L` shows for one real server.
public struct RealNumbers: Sendable, Equatable {
    public var active = 0, inactive = 0
    public var connections: UInt64 = 0, inPackets: UInt64 = 0, outPackets: UInt64 = 0, inBytes: UInt64 = 0,
        outBytes: UInt64 = 0
    public var rates = Rates()
    public init() {}

    static func + (a: RealNumbers, b: RealNumbers) -> RealNumbers {
        var s = RealNumbers()
        s.active = a.active + b.active
        s.inactive = a.inactive + b.inactive
        s.connections = a.connections &+ b.connections
        s.inPackets = a.inPackets &+ b.inPackets
        s.outPackets = a.outPackets &+ b.outPackets
        s.inBytes = a.inBytes &+ b.inBytes
        s.outBytes = a.outBytes &+ b.outBytes
        s.rates.cps = a.rates.cps + b.rates.cps
        s.rates.inPPS = a.rates.inPPS + b.rates.inPPS
        s.rates.outPPS = a.rates.outPPS + b.rates.outPPS
        s.rates.inBPS = a.rates.inBPS + b.rates.inBPS
        s.rates.outBPS = a.rates.outBPS + b.rates.outBPS
        return s
    }
}

/// Renders the running table the way ipvsadm does, so eyes and scripts used to `ipvsadm -Ln`
/// read it, plus JSON for programs.
public enum AdmRender {
    /// A real server as listed: up ones, down ones kept with weight 0 (inhibit_on_failure), and
    /// the sorry server while it stands in. Down ones without inhibit are out of the list, as
    /// keepalived takes them out of IPVS.
    public struct Row: Sendable {
        public var address: IPv4Address
        public var port: UInt16
        public var method: ForwardingMethod
        public var weight: Int
        public var id: UInt32
    }

    public static func rows(_ s: ServiceState) -> [Row] {
        var rows: [Row] = []
        let sorryTime = !s.quorumUp && s.config.sorryServer != nil
        for r in s.reals {
            if r.up && !sorryTime {
                rows.append(Row(address: r.config.address, port: r.config.port, method: s.config.method,
                                weight: r.config.weight, id: r.id))
            } else if r.config.inhibitOnFailure || (r.up && sorryTime) {
                rows.append(Row(address: r.config.address, port: r.config.port, method: s.config.method, weight: 0,
                                id: r.id))
            }
        }
        if sorryTime, let sorry = s.config.sorryServer {
            rows.append(Row(address: sorry.address, port: sorry.port, method: s.config.method, weight: 1, id: s.sorryID))
        }
        return rows
    }

    static func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
    static func left(_ s: String, _ width: Int) -> String { s.count >= width ? s : String(repeating: " ", count: width - s.count) + s }
    static func forward(_ m: ForwardingMethod) -> String { m == .dr ? "Route" : "Masq" }

    static func serviceFlags(_ s: VirtualServiceConfig) -> String {
        var f = s.scheduler.name
        if s.persistenceTimeout > 0 {
            f += " persistent \(s.persistenceTimeout)"
            if s.persistenceMask != 0xFFFF_FFFF { f += " mask \(IPv4Address(s.persistenceMask))" }
        }
        return f
    }

    /// `TCP  198.18.0.100:80`: a service's first columns in every listing.
    static func serviceHead(_ protocolName: String, _ vip: IPv4Address, _ port: UInt16) -> String {
        pad(protocolName, 4) + " " + "\(vip):\(port)"
    }

    /// `  -> 198.18.0.11:80               Route   `: a real server's columns up to its weight,
    /// shared by `-Ln` and `check` so both line up and name the method alike.
    static func realColumns(_ address: IPv4Address, _ port: UInt16, _ method: ForwardingMethod) -> String {
        "  -> " + pad("\(address):\(port)", 28) + " " + pad(forward(method), 7) + " "
    }

    /// `ipvsadm -Ln`, with `--stats`, `--rate` or `--timeout`.
    public static func list(_ table: ServiceTable, _ options: AdmCommand.ListOptions,
                            numbers: (UInt32) -> RealNumbers) -> String {
        if options.json { return json(table, numbers: numbers) }
        if options.timeout {
            let t = table.timeouts
            return "Timeout (tcp tcpfin udp): \(t.tcpEstablished / 1000) \(t.tcpFin / 1000) \(t.udp / 1000)\n"
        }
        var out = "IP Virtual Server version 1.2.1 (size=4096)\n"
        if options.stats {
            out += "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port\n"
        } else if options.rate {
            out += "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  -> RemoteAddress:Port\n"
        } else {
            out += "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        }
        for s in table.services.sorted(by: { $0.key < $1.key }) where options.service == nil || options.service == s.key {
            let rows = rows(s)
            let head = serviceHead(s.key.protocolName, s.key.vip, s.key.port)
            if options.stats || options.rate {
                let total = (s.reals.map(\.id) + [s.sorryID]).map(numbers).reduce(RealNumbers(), +)
                out += pad(head, 33) + counters(total, rate: options.rate) + "\n"
                for r in rows {
                    out += pad("  -> \(r.address):\(r.port)", 33) + counters(numbers(r.id), rate: options.rate) + "\n"
                }
            } else {
                out += head + " " + serviceFlags(s.config) + "\n"
                for r in rows {
                    let n = numbers(r.id)
                    out += realColumns(r.address, r.port, r.method) + pad("\(r.weight)", 6) + " "
                        + pad("\(n.active)", 10) + " " + pad("\(n.inactive)", 10) + "\n"
                }
            }
        }
        return out
    }

    static func counters(_ n: RealNumbers, rate: Bool) -> String {
        let values: [String] = rate
            ? [n.rates.cps, n.rates.inPPS, n.rates.outPPS, n.rates.inBPS, n.rates.outBPS].map { String(Int($0.rounded())) }
            : [n.connections, n.inPackets, n.outPackets, n.inBytes, n.outBytes].map { String($0) }
        return values.map { " " + left($0, 8) }.joined()
    }

    /// `ipvsadm -Sn`: the commands that rebuild the table; `-R` reads them back.
    public static func save(_ table: ServiceTable) -> String {
        var out = ""
        for s in table.services.sorted(by: { $0.key < $1.key }) {
            let flag = s.key.proto == IPProtocol.udp ? "-u" : "-t"
            var line = "-A \(flag) \(s.key.vip):\(s.key.port) -s \(s.config.scheduler.name)"
            if s.config.persistenceTimeout > 0 {
                line += " -p \(s.config.persistenceTimeout)"
                if s.config.persistenceMask != 0xFFFF_FFFF { line += " -M \(IPv4Address(s.config.persistenceMask))" }
            }
            out += line + "\n"
            for r in s.reals {
                out += "-a \(flag) \(s.key.vip):\(s.key.port) -r \(r.config.address):\(r.config.port) "
                    + "\(s.config.method == .dr ? "-g" : "-m") -w \(r.config.weight)\n"
            }
        }
        return out
    }

    /// What `switchyard check` lists: the services and real servers a config defines, in the
    /// columns and words of `-Ln` (without the connection counts a config cannot have), then
    /// the VRRP instances (VRRP/VRRPRender.swift).
    public static func check(_ config: Config) -> String {
        var out = "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight\n"
        for s in config.services {
            out += serviceHead(s.protocolName, s.vip, s.port) + " " + serviceFlags(s) + "\n"
            for r in s.reals { out += realColumns(r.address, r.port, s.method) + "\(r.weight)\n" }
        }
        return out + failover(config.failover)
    }

    /// The same data as `-L --stats --rate`, as JSON.
    public static func json(_ table: ServiceTable, numbers: (UInt32) -> RealNumbers) -> String {
        func stats(_ n: RealNumbers) -> String {
            "\"activeconns\":\(n.active),\"inactconns\":\(n.inactive),\"conns\":\(n.connections),"
                + "\"inpkts\":\(n.inPackets),\"outpkts\":\(n.outPackets),\"inbytes\":\(n.inBytes),\"outbytes\":\(n.outBytes),"
                + "\"cps\":\(n.rates.cps),\"inpps\":\(n.rates.inPPS),\"outpps\":\(n.rates.outPPS),"
                + "\"inbps\":\(n.rates.inBPS),\"outbps\":\(n.rates.outBPS)"
        }
        let services = table.services.sorted(by: { $0.key < $1.key }).map { s -> String in
            let total = (s.reals.map(\.id) + [s.sorryID]).map(numbers).reduce(RealNumbers(), +)
            let reals = rows(s).map { r in
                "{\"address\":\"\(r.address)\",\"port\":\(r.port),\"forward\":\"\(r.method.name)\",\"weight\":\(r.weight),"
                    + stats(numbers(r.id)) + "}"
            }
            return "{\"protocol\":\"\(s.key.protocolName)\",\"address\":\"\(s.key.vip)\",\"port\":\(s.key.port),"
                + "\"scheduler\":\"\(s.config.scheduler.name)\",\"forward\":\"\(s.config.method.name)\","
                + "\"persistence\":\(s.config.persistenceTimeout),\"quorum_up\":\(s.quorumUp),"
                + stats(total) + ",\"reals\":[" + reals.joined(separator: ",") + "]}"
        }
        let t = table.timeouts
        return "{\"services\":[" + services.joined(separator: ",") + "],\"timeouts\":{\"tcp\":\(t.tcpEstablished / 1000),"
            + "\"tcpfin\":\(t.tcpFin / 1000),\"udp\":\(t.udp / 1000)}}\n"
    }
}
