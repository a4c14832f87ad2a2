// The command line's replay and explain: a capture, or one packet described by its fields, run
// through the real pipeline with a config's services; what happened to each packet in words.
import ArgumentParser
import SwitchyardControl
import SwitchyardCore
import SwitchyardIO

/// What the replay must be told of the balancer: its interfaces' MACs and its real servers'.
struct ReplaySetupOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A balancer interface as NAME=MAC, in the engine's order (repeat for two-arm); a frame came in on the one it is addressed to. Default: eth0=\(ReplaySetup.defaultMAC).", valueName: "NAME=MAC"))
    var interface: [String] = []

    @Option(name: .long, help: ArgumentHelp("A real server's MAC, and the number of the interface it is reached on (default 0). Without one it gets 02:00 and its address.", valueName: "IP=MAC[@N]"))
    var neighbour: [String] = []

    @Option(name: .long, help: "The interfaces' MTU.")
    var mtu = 1500

    func validate() throws {
        guard (68...65_535).contains(mtu) else { throw ValidationError("--mtu must be from 68 to 65535") }
    }

    func setup() throws -> ReplaySetup {
        var setup = ReplaySetup()
        setup.mtu = mtu
        if !interface.isEmpty {
            setup.interfaces = try interface.map { text in
                let parts = text.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty, let mac = MACAddress(parts[1]) else {
                    throw ValidationError("--interface \(text): expected NAME=MAC, as eth0=02:00:00:00:00:01")
                }
                return (String(parts[0]), mac)
            }
            guard setup.interfaces.count <= Limits.maxInterfaces else {
                throw ValidationError("at most \(Limits.maxInterfaces) --interface options")
            }
        }
        for text in neighbour {
            let parts = text.split(separator: "=", maxSplits: 1)
            let macAndInterface = parts.count == 2 ? parts[1].split(separator: "@", maxSplits: 1) : []
            guard parts.count == 2, let address = IPv4Address(String(parts[0])),
                  let first = macAndInterface.first, let mac = MACAddress(first)
            else { throw ValidationError("--neighbour \(text): expected IP=MAC or IP=MAC@N, as 198.18.0.11=02:00:00:00:00:11@1") }
            let number = macAndInterface.count == 2 ? Int(macAndInterface[1]) : (text.hasSuffix("@") ? nil : 0)
            guard let number, setup.interfaces.indices.contains(number) else {
                throw ValidationError("--neighbour \(text): after @, the number of one of the --interface options, 0 to \(setup.interfaces.count - 1)")
            }
            setup.neighbours[address] = (mac, number)
        }
        return setup
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run each frame of a capture through the pipeline with the config's services and say what it did.",
        discussion: """
            Prints, per frame: the service and flow (new, or a hit), the real server chosen, the \
            state, and the packet as it leaves, or the reason it was dropped. OUT.pcap gets the \
            frames as they would leave (rewritten, or the balancer's own ICMP answers). The \
            pipeline's clock follows the capture's timestamps. Real servers are up as the engine \
            starts them (no health checks run); a checksum the sending host left unfinished \
            (a capture taken on it) is told from its bytes and finished, as with AF_XDP.
            """)

    @Option(name: .long, help: "The keepalived-style config file.")
    var config: String

    @Option(name: .long, help: configIDHelp)
    var configId: String?

    @OptionGroup var balancer: ReplaySetupOptions

    @Argument(help: ArgumentHelp("The capture to read (pcap or pcapng, Ethernet).", valueName: "IN.pcap"))
    var input: String

    @Argument(help: ArgumentHelp("Where to write the frames that leave.", valueName: "OUT.pcap"))
    var output: String?

    func run() throws {
        let cfg = try loadConfig(config, configID: configId)
        let replay = PacketReplay(config: cfg, setup: try balancer.setup())
        let reader = try openOrExit { try PcapReader(path: input) }
        let writer = try output.map { path in try openOrExit { try PcapWriter(path: path) } }
        var number = 0
        var tally: [String: Int] = [:]
        while let frame = try openOrExit({ try reader.next() }) {
            number += 1
            guard frame.wireLength == frame.bytes.count else {
                print("\(number): cut short in the capture (\(frame.bytes.count) of \(frame.wireLength) bytes): not replayed")
                tally["cut short in the capture", default: 0] += 1
                continue
            }
            let outcome = replay.process(frame.bytes, microseconds: frame.microseconds)
            print("\(number): \(outcome.words)")
            tally[Self.tallyName(outcome.verdict), default: 0] += 1
            if let out = outcome.output { writer?.write(CapturedFrame(bytes: out, microseconds: frame.microseconds)) }
        }
        if let writer { try openOrExit { try writer.flush() } }
        let parts = tally.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            .map { "\($0.value) \($0.key)" }
        print("\(number) frame(s)" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", ")))
    }

    static func tallyName(_ verdict: Verdict) -> String {
        switch verdict {
        case .forward: "forwarded"
        case .reply: "answered by the balancer"
        case .pass: "left to the kernel"
        case .drop(let reason): "dropped (\(reason.name))"
        }
    }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say what the pipeline does with one packet, described by its fields, with the config's services.",
        discussion: "For example: switchyard explain --config /etc/switchyard/switchyard.conf --proto tcp --from 198.18.0.10:40000 --to 198.18.0.100:80 --flags S")

    @Option(name: .long, help: "The keepalived-style config file.")
    var config: String

    @Option(name: .long, help: configIDHelp)
    var configId: String?

    @Option(name: .long, help: "tcp, udp or icmp (an echo request).")
    var proto = "tcp"

    @Option(name: .long, help: ArgumentHelp("The client: ADDRESS:PORT (ADDRESS for icmp).", valueName: "ADDRESS[:PORT]"))
    var from: String

    @Option(name: .long, help: ArgumentHelp("Where it is sent: ADDRESS:PORT (ADDRESS for icmp).", valueName: "ADDRESS[:PORT]"))
    var to: String

    @Option(name: .long, help: "TCP flags as tcpdump writes them: S, SA, A (or .), FA, R, P, ...")
    var flags = "S"

    @Option(name: .long, help: "The packet's TTL.")
    var ttl = 64

    @Option(name: .long, help: "Bytes of payload.")
    var payload = 0

    @OptionGroup var balancer: ReplaySetupOptions

    func validate() throws {
        guard let p = PacketDescription.proto(named: proto) else { throw ValidationError("--proto must be tcp, udp or icmp") }
        let ports = p != IPProtocol.icmp
        guard PacketDescription.endpoint(from, needsPort: ports) != nil else {
            throw ValidationError("--from \(from): expected \(ports ? "ADDRESS:PORT, as 198.18.0.10:40000" : "an IPv4 address")")
        }
        guard PacketDescription.endpoint(to, needsPort: ports) != nil else {
            throw ValidationError("--to \(to): expected \(ports ? "ADDRESS:PORT, as 198.18.0.100:80" : "an IPv4 address")")
        }
        guard !flags.isEmpty, PacketDescription.tcpFlags(flags) != nil else {
            throw ValidationError("--flags \(flags): letters of SAFRPUEW, or . for a bare ACK")
        }
        guard (0...255).contains(ttl) else { throw ValidationError("--ttl must be from 0 to 255") }
        guard (0...1400).contains(payload) else { throw ValidationError("--payload must be from 0 to 1400 bytes") }
    }

    func run() throws {
        let cfg = try loadConfig(config, configID: configId)
        let setup = try balancer.setup()
        let p = PacketDescription.proto(named: proto) ?? IPProtocol.tcp
        let ports = p != IPProtocol.icmp
        guard let source = PacketDescription.endpoint(from, needsPort: ports),
              let destination = PacketDescription.endpoint(to, needsPort: ports)
        else { throw ValidationError("--from and --to must be addresses (with ports for tcp and udp)") }
        var packet = PacketDescription(proto: p, source: source.0, sourcePort: source.1,
                                       destination: destination.0, destinationPort: destination.1)
        packet.tcpFlags = PacketDescription.tcpFlags(flags) ?? TCPFlags.syn
        packet.ttl = UInt8(ttl)
        packet.payloadLength = payload
        let replay = PacketReplay(config: cfg, setup: setup)
        print(replay.process(packet.frame(to: setup.interfaces[0].mac)).words)
    }
}

/// Runs a file opening or reading step; its error is printed and the command exits 1.
func openOrExit<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}
