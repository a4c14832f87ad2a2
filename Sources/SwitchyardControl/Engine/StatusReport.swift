// The status page's numbers gathered from the control plane (StatusModel), and what they need
// beyond adm's: each real server's last check (result, reason, duration) and last change.
import Glibc
import SwitchyardCore

extension ControlPlane {
    /// Unix seconds now (CLOCK_REALTIME).
    public static func unixSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// A check finished (from the checkers' loop): counted for the metrics, kept for the page.
    func recordCheck(_ target: HealthMonitor.Target, _ index: Int, _ result: ProbeResult, _ seconds: Double) {
        countCheck(result)
        let at = wallClock()
        state.withLock { s in
            guard s.targets[target.realID] == target,
                  let real = s.table.services.first(where: { $0.id == target.serviceID })?.reals.first(where: { $0.id == target.realID }),
                  real.config.checkers.indices.contains(index) else { return }
            let reason = result.reason(checker: real.config.checkers[index].kind.name)
            s.lastChecks[target.realID] = StatusModel.Check(result: result.isUp ? "success" : "failure", reason: reason,
                                                            durationMs: (seconds * 1e6).rounded() / 1e3, at: at)
        }
    }

    /// Each real server's state and weight, to see which ones a change touched.
    func realStates() -> [UInt32: String] {
        state.withLock { s in
            var states: [UInt32: String] = [:]
            for svc in s.table.services {
                for r in svc.reals { states[r.id] = "\(r.up) \(r.weight)" }
            }
            return states
        }
    }

    /// Stamps the real servers whose state or weight differs from `before` as changed now.
    func stampChanges(since before: [UInt32: String]) {
        let now = wallClock()
        let after = realStates()
        state.withLock { s in
            for (id, words) in after where before[id] != words { s.lastChanges[id] = now }
            for id in s.lastChanges.keys where after[id] == nil { s.lastChanges[id] = nil }
            for id in s.lastChecks.keys where after[id] == nil { s.lastChecks[id] = nil }
        }
    }

    /// The status page's model now: every service and real server, the engine, VRRP.
    public func status() -> StatusModel {
        var model = state.withLock { s -> StatusModel in
            var model = StatusModel()
            model.engine.configLastReloadSuccessful = s.lastReloadTook
            model.services = s.table.services.map { svc in
                let file = s.config.services.first { $0.key == svc.key }
                let vs = svc.config
                func effective(_ r: RealState) -> Int { Self.effectiveWeight(r, macs: s.macs) }
                let taking = svc.reals.filter { effective($0) > 0 }.count
                var total = RealNumbers()
                let reals = svc.reals.map { r -> StatusModel.RealServer in
                    let n = numbers(r.id, rates: s.rates)
                    total = total + n
                    let others = taking - (effective(r) > 0 ? 1 : 0)
                    return StatusModel.RealServer(
                        id: r.config.address.withPort(r.config.port), address: "\(r.config.address)", port: Int(r.config.port),
                        state: !r.up ? "down" : r.weight == 0 ? "drain" : "up",
                        weightConfigured: file?.reals.first { $0.address == r.config.address && $0.port == r.config.port }?.weight
                            ?? r.config.weight,
                        weight: r.weight, weightEffective: effective(r), active: n.active, inactive: n.inactive,
                        connectionsTotal: n.connections, incomingBytesTotal: n.inBytes, outgoingBytesTotal: n.outBytes,
                        rates: StatusModel.Rates(n.rates), lastCheck: s.lastChecks[r.id], lastChange: s.lastChanges[r.id],
                        drainPreview: "VS \(vs.name) keeps \(others) of \(svc.reals.count) server\(svc.reals.count == 1 ? "" : "s") up")
                }
                return StatusModel.Service(
                    id: vs.name, protocol: vs.protocolName, address: "\(vs.vip)", port: Int(vs.port), scheduler: vs.scheduler.name,
                    forwarding: vs.method.name.lowercased(), state: taking > 0 ? "up" : "down", serversUp: taking,
                    serversTotal: svc.reals.count, connectionsTotal: total.connections, active: total.active,
                    inactive: total.inactive, rates: StatusModel.Rates(total.rates), realServers: reals,
                    sorryServer: vs.sorryServer.map {
                        StatusModel.SorryServer(id: $0.address.withPort($0.port), serving: !svc.quorumUp)
                    })
            }
            return model
        }
        model.version = SwitchyardVersion.text
        model.host = Self.hostName()
        model.generatedAt = wallClock()
        model.refreshSeconds = Housekeeping.rateInterval
        (model.engine.flowTableEntries, model.engine.flowTableCapacity) = forwarding.flowTable()
        model.engine.packetsDroppedTotal = forwarding.engineCounters()
            .filter { $0.0.hasPrefix("drop_") }.reduce(UInt64(0)) { $0 &+ $1.1 }
        model.vrrp = (failoverInstances?() ?? []).map {
            StatusModel.VRRP(instance: $0.name, state: $0.state.rawValue, priority: Int($0.priority))
        }
        return model
    }

    /// One line for systemd's STATUS= (`systemctl status`): services, servers up, VRRP states.
    public func statusLine() -> String {
        let (services, up, total) = state.withLock { s -> (Int, Int, Int) in
            let reals = s.table.services.flatMap(\.reals)
            return (s.table.services.count, reals.filter { Self.effectiveWeight($0, macs: s.macs) > 0 }.count, reals.count)
        }
        let vrrp = (failoverInstances?() ?? []).map { "\($0.name) \($0.state.rawValue)" }
        return "\(services) virtual service\(services == 1 ? "" : "s"), \(up) of \(total) real server\(total == 1 ? "" : "s") taking new flows"
            + (vrrp.isEmpty ? "" : "; " + vrrp.joined(separator: ", "))
    }

    /// The weight new flows see: 0 while the server is down or its MAC is unknown.
    static func effectiveWeight(_ r: RealState, macs: [IPAddressBits: MACAddress]) -> Int {
        r.up && macs[r.config.address] != nil ? r.weight : 0
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension StatusModel.Rates {
    init(_ r: Rates) {
        self.init(connectionsPerSecond: r.cps, incomingPacketsPerSecond: r.inPPS, outgoingPacketsPerSecond: r.outPPS,
                  incomingBytesPerSecond: r.inBPS, outgoingBytesPerSecond: r.outBPS)
    }
}
