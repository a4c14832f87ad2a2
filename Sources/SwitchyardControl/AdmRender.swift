// Text out: the running table as ipvsadm 1.31 prints it (-Ln, --stats, --rate, --timeout, -S)
// and as JSON, and `switchyard check`'s listing of a config in the same columns.
import SwitchyardCore

/// Moving-average rates of a real server (ipvsadm -L --rate): connections, packets and bytes
/// (not bits) per second, as the kernel's estimator gives them to ipvsadm.
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
        public var address: IPAddressBits
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
                                weight: r.weight, id: r.id))
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
            if let mask = s.persistenceGranularity { f += " mask \(mask)" }
        }
        return f
    }

    /// `TCP  198.18.0.100:80`, `TCP  [2001:db8::100]:80`: a service's first columns in every listing.
    static func serviceHead(_ protocolName: String, _ vip: IPAddressBits, _ port: UInt16) -> String {
        pad(protocolName, 4) + " " + vip.withPort(port)
    }

    /// `  -> 198.18.0.11:80               Route   `: a real server's columns up to its weight,
    /// shared by `-Ln` and `check` so both line up and name the method alike.
    static func realColumns(_ address: IPAddressBits, _ port: UInt16, _ method: ForwardingMethod) -> String {
        "  -> " + pad(address.withPort(port), 28) + " " + pad(forward(method), 7) + " "
    }

    /// libipvs.c's address comparison (ipvs_cmp_services, ipvs_cmp_dests): the difference of
    /// the two addresses as 32-bit numbers, read as a signed int. Two addresses 2^31 or more
    /// apart therefore compare the wrong way round (10.0.0.1 after 198.18.0.100), and ipvsadm
    /// prints them so; this does the same. IPv4 before IPv6 (AF_INET before AF_INET6), and IPv6
    /// addresses by memcmp.
    static func addressOrder(_ a: IPAddressBits, _ b: IPAddressBits) -> Int32 {
        if a.isV4 != b.isV4 { return a.isV4 ? -1 : 1 }
        if a.isV4 { return Int32(bitPattern: a.v4 &- b.v4) }
        return a == b ? 0 : a < b ? -1 : 1
    }

    /// The services in ipvsadm's order: by protocol number (TCP before UDP), then address, then
    /// port (ipvs_cmp_services, which list_all applies unless --nosort). With --nosort, the
    /// table's own order (ipvsadm prints the kernel's hash order there).
    static func ordered(_ table: ServiceTable, sorted: Bool) -> [ServiceState] {
        guard sorted else { return table.services }
        return table.services.sorted { a, b in
            if a.key.proto != b.key.proto { return a.key.proto < b.key.proto }
            let order = addressOrder(a.key.vip, b.key.vip)
            return order != 0 ? order < 0 : a.key.port < b.key.port
        }
    }

    /// The listed real servers by address, then port (ipvs_cmp_dests, applied by
    /// print_service_entry unless --nosort).
    static func orderedRows(_ s: ServiceState, sorted: Bool) -> [Row] {
        let all = rows(s)
        guard sorted else { return all }
        return all.sorted { a, b in
            let order = addressOrder(a.address, b.address)
            return order != 0 ? order < 0 : a.port < b.port
        }
    }

    /// `ipvsadm -Ln`, with `--stats`, `--rate` or `--timeout`, for every service or for
    /// `options.service` alone (which the caller has found in the table: ipvsadm says "No such
    /// service" before it prints anything). Mirrors ipvsadm.c list_all / list_service,
    /// print_title and print_service_entry.
    public static func list(_ table: ServiceTable, _ options: AdmCommand.ListOptions,
                            numbers: (UInt32) -> RealNumbers) -> String {
        if options.json { return json(table, numbers: numbers) }
        if options.timeout {
            let t = table.timeouts
            return "Timeout (tcp tcpfin udp): \(t.tcpEstablished / 1000) \(t.tcpFin / 1000) \(t.udp / 1000)\n"
        }
        // list_service prints no version line; list_all does.
        var out = options.service == nil ? "IP Virtual Server version 1.2.1 (size=4096)\n" : ""
        out += title(options)
        for s in ordered(table, sorted: options.sorted) where options.service == nil || options.service == s.key {
            out += serviceEntry(s, options, numbers: numbers)
        }
        return out
    }

    /// print_title: --stats wins over --rate when both are given, as in ipvsadm.
    static func title(_ options: AdmCommand.ListOptions) -> String {
        let columns: [String]
        if options.stats {
            columns = ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"]
        } else if options.rate {
            columns = ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"]
        } else if options.thresholds {
            // "%-33s %-10s %-10s %-10s %-10s\n"
            return pad("Prot LocalAddress:Port", 33)
                + ["Uthreshold", "Lthreshold", "ActiveConn", "InActConn"].map { " " + pad($0, 10) }.joined()
                + "\n  -> RemoteAddress:Port\n"
        } else {
            return "Prot LocalAddress:Port Scheduler Flags\n"
                + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        }
        // "%-33s %8s %8s %8s %8s %8s\n"
        return pad("Prot LocalAddress:Port", 33) + columns.map { " " + left($0, 8) }.joined()
            + "\n  -> RemoteAddress:Port\n"
    }

    /// One service and its real servers (print_service_entry, lines 1946-2126 of ipvsadm.c 1.31).
    static func serviceEntry(_ s: ServiceState, _ options: AdmCommand.ListOptions,
                             numbers: (UInt32) -> RealNumbers) -> String {
        // svc_name is cut at 33 characters and dname at 28 (IPv4), as ipvsadm cuts them.
        let head = String(serviceHead(s.key.protocolName, s.key.vip, s.key.port).prefix(33))
        let rows = orderedRows(s, sorted: options.sorted)
        func destination(_ r: Row) -> String { "  -> " + pad(String("\(r.address):\(r.port)".prefix(28)), 28) }
        var out = ""
        if options.stats || options.rate {
            let total = (s.reals.map(\.id) + [s.sorryID]).map(numbers).reduce(RealNumbers(), +)
            out += pad(head, 33) + (options.stats ? statsColumns(total, options) : serviceRateColumns(total, options)) + "\n"
            for r in rows {
                let n = numbers(r.id)
                out += destination(r) + (options.stats ? statsColumns(n, options) : realRateColumns(n, options)) + "\n"
            }
        } else {
            out += head + " " + serviceFlags(s.config) + "\n"
            for r in rows {
                let n = numbers(r.id)
                if options.thresholds {
                    // "  -> %-28s %-10u %-10u %-10u %-10u\n": no thresholds here, so 0 and 0.
                    out += destination(r) + [0, 0, n.active, n.inactive].map { " " + pad("\($0)", 10) }.joined() + "\n"
                    continue
                }
                out += realColumns(r.address, r.port, r.method) + pad("\(r.weight)", 6) + " "
                    + pad("\(n.active)", 10) + " " + pad("\(n.inactive)", 10) + "\n"
            }
        }
        return out
    }

    /// `--stats`: conns, packets and bytes in and out, each as print_largenum prints it.
    static func statsColumns(_ n: RealNumbers, _ options: AdmCommand.ListOptions) -> String {
        [n.connections, n.inPackets, n.outPackets, n.inBytes, n.outBytes].map { largeNumber($0, exact: options.exact) }
            .joined()
    }

    /// `--rate` on a service line: every column through print_largenum.
    static func serviceRateColumns(_ n: RealNumbers, _ options: AdmCommand.ListOptions) -> String {
        let r = n.rates
        return [r.cps, r.inPPS, r.outPPS, r.inBPS, r.outBPS].map { largeNumber(perSecond($0), exact: options.exact) }
            .joined()
    }

    /// `--rate` on a real server's line: CPS and the packet rates as " %8llu" (never shortened),
    /// the byte rates through print_largenum, as print_service_entry prints a destination.
    static func realRateColumns(_ n: RealNumbers, _ options: AdmCommand.ListOptions) -> String {
        let r = n.rates
        return [r.cps, r.inPPS, r.outPPS].map { " " + left(String(perSecond($0)), 8) }.joined()
            + [r.inBPS, r.outBPS].map { largeNumber(perSecond($0), exact: options.exact) }.joined()
    }

    /// A rate as the kernel hands it to ipvsadm: a whole number per second.
    static func perSecond(_ rate: Double) -> UInt64 { rate > 0 && rate.isFinite ? UInt64(rate.rounded()) : 0 }

    /// ipvsadm.c print_largenum: nine columns; from 100 million up the number is cut to
    /// thousands (K), millions (M), billions (G) or trillions (T) in eight columns and the letter.
    /// With `--exact` (-X) the whole number, nine columns wide or one more than its digits.
    public static func largeNumber(_ value: UInt64, exact: Bool) -> String {
        let digits = String(value)
        if exact { return left(digits, digits.count <= 8 ? 9 : digits.count + 1) }
        switch value {
        case ..<100_000_000: return left(digits, 9)
        case ..<1_000_000_000: return left(String(value / 1000), 8) + "K"
        case ..<100_000_000_000: return left(String(value / 1_000_000), 8) + "M"
        case ..<100_000_000_000_000: return left(String(value / 1_000_000_000), 8) + "G"
        default: return left(String(value / 1_000_000_000_000), 8) + "T"
        }
    }

    /// `ipvsadm -Sn`: the commands that rebuild the table; `-R` reads them back. Lists what `-L`
    /// lists, in its order: the real servers `-L` shows (a down one without inhibit_on_failure is
    /// out, as keepalived takes it out of IPVS) with the weight `-L` shows
    /// (print_service_entry with FMT_RULE).
    public static func save(_ table: ServiceTable, sorted: Bool = true) -> String {
        var out = ""
        for s in ordered(table, sorted: sorted) {
            let flag = s.key.proto == IPProtocol.udp ? "-u" : "-t"
            var line = "-A \(flag) \(s.key.vip.withPort(s.key.port)) -s \(s.config.scheduler.name)"
            if s.config.persistenceTimeout > 0 {
                line += " -p \(s.config.persistenceTimeout)"
                if let mask = s.config.persistenceGranularity { line += " -M \(mask)" }
            }
            out += line + "\n"
            for r in orderedRows(s, sorted: sorted) {
                out += "-a \(flag) \(s.key.vip.withPort(s.key.port)) -r \(r.address.withPort(r.port)) "
                    + "\(r.method == .dr ? "-g" : "-m") -w \(r.weight)\n"
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
        let services = ordered(table, sorted: true).map { s -> String in
            let total = (s.reals.map(\.id) + [s.sorryID]).map(numbers).reduce(RealNumbers(), +)
            let reals = orderedRows(s, sorted: true).map { r in
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
