// Between the checkers and the table: which checkers run after a table change, and what a
// checker's verdict does (log with its reason, notify scripts, quorum, snapshot).
import SwitchyardCore
import SwitchyardIO

extension ControlPlane {
    /// Starts and stops checkers as a table change requires (outside the lock: stopping waits
    /// for the checkers' loop to take the message).
    func applyCheckers(_ changes: TableChanges) {
        for id in Set(changes.checkersToStop + changes.checkersToStart) {
            if let t = state.withLock({ $0.targets.removeValue(forKey: id) }) { checkers.stop(t) }
        }
        for id in changes.checkersToStart {
            let found = state.withLock { s -> (HealthMonitor.Target, [CheckerConfig], Bool)? in
                for svc in s.table.services {
                    if let r = svc.reals.first(where: { $0.id == id }), !r.config.checkers.isEmpty {
                        let t = HealthMonitor.Target(serviceID: svc.id, realID: id, address: r.config.address,
                                                     port: r.config.port)
                        s.targets[id] = t
                        return (t, r.config.checkers, !svc.config.alpha)
                    }
                }
                return nil
            }
            guard let (target, configs, startUp) = found else { continue }
            do {
                try checkers.start(target, checkers: configs, startUp: startUp)
            } catch {
                Log.error("cannot start the checkers of \(target.address.withPort(target.port)): \(error)")
            }
        }
        for id in changes.checkersToStop { stats.reset(realID: id) }
    }

    /// A checker changed its verdict: log it with its reason, run notify scripts, re-evaluate the
    /// quorum, and publish.
    public func healthReport(_ target: HealthMonitor.Target, _ index: Int, _ up: Bool, _ result: ProbeResult) {
        let outcome = state.withLock { s -> (String, RealState, Bool, [(ServiceKey, Bool)], VirtualServiceConfig?)? in
            guard s.targets[target.realID] == target,
                  let (key, real, changed) = s.table.setChecker(realID: target.realID, index: index, up: up,
                                                                weight: result.dynamicWeight) else { return nil }
            let quorum = s.table.updateQuorum()
            return ("\(key)", real, changed, quorum, s.table.service(key)?.config)
        }
        guard let (service, real, changed, quorum, config) = outcome else { return }
        if changed { state.withLock { $0.lastChanges[target.realID] = wallClock() } }
        let checker = real.config.checkers[index].kind.name
        let reason = result.reason(checker: checker)
        let name = "\(real.config.address.withPort(real.config.port))"
        if changed {
            Log.info("real server \(name) of \(service) is \(real.up ? "UP" : "DOWN"): \(reason)"
                + (real.up ? "" : (real.config.inhibitOnFailure ? " (kept with weight 0)" : " (removed from the pool)")))
            if let script = real.up ? real.config.notifyUp : real.config.notifyDown { scripts.run(script) }
        } else {
            Log.info("real server \(name) of \(service): \(checker) says \(up ? "up" : "down") (\(reason)); "
                + "the server stays \(real.up ? "UP" : "DOWN")")
        }
        for (key, up) in quorum {
            Log.info("\(key) \(up ? "regained" : "lost") its quorum"
                + (config?.sorryServer.map { up ? "; the sorry server steps back" : "; the sorry server \($0.address.withPort($0.port)) answers" } ?? ""))
            if let script = up ? config?.quorumUp : config?.quorumDown { scripts.run(script) }
        }
        republish()
    }
}

extension ProbeResult {
    /// Why, in the log's and the status page's words: the failure, or which checker succeeded.
    func reason(checker: String) -> String {
        switch self {
        case .down(let why): why
        case .weighted(let w): "\(checker) succeeded, weight \(w)"
        case .up: "\(checker) succeeded"
        }
    }
}
