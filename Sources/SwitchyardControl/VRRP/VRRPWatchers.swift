// What the VRRP machines track, watched for them: each tracked `vrrp_script` run every
// `interval` (killed with its process group past `timeout`), and each tracked or instance
// interface's link read from sysfs. The results go to the machines as events; the rise/fall
// counting and the weights are theirs. Driven by VRRPService's thread, never blocking it.
import Glibc
import SwitchyardIO

struct VRRPWatchers {
    private struct Script {
        let config: VRRPScriptConfig
        var due: Double
        var pid: pid_t = 0
        var deadline = 0.0
    }

    private var scripts: [Script]
    /// Interface name → link up, as last told to the machines.
    private var links: [String: Bool] = [:]
    private var nextLinkCheck = 0.0

    init(_ config: FailoverConfig, now: Double) {
        let tracked = Set(config.instances.flatMap { $0.trackScripts.map(\.name) })
        scripts = config.scripts.filter { tracked.contains($0.name) }.map { Script(config: $0, due: now) }
        // The machines take every interface for up until told otherwise.
        for name in Set(config.instances.flatMap { [$0.interface] + $0.trackInterfaces.map(\.name) }) { links[name] = true }
    }

    /// The soonest time something is due (a script to start or to time out, a link check).
    var nextDeadline: Double {
        scripts.map { $0.pid > 0 ? $0.deadline : $0.due }.reduce(nextLinkCheck, min)
    }

    /// Starts what is due, collects what finished, kills what overran, reads the links; returns
    /// the events for the machines.
    mutating func poll(now: Double) -> [VRRPInstance.Event] {
        var events: [VRRPInstance.Event] = []
        for i in scripts.indices {
            if scripts[i].pid > 0 {
                var status: Int32 = 0
                let r = waitpid(scripts[i].pid, &status, WNOHANG)
                if r == scripts[i].pid {
                    scripts[i].pid = 0
                    let success = status & 0x7F == 0 && (status >> 8) & 0xFF == 0
                    events.append(.scriptResult(scripts[i].config.name, success: success))
                } else if now >= scripts[i].deadline {
                    HealthProbes.killScript(scripts[i].pid)
                    scripts[i].pid = 0
                    Log.warning("vrrp_script \(scripts[i].config.name): still running after "
                        + "\(scripts[i].config.timeout ?? scripts[i].config.interval) s, killed; counted as failed")
                    events.append(.scriptResult(scripts[i].config.name, success: false))
                }
            }
            if scripts[i].pid == 0 && now >= scripts[i].due {
                scripts[i].due = now + scripts[i].config.interval
                let config = scripts[i].config
                switch HealthProbes.spawnScript(config.script, user: config.user, group: config.group) {
                case .success(let pid):
                    scripts[i].pid = pid
                    scripts[i].deadline = now + (config.timeout ?? config.interval)
                case .failure:
                    // Refused (enable_script_security, an unknown user) or not started: the
                    // launcher has logged why once; the run counts as failed.
                    events.append(.scriptResult(config.name, success: false))
                }
            }
        }
        if now >= nextLinkCheck {
            nextLinkCheck = now + 0.5
            for (name, was) in links {
                let up = Self.linkUp(name)
                if up != was {
                    links[name] = up
                    Log.info("vrrp: interface \(name) is \(up ? "up" : "down")")
                    events.append(.interface(name, up: up))
                }
            }
        }
        return events
    }

    /// Kills scripts still running (at stop).
    mutating func stop() {
        for i in scripts.indices where scripts[i].pid > 0 {
            HealthProbes.killScript(scripts[i].pid)
            scripts[i].pid = 0
        }
    }

    /// Whether an interface's link is up: operstate up (or unknown, as loopback-like devices
    /// report) and carrier present.
    static func linkUp(_ name: String) -> Bool {
        guard let state = readSmallFile("/sys/class/net/\(name)/operstate") else { return false }
        let s = state.filter { !$0.isWhitespace }
        guard s == "up" || s == "unknown" else { return false }
        return readSmallFile("/sys/class/net/\(name)/carrier").map { $0.hasPrefix("1") } ?? true
    }
}
