// `switchyard adm` in the daemon: each request parsed, dispatched and answered; and the
// reload that SIGHUP and `adm --reload` share.
import SwitchyardCore
import SwitchyardIO

extension ControlPlane {
    /// One `switchyard adm` request (from the control socket's thread).
    public func control(_ arguments: [String], _ input: String) -> (ok: Bool, text: String) {
        let command: AdmCommand
        do {
            command = try AdmCommand.parse(arguments)
        } catch {
            return (false, "\(error)\n")
        }
        switch command {
        case .list(let options):
            // Rendered under the lock. A copy of the table taken under it and read after it
            // shares its storage until the next change, which copy-on-write then makes in place
            // once the copy is gone; the runtime orders that, but ThreadSanitizer cannot see it,
            // and a whole-daemon TSan run (scripts/test.sh) must stay clean to be worth running.
            var text = state.withLock { s in AdmRender.list(s.table, options, numbers: { self.numbers($0, rates: s.rates) }) }
            if options.stats && !options.json {
                // Not in ipvsadm: what the engine did with every frame, drops by reason.
                text += "\nEngine counters (all workers):\n" + forwarding.engineCounters().map { "  \($0.0) \($0.1)\n" }.joined()
                // How the fanout spread the frames: each worker's share.
                text += "Frames per worker: "
                    + forwarding.framesPerWorker().map { "\($0.0)=\($0.1)" }.joined(separator: " ") + "\n"
            }
            return (true, text)
        case .save:
            return (true, state.withLock { AdmRender.save($0.table) })
        case .zero(let key):
            let ids = state.withLock { s in
                s.table.services.filter { key == nil || $0.key == key }.flatMap { $0.reals.map(\.id) + [$0.sorryID] }
            }
            if let key, ids.isEmpty { return (false, "no such service: \(key)\n") }
            zero(ids)
            return (true, "")
        case .reload:
            return reload()
        case .trace(let client):
            return (true, setTrace(client))
        case .vrrp:
            return (true, failoverStatus?() ?? "no vrrp_instance in this config\n")
        case .sync:
            return (true, syncStatus?() ?? "no lvs_sync_daemon in this config\n")
        case .listConnections(let options):
            // A walk of every worker's tables (FlowExchangeHub), on master and backup alike.
            guard let list = listConnections else { return (false, "the workers are not running\n") }
            guard let records = list() else { return (false, "the workers did not list their connections in time\n") }
            return (true, AdmConnections.render(records, options))
        case .restore:
            // Applied like a reload, so what stays keeps its IDs, flows, counters and checkers.
            return changing.withLock { _ in
                let result = state.withLock { s -> Result<TableChanges, AdmError> in
                    do throws(AdmError) {
                        let config = try s.table.restoring(input, into: s.config)
                        return .success(s.table.apply(config))
                    } catch {
                        return .failure(error)
                    }
                }
                switch result {
                case .success(let changes): return finish(changes, what: "restore")
                case .failure(let error): return (false, "\(error)\n")
                }
            }
        default:
            return changing.withLock { _ in
                let result = state.withLock { s -> Result<TableChanges, AdmError> in
                    do throws(AdmError) { return .success(try s.table.execute(command)) } catch { return .failure(error) }
                }
                switch result {
                case .success(let changes): return finish(changes, what: "adm " + arguments.joined(separator: " "))
                case .failure(let error): return (false, "\(error)\n")
                }
            }
        }
    }

    /// Reads the config file again and applies only the difference. A bad file, or one that
    /// needs an interface the engine did not start on, is reported with its line and column and
    /// changes nothing.
    public func reload() -> (ok: Bool, text: String) {
        let config: Config
        do {
            config = try Config.load(path: configPath)
            try plan.admits(config)
        } catch {
            Log.error("reload refused, the running config stays: \(error)")
            return (false, "reload refused, the running config stays: \(error)\n")
        }
        for w in config.warnings { Log.warning(w.description) }
        ScriptLauncher.configure(config.scripts)
        ScriptLauncher.audit(config)
        if config.failover != self.config.failover {
            Log.warning("reload: the vrrp_instance, vrrp_script, vrrp_sync_group or lvs_sync_daemon blocks changed; "
                + "those changes take effect at the next restart")
        }
        return changing.withLock { _ in
            let changes = state.withLock { s -> TableChanges in
                s.config = config
                return s.table.apply(config)
            }
            return finish(changes, what: "reload")
        }
    }
}
