// `switchyard adm` in the daemon: each request parsed, dispatched and answered with ipvsadm's
// text and exit status; -R line by line; and the reload that SIGHUP and `adm --reload` share.
import SwitchyardCore
import SwitchyardIO

extension ControlPlane {
    /// One `switchyard adm` request (from the control socket's thread): whether it worked, the
    /// text to print (standard output when it worked, standard error when not) and the exit
    /// status, ipvsadm's for the same outcome.
    public func control(_ arguments: [String], _ input: String) -> (ok: Bool, text: String, status: Int32) {
        let command: AdmCommand
        do {
            command = try AdmCommand.parse(arguments)
        } catch {
            return (false, "\(error)\n", error.exitStatus)
        }
        switch command {
        case .list(let options):
            // Rendered under the lock. A copy of the table taken under it and read after it
            // shares its storage until the next change, which copy-on-write then makes in place
            // once the copy is gone; the runtime orders that, but ThreadSanitizer cannot see it,
            // and a whole-daemon TSan run (scripts/test.sh) must stay clean to be worth running.
            let text = state.withLock { s -> String? in
                // list_service: ipvsadm's "No such service", exit 1, before anything is printed.
                if let key = options.service, s.table.service(key) == nil { return nil }
                return AdmRender.list(s.table, options, numbers: { self.numbers($0, rates: s.rates) })
            }
            guard let text else { return (false, "No such service\n", 1) }
            return (true, text, 0)
        case .engine:
            // Not in ipvsadm: what the engine did with every frame, drops by reason, and how the
            // fanout spread the frames over the workers.
            let text = "Engine counters (all workers):\n"
                + forwarding.engineCounters().map { "  \($0.0) \($0.1)\n" }.joined()
                + "Frames per worker: " + forwarding.framesPerWorker().map { "\($0.0)=\($0.1)" }.joined(separator: " ") + "\n"
            return (true, text, 0)
        case .metrics:
            return (true, metricsText(), 0)
        case .save:
            return (true, state.withLock { AdmRender.save($0.table) }, 0)
        case .zero(let key):
            let ids = state.withLock { s in
                s.table.services.filter { key == nil || $0.key == key }.flatMap { $0.reals.map(\.id) + [$0.sorryID] }
            }
            if key != nil, ids.isEmpty { return (false, "No such service\n", 255) }
            zero(ids)
            return (true, "", 0)
        case .reload:
            return withStatus(reload())
        case .trace(let client):
            return (true, setTrace(client), 0)
        case .vrrp:
            return (true, failoverStatus?() ?? "no vrrp_instance in this config\n", 0)
        case .sync:
            return (true, syncStatus?() ?? "no lvs_sync_daemon in this config\n", 0)
        case .fingerprint:
            guard let snapshot = state.withLock({ $0.snapshot }) else { return (false, "nothing is published yet\n", 1) }
            return (true, AdmFingerprint.render(snapshot), 0)
        case .listConnections(let options):
            // A walk of every worker's tables (FlowExchangeHub), on master and backup alike.
            guard let list = listConnections else { return (false, "the workers are not running\n", 1) }
            guard let records = list() else { return (false, "the workers did not list their connections in time\n", 1) }
            return (true, AdmConnections.render(records, options), 0)
        case .restore:
            return restore(input)
        case .help, .version:
            // The client answers these itself; a request that still asks gets the same.
            return (true, command == .help ? AdmUsage.text : AdmUsage.version + "\n", 0)
        default:
            return withStatus(edit(command, what: "adm " + arguments.joined(separator: " ")))
        }
    }

    /// What the engine refuses although the table would take it, as the kernel refuses what it
    /// cannot hold (exit 255): an IPv6 service where its receive path cannot forward IPv6
    /// (AF_XDP), and a VIP more than the fanout program holds.
    func refusal(_ command: AdmCommand) -> AdmError? {
        guard case .addService(let key, _, _, _) = command else { return nil }
        if !key.vip.isV4, let reason = plan.ipv6Refused { return AdmError.kernel(reason) }
        var vips = Set(state.withLock { $0.table.services.map(\.config.vip) })
        vips.insert(key.vip)
        let v6 = vips.filter { !$0.isV4 }.count
        return FanoutProgram.limitError(v4: vips.count - v6, v6: v6).map { AdmError.kernel($0) }
    }

    /// One table edit, applied (its flows, checkers and snapshot follow), or refused.
    func edit(_ command: AdmCommand, what: String) -> Result<TableChanges, AdmError> {
        changing.withLock { _ in
            let before = realStates()
            defer { stampChanges(since: before) }
            if let refused = refusal(command) { return .failure(refused) }
            let result = state.withLock { s -> Result<TableChanges, AdmError> in
                do throws(AdmError) { return .success(try s.table.execute(command)) } catch { return .failure(error) }
            }
            guard case .success(let changes) = result else { return result }
            let (ok, text) = finish(changes, what: what)
            return ok ? .success(changes) : .failure(AdmError(String(text.dropLast(text.hasSuffix("\n") ? 1 : 0)),
                                                               exitStatus: 255))
        }
    }

    /// `-R`: each line of the input run as its own command, in order, as ipvsadm's restore_table
    /// does (ipvsadm.c line 963): a line refused by the kernel says why and the next line runs;
    /// a line ipvsadm's parser refuses ends the restore there, the lines before it applied. The
    /// status is the last command's. Lines are read as config_stream_read reads them
    /// (AdmRestore.swift). The lines' changes reach the workers together, once, at the end (one
    /// snapshot and one address-set update, not one a line).
    func restore(_ input: String) -> (ok: Bool, text: String, status: Int32) {
        changing.withLock { _ in
            let before = realStates()
            defer { stampChanges(since: before) }
            var errors = ""
            var status: Int32 = 0
            var changes = TableChanges()
            var ended = false
            for words in AdmRestore.commandLines(input) where !ended {
                do throws(AdmError) {
                    let command = try AdmRestore.command(words)
                    if case .zero(let key) = command {
                        let ids = state.withLock { s in
                            s.table.services.filter { key == nil || $0.key == key }.flatMap { $0.reals.map(\.id) + [$0.sorryID] }
                        }
                        if key != nil, ids.isEmpty { throw AdmError.kernel("No such service") }
                        zero(ids)
                    } else {
                        if let refused = refusal(command) { throw refused }
                        let result = state.withLock { s -> Result<TableChanges, AdmError> in
                            do throws(AdmError) { return .success(try s.table.execute(command)) } catch { return .failure(error) }
                        }
                        changes.merge(try result.get())
                    }
                    status = 0
                } catch {
                    errors += "\(error)\n"
                    status = error.exitStatus
                    ended = !AdmRestore.continues(after: error)
                }
            }
            if !changes.isEmpty {
                let (ok, text) = finish(changes, what: "adm -R")
                if !ok { return (false, errors + text, 255) }
            }
            return errors.isEmpty ? (true, "", status) : (false, errors, status)
        }
    }

    func withStatus(_ result: Result<TableChanges, AdmError>) -> (ok: Bool, text: String, status: Int32) {
        switch result {
        case .success: return (true, "", 0)
        case .failure(let error): return (false, "\(error)\n", error.exitStatus)
        }
    }

    func withStatus(_ answer: (ok: Bool, text: String)) -> (ok: Bool, text: String, status: Int32) {
        (answer.ok, answer.text, answer.ok ? 0 : 1)
    }

    /// Reads the config file again and applies only the difference. A bad file, or one that
    /// needs an interface the engine did not start on, is reported with its line and column and
    /// changes nothing.
    public func reload() -> (ok: Bool, text: String) {
        // systemd waits for READY=1 after RELOADING=1 (systemctl reload returns then).
        notify("RELOADING=1\nMONOTONIC_USEC=\(monotonicMicroseconds())")
        let result = reloadConfig()
        notify("READY=1\nSTATUS=" + (result.ok ? statusLine() : "reload refused, the running config stays; " + statusLine()))
        return result
    }

    func reloadConfig() -> (ok: Bool, text: String) {
        let config: Config
        do {
            config = try Config.load(path: configPath, configID: configID)
            try plan.admits(config)
        } catch {
            Log.error("reload refused, the running config stays: \(error)")
            state.withLock { $0.lastReloadTook = false }
            return (false, "reload refused, the running config stays: \(error)\n")
        }
        for w in config.warnings { Log.warning(w.description) }
        ScriptLauncher.configure(config.scripts)
        ScriptLauncher.audit(config)
        TrackFiles.initialise(config)
        if config.failover != self.config.failover {
            Log.warning("reload: the vrrp_instance, vrrp_script, vrrp_sync_group or lvs_sync_daemon blocks changed; "
                + "those changes take effect at the next restart")
        }
        if config.http.address != self.config.http.address || config.http.port != self.config.http.port {
            Log.warning("reload: switchyard_http's address or port changed; the listener moves at the next restart "
                + "(its users and switchyard_http_metrics_auth apply now)")
        }
        return changing.withLock { _ in
            let before = realStates()
            defer { stampChanges(since: before) }
            let changes = state.withLock { s -> TableChanges in
                s.config = config
                return s.table.apply(config)
            }
            let result = finish(changes, what: "reload")
            state.withLock { $0.lastReloadTook = result.ok }
            return result
        }
    }
}

extension TableChanges {
    /// Adds another change's effects to these (several -R lines applied as one).
    mutating func merge(_ other: TableChanges) {
        servicesAdded += other.servicesAdded
        servicesRemoved += other.servicesRemoved
        servicesChanged += other.servicesChanged
        checkersToStart += other.checkersToStart
        checkersToStop += other.checkersToStop
        realsAdded += other.realsAdded
        realsRemoved += other.realsRemoved
        realsChanged += other.realsChanged
    }
}
