// ipvsadm -R on the running table, as a pure function: the rules read, checked all or nothing,
// and merged into a config that a reload-style apply turns into exactly those rules.
import SwitchyardCore

extension ServiceTable {
    /// The config that makes this table say what `rules` (ipvsadm -S's output: one command a
    /// line, `#` comments) say. The rules are checked on a scratch table first: one bad line and
    /// nothing changes. What the rules keep (a service, a real server with the same address and
    /// port) keeps its settings from `config` that ipvsadm's rules cannot express (checkers,
    /// sorry server, quorum, …), so that applying the result keeps its ID, flows, counters and
    /// checkers; what the rules do say (scheduler, method, persistence, weight) wins.
    public func restoring(_ rules: String, into config: Config) throws(AdmError) -> Config {
        var scratch = ServiceTable()
        scratch.timeouts = timeouts
        for (n, line) in rules.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if words.isEmpty || words[0].hasPrefix("#") { continue }
            do throws(AdmError) {
                let command = try AdmCommand.parse(words)
                switch command {
                case .addService, .editService, .deleteService, .addReal, .editReal, .deleteReal, .setTimeouts, .clear:
                    _ = try scratch.execute(command)
                default:
                    throw AdmError("only -A -E -D -a -e -d -C --set may be restored")
                }
            } catch {
                throw AdmError("restore line \(n + 1): \(error); nothing was changed")
            }
        }
        var result = config
        result.timeouts = scratch.timeouts
        result.services = scratch.services.map { new in
            let old = service(new.key)
            var settings = old?.config ?? new.config
            settings.scheduler = new.config.scheduler
            settings.method = new.config.method
            settings.persistenceTimeout = new.config.persistenceTimeout
            settings.persistenceMask = new.config.persistenceMask
            settings.reals = new.reals.map { r in
                guard var kept = old?.reals.first(where: {
                    $0.config.address == r.config.address && $0.config.port == r.config.port
                })?.config else { return r.config }
                kept.weight = r.config.weight
                return kept
            }
            return settings
        }
        return result
    }
}
