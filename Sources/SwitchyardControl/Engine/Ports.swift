// The few doors through which the control plane reaches the I/O parts (workers, ARP, kernel
// guard, checkers, scripts). The daemon plugs in the real parts (LiveParts); unit tests plug
// in fakes that record what they were asked, as swift-nio's EmbeddedChannel stands in for a
// socket.
import Glibc
import SwitchyardCore
import SwitchyardIO

/// The addresses the I/O parts act on besides the snapshot: the VIPs (ARP answers, the packet
/// filter, the fanout program, the guard) and the NAT real servers' service endpoints (whose
/// replies the filter takes and the guard keeps from the kernel).
public struct AddressSets: Sendable, Equatable {
    /// Sorted (IPv4 first), each once: every VIP of the table (the packet filter and the guard
    /// keep them all).
    public var vips: [IPAddressBits] = []
    /// The VIPs this box serves now (ARP or neighbour discovery answered): all but those whose
    /// VRRP instance is not master here.
    public var answered: [IPAddressBits] = []
    /// The interface number each VIP is served on.
    public var vipInterface: [IPAddressBits: Int] = [:]
    /// Sorted, each once.
    public var natEndpoints: [KernelGuard.Endpoint] = []
    /// The interface number each NAT real server is reached on.
    public var natInterface: [IPAddressBits: Int] = [:]
    /// The client mask the fanout program keeps together on one worker (persistence templates
    /// live on the worker a client network's flows land on); all ones without persistence.
    public var clientMask: UInt32 = .max
    /// The same for IPv6 clients, as a prefix length: the shortest persistence prefix of the
    /// persistent IPv6 services; 128 without.
    public var clientPrefix6 = 128

    public init() {}

    /// The NAT real servers' addresses, sorted, each once.
    public var natReals: [IPAddressBits] { Array(Set(natEndpoints.map(\.address))).sorted() }
}

/// The forwarding side: workers, their filters and fanout, the ARP responders, the guard.
public protocol ForwardingPort: AnyObject, Sendable {
    /// Hands the workers a new snapshot.
    func publish(_ snapshot: ForwardingSnapshot)
    /// Brings ARP, the packet filter, the fanout program and the kernel guard in line with the
    /// sets.
    func apply(_ sets: AddressSets) throws
    /// With AF_XDP: re-reads this machine's own addresses; true if they changed.
    func refreshLocalAddresses() throws -> Bool
    /// The workers' counters summed, by name: the non-zero ones, and `forwarded` always.
    func engineCounters() -> [(String, UInt64)]
    /// Frames each worker received, by worker index.
    func framesPerWorker() -> [(Int, UInt64)]
    /// Flows in the workers' tables, and the tables' room for them, summed.
    func flowTable() -> (entries: Int, capacity: Int)
    /// The CPU time each worker's thread has used, in seconds, by worker index.
    func workerCPUSeconds() -> [Double]
    /// Gratuitous ARP (and unsolicited neighbour advertisements) for every VIP answered now (a
    /// takeover, garp_master_* bursts).
    func announce()
    /// Gratuitous ARP (IPv6: an unsolicited neighbour advertisement, with the router flag when the
    /// interface forwards IPv6) for one address from the engine's interface `interface`; false if
    /// the engine has no interface by that name.
    func announce(_ address: IPAddressBits, on interface: String) -> Bool
}

/// Where real servers' MACs come from: the kernel's neighbour table (IPv4), what the ARP and
/// neighbour discovery responders overheard, and their requests (ARP, solicitations).
public protocol NeighbourPort: AnyObject, Sendable {
    /// The kernel's neighbour tables of one of the engine's interfaces: IPv4's, and IPv6's too
    /// with `ipv6` (a netlink dump, read only when an IPv6 real server is there).
    func kernelNeighbours(interface: Int, ipv6: Bool) -> [IPAddressBits: MACAddress]
    /// A MAC the interface's ARP or neighbour discovery responder learned.
    func learnedMAC(for address: IPAddressBits, interface: Int) -> MACAddress?
    /// Asks for the address on the interface (ARP request or neighbour solicitation).
    func request(_ address: IPAddressBits, interface: Int)
}

/// The health checkers.
public protocol CheckerPort: AnyObject, Sendable {
    /// Starts (or restarts) a real server's checkers.
    func start(_ target: HealthMonitor.Target, checkers: [CheckerConfig], startUp: Bool) throws
    /// Stops them; returns once they can report no more.
    func stop(_ target: HealthMonitor.Target)
}

/// Runs the notify scripts (notify_up, quorum_down, …) without waiting for them.
public protocol ScriptPort: Sendable {
    func run(_ script: ScriptUse)
}

extension HealthMonitor: CheckerPort {}

/// Notify scripts through ScriptLauncher (script_user, a clean environment, the script
/// security policy), each started and waited for on a thread of its own (the child's
/// PR_SET_PDEATHSIG follows the thread that forked it, so that thread must outlive the script);
/// a non-zero exit is logged.
public struct ShellScripts: ScriptPort {
    public init() {}
    public func run(_ script: ScriptUse) {
        OSThread.detached(name: "sy-notify") {
            let pid: pid_t
            switch ScriptLauncher.start(script.command, user: script.user, group: script.group) {
            case .started(let started): pid = started
            case .refused, .failed: return  // the launcher has said why, once
            }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            if status != 0 { Log.warning("script \"\(script)\" exited \(status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F))") }
        }
    }
}
