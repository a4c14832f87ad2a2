// The command line: run, check, adm, realserver and demo (replay and explain in
// ReplayCommands.swift, passwd in PasswdCommand.swift), each turning its options into calls on
// SwitchyardControl (or exec'ing one of the scripts); --log-level bootstraps the log first.
import ArgumentParser
import Glibc
import Logging
import SwitchyardControl
import SwitchyardCore
import SwitchyardIO

@main
struct Switchyard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard",
        abstract: "A user-space L4 load balancer: LVS-style direct server return (DR) or NAT from a spare PC.",
        version: SwitchyardVersion.number,
        subcommands: [Run.self, Check.self, Adm.self, RealServer.self, Demo.self, Replay.self, Explain.self, Passwd.self])
}

/// Loads a config, printing errors as PATH:LINE:COL: message.
func loadConfig(_ path: String, configID: String?) throws -> Config {
    do {
        return try Config.load(path: path, configID: configID)
    } catch {
        printError(error.description)
        throw ExitCode(1)
    }
}

/// `--log-level`, for the subcommands that log (run; check and adm at debug level).
struct LogOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Log lines below this level are dropped: \(Log.levelNames.joined(separator: ", ")).",
                                            valueName: "level"))
    var logLevel: String = "info"

    func validate() throws {
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of \(Log.levelNames.joined(separator: ", "))")
        }
    }

    /// Called once, first thing in a subcommand's run().
    func bootstrap() { Log.bootstrap(level: Logger.Level(rawValue: logLevel) ?? .info) }
}

/// keepalived's -i/--config-id, shared by run and check.
let configIDHelp = ArgumentHelp("Keep the config's lines that start `@ID` only for this id, and those that start `@^ID` only "
                                + "for any other, as keepalived's --config-id (default: the host name up to its first dot).",
                                valueName: "id")

func printError(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forward in the foreground until SIGINT or SIGTERM, then remove everything installed.")

    @Option(name: .long, help: "The keepalived-style config file.")
    var config: String

    @Option(name: .long, help: "Interface the VIPs are served on (default: the one the kernel routes each VIP through). Real servers are reached through their own on-link routes.")
    var interface: String?

    @Option(name: .long, help: "Forwarding threads, one RX ring each in a fanout group (default: one per CPU the process may run on).")
    var workers: Int?

    @Option(name: .long, help: "Seconds between stats lines in the log (0: only at exit).")
    var statsInterval: Int = 0

    @Option(name: .long, help: "The control socket for `switchyard adm` (default: /run/switchyard/<config name>-<hash>.sock).")
    var control: String?

    @Option(name: .long, help: "How frames are sent: ring (PACKET_TX_RING) or sendmmsg.")
    var tx: String = TXMode.ring.rawValue

    @Option(name: .long, help: "How frames are received: af_packet (AF_PACKET rings, TPACKET_V2 frames unless --rx-ring blocks) or af_xdp (an XDP program and an AF_XDP socket, generic mode, copy mode; one worker).")
    var io: String = RXMode.afPacket.rawValue

    @Option(name: .long, help: "How AF_PACKET rings hand frames over: frames (TPACKET_V2, each frame at once; the default) or blocks (TPACKET_V3, a block at a time: a frame can wait up to 1 ms).")
    var rxRing: String = RingFormat.frames.rawValue

    @Option(name: .long, help: "Connection sync (lvs_sync_daemon): seconds between the master's full sends of its flow tables, which repair lost messages and keep idle flows alive on the backup.")
    var syncRefresh: Double = SyncService.defaultRefreshSeconds

    @Option(name: .long, help: configIDHelp)
    var configId: String?

    @OptionGroup var log: LogOptions

    @Flag(name: .long, inversion: .prefixedNo,
          help: "Drop the kernel's copies of VIP frames with a tcx BPF program in front of the guard's nftables chain (Linux 6.6+; cheaper per frame). --no-guard-tcx leaves the chain alone.")
    var guardTcx = true

    @Option(name: .long, help: "Microseconds each worker keeps checking its rings after its last frame before it sleeps (default 30 if every worker has a CPU of its own, else 0; 0: sleep at once). Spares a request the poll() wake-up when its reply comes back within that time; a larger value (200) suits operators who give the engine whole cores: a worker then keeps its core busy while traffic flows.")
    var busyPoll: Int?

    @Flag(name: .long, inversion: .prefixedNo,
          help: "Leave GRO as it is on the engine's interfaces: TCP super-packets are forwarded whole, for the kernel or the NIC to segment. --no-gro turns it off while the engine runs (always so with --io af_xdp).")
    var gro = true

    func validate() throws {
        if RingFormat(rawValue: rxRing) == nil { throw ValidationError("--rx-ring must be frames or blocks") }
        if TXMode(rawValue: tx) == nil { throw ValidationError("--tx must be ring or sendmmsg") }
        guard let rx = RXMode(rawValue: io) else { throw ValidationError("--io must be af_packet or af_xdp") }
        if rx == .afXDP && tx != TXMode.ring.rawValue {
            // sendmmsg would point into frames the XDP receiver reuses before the batch is sent.
            throw ValidationError("--io af_xdp sends with the TX ring; leave --tx out or give ring")
        }
        if rx == .afXDP && (workers ?? 1) != 1 {
            throw ValidationError("--io af_xdp runs one worker (one AF_XDP socket on queue 0); leave --workers out or give 1")
        }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must be from 1 to 256") }
        if statsInterval < 0 { throw ValidationError("--stats-interval must be 0 or more") }
        if let busyPoll, !(0...1_000_000).contains(busyPoll) { throw ValidationError("--busy-poll must be from 0 to 1000000 microseconds") }
        if !(1...3600).contains(syncRefresh) { throw ValidationError("--sync-refresh must be from 1 to 3600 seconds") }
    }

    func run() throws {
        log.bootstrap()
        let cfg = try loadConfig(config, configID: configId)
        // The CPUs this process may use (taskset, systemd's CPUAffinity), not all the machine's:
        // more workers than that only take turns.
        let cores = allowedCPUCount()
        let rx = RXMode(rawValue: io) ?? .afPacket
        var options = EngineOptions(configPath: config, interface: interface,
                                    workers: workers ?? (rx == .afXDP ? 1 : cores),
                                    statsInterval: statsInterval,
                                    controlPath: control ?? EngineOptions.defaultControlPath(configPath: config),
                                    txMode: TXMode(rawValue: tx) ?? .ring, rxMode: rx)
        options.guardTCX = guardTcx
        options.gro = gro
        options.busyPoll = busyPoll ?? EngineOptions.defaultBusyPoll(workers: options.workers, cpus: cores)
        options.ringFormat = RingFormat(rawValue: rxRing) ?? .frames
        options.syncRefresh = syncRefresh
        options.configID = configId
        do {
            let engine = try Engine(options: options, config: cfg)
            engine.attach = try statusListener(cfg)
            try engine.run()
        } catch {
            Log.error("\(error)")
            throw ExitCode(1)
        }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a config file; errors print as PATH:LINE:COL: message and exit non-zero.")

    @Option(name: .long, help: "The keepalived-style config file.")
    var config: String

    @Flag(name: .long, help: "Treat warnings as errors: print each as an error line and exit non-zero.")
    var strict = false

    @Option(name: .long, help: configIDHelp)
    var configId: String?

    @OptionGroup var log: LogOptions

    func run() throws {
        log.bootstrap()
        let cfg = try loadConfig(config, configID: configId)
        if strict && !cfg.warnings.isEmpty {
            for e in cfg.warningsAsErrors { printError(e.description) }
            printError("\(config): \(cfg.warnings.count) warning(s), which --strict counts as errors")
            throw ExitCode(1)
        }
        for w in cfg.warnings { printError(w.description) }
        let instances = cfg.failover.instances.count
        print("\(config): OK, \(cfg.services.count) virtual service(s)" + (instances > 0 ? ", \(instances) VRRP instance(s)" : ""))
        print(AdmRender.check(cfg), terminator: "")
    }
}

struct Adm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Control a running switchyard with ipvsadm's syntax.",
        discussion: """
        switchyard adm [--control PATH | --config PATH] [--log-level LEVEL] IPVSADM-ARGUMENTS

          -A|-E -t|-u VIP:PORT [-s SCHED] [-p [TIMEOUT]] [-M NETMASK]   add or edit a virtual service
          -D -t|-u VIP:PORT                                             delete a virtual service
          -a|-e -t|-u VIP:PORT -r RIP[:PORT] [-g|-m] [-w WEIGHT]        add or edit a real server
          -d -t|-u VIP:PORT -r RIP[:PORT]                               delete a real server
          -L|-l [-n] [--stats|--rate|--timeout] [-X] [--nosort] [--json] [-t VIP:PORT]   list
          -L|-l -c [-n] [--persistent-conn]                             list the connections and persistence templates
          --set TCP TCPFIN UDP      idle timeouts in seconds (0 keeps one)
          -Z [-t VIP:PORT]          zero the counters        -C   clear every service
          -S                        print the rules          -R   restore rules (as -S printed them) from stdin
          --reload                  re-read the config file (as SIGHUP)
          --trace CLIENT|off        log each packet from or to CLIENT as the workers decide it (at debug level)
          --vrrp                    each VRRP instance: state, priority, master, addresses
          --sync                    connection sync (lvs_sync_daemon): role and counters
          --engine                  the engine's frame counters (drops by reason) and frames per worker
          --metrics                 the same numbers and the table's in Prometheus's text format

        Without --control, the socket is found from --config, or is the one daemon's under /run/switchyard/.
        Addresses are always listed numerically; -n is accepted for ipvsadm's sake. Messages and exit
        statuses are ipvsadm 1.31's; a bare `switchyard adm` lists the table, as ipvsadm does.
        --log-level debug shows how the arguments were read and which socket is used.
        """)

    @Argument(parsing: .captureForPassthrough, help: "ipvsadm arguments (see above)")
    var arguments: [String] = []

    /// Exits as ipvsadm would: its status, its words on standard error (without a prefix, so
    /// that scripts matching ipvsadm's messages match these).
    func fail(_ text: String, _ status: Int32) -> ExitCode {
        printError(text.trimmingCharacters())
        return ExitCode(status)
    }

    func run() throws {
        var args = arguments
        var control: String?
        var config: String?
        var logLevel = "info"
        var i = 0
        // The arguments are ipvsadm's, passed through whole; switchyard's own are taken out here.
        while i < args.count {
            if ["--control", "--config", "--log-level"].contains(args[i]) && i + 1 < args.count {
                switch args[i] {
                case "--control": control = args[i + 1]
                case "--config": config = args[i + 1]
                default: logLevel = args[i + 1]
                }
                args.removeSubrange(i...(i + 1))
            } else {
                i += 1
            }
        }
        guard let level = Logger.Level(rawValue: logLevel) else {
            printError("switchyard adm: --log-level must be one of \(Log.levelNames.joined(separator: ", "))")
            throw ExitCode(2)
        }
        Log.bootstrap(level: level)
        // Read the arguments here first: -h and -v are answered without a daemon (as ipvsadm
        // answers them without the kernel), and a typo is reported with ipvsadm's words and status.
        let command: AdmCommand
        do {
            command = try AdmCommand.parse(args)
        } catch {
            throw fail(error.description, error.exitStatus)
        }
        if command == .help {
            print(AdmUsage.text, terminator: "")
            return
        }
        if command == .version {
            print(AdmUsage.version)
            return
        }
        let path: String
        if let control {
            path = control
        } else if let config {
            path = EngineOptions.defaultControlPath(configPath: config)
        } else {
            let live = liveSockets()
            guard live.count == 1 else {
                printError(live.isEmpty
                    ? "switchyard adm: no running switchyard found under /run/switchyard/; give --control PATH"
                    : "switchyard adm: several are running (\(live.joined(separator: ", "))); give --control PATH")
                throw ExitCode(2)
            }
            path = live[0]
        }
        Log.debug("adm: control socket \(path)")
        var input = ""
        if command == .restore {
            var line: String?
            repeat {
                line = readLine(strippingNewline: false)
                input += line ?? ""
            } while line != nil
        }
        let answer: (ok: Bool, text: String, status: Int32)
        do {
            answer = try ControlClient.send(path: path, arguments: args, input: input)
        } catch {
            printError("switchyard adm: \(error)")
            throw ExitCode(2)
        }
        if answer.ok {
            print(answer.text, terminator: "")
            if answer.status != 0 { throw ExitCode(answer.status) }
        } else {
            throw fail(answer.text, answer.status)
        }
    }

    func liveSockets() -> [String] {
        guard let dir = opendir("/run/switchyard") else { return [] }
        defer { closedir(dir) }
        var found: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix(".sock"), ControlClient.isLive("/run/switchyard/" + name) {
                found.append("/run/switchyard/" + name)
            }
        }
        return found.sorted()
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

/// Finds one of the project's shell scripts: $SWITCHYARD_SCRIPTS, then a scripts/ folder above
/// the executable (a source checkout), then the install locations.
func findScript(_ name: String) -> String? {
    var candidates: [String] = []
    if let dir = getenv("SWITCHYARD_SCRIPTS") { candidates.append(String(cString: dir) + "/" + name) }
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if n > 0 {
        var dir = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        for _ in 0..<5 {
            guard let slash = dir.lastIndex(of: "/") else { break }
            dir = String(dir[..<slash])
            candidates.append(dir + "/scripts/" + name)
        }
    }
    candidates += ["/usr/local/share/switchyard/" + name, "/usr/share/switchyard/" + name]
    // The Debian package installs the real-server script as a command of its own.
    if name == "realserver.sh" { candidates.append("/usr/sbin/switchyard-realserver") }
    return candidates.first { access($0, R_OK) == 0 }
}

/// Replaces this process with the script (its #! line names the shell: sh or bash).
func execScript(_ name: String, _ arguments: [String]) throws -> Never {
    guard let path = findScript(name) else {
        printError("cannot find scripts/\(name); set SWITCHYARD_SCRIPTS to the folder that holds it")
        throw ExitCode(1)
    }
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    execv(path, argv)
    printError("cannot run \(path): \(String(cString: strerror(errno)))")
    throw ExitCode(1)
}

struct RealServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realserver",
        abstract: "Prepare a real server (runs scripts/realserver.sh): up|down|check VIP… for DR, gateway LB_ADDRESS for NAT.")

    @Argument(parsing: .captureForPassthrough, help: "up VIP…, down VIP…, check VIP…, gateway LB_ADDRESS or check gateway LB_ADDRESS")
    var arguments: [String] = []

    func run() throws { try execScript("realserver.sh", arguments) }
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a lab in network namespaces and send traffic through the VIP (runs scripts/demo.sh).")

    @Argument(parsing: .captureForPassthrough, help: "Options for scripts/demo.sh (see --help there).")
    var arguments: [String] = []

    func run() throws { try execScript("demo.sh", arguments) }
}
