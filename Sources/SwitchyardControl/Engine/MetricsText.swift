// adm --metrics: the control plane's numbers gathered in one go and written in Prometheus's
// text format (EngineMetrics, PrometheusText), for node_exporter's textfile collector today.
import SwitchyardCore

extension ControlPlane {
    /// Counts a health check's result (every check, changed or not; from the checkers' loop).
    func countCheck(_ result: ProbeResult) {
        if result.isUp {
            checksSucceeded.add(1, ordering: .relaxed)
        } else {
            checksFailed.add(1, ordering: .relaxed)
        }
    }

    /// The metrics now, as Prometheus reads them.
    public func metricsText() -> String {
        // Read before the state lock: the announcer takes that lock inside its own.
        let standing = Set(announcer.announced)
        // Read under the lock, as adm -L reads the table (see `control`).
        var input = state.withLock { s -> MetricsInput in
            var input = MetricsInput()
            input.lastReloadTook = s.lastReloadTook
            if s.config.announce.isOn {
                input.announced = Set(s.table.services.map(\.config.vip)).sorted().map { ($0, standing.contains($0)) }
            }
            input.services = s.table.services.map { svc in
                MetricsInput.Service(proto: svc.config.proto, vip: svc.config.vip, port: svc.config.port,
                                     reals: svc.reals.map { r in
                                         MetricsInput.Real(address: r.config.address, port: r.config.port, weight: r.weight,
                                                           up: r.up, numbers: numbers(r.id, rates: [:]))
                                     })
            }
            return input
        }
        input.engineCounters = Dictionary(forwarding.engineCounters(), uniquingKeysWith: { a, _ in a })
        (input.flowEntries, input.flowCapacity) = forwarding.flowTable()
        input.workerCPUSeconds = forwarding.workerCPUSeconds()
        input.vrrp = failoverInstances?() ?? []
        input.checks = (checksSucceeded.load(ordering: .relaxed), checksFailed.load(ordering: .relaxed))
        return PrometheusText.render(EngineMetrics.families(input))
    }
}
