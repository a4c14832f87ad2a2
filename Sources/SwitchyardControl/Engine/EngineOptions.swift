// How `switchyard run` was asked to run: its options, and the control socket's default name.
import Glibc
import SwitchyardIO

/// How `switchyard run` was asked to run.
public struct EngineOptions: Sendable {
    public var configPath: String
    /// The interface the VIPs are served on; nil = the one the kernel routes each VIP through.
    public var interface: String?
    public var workers: Int
    /// Seconds between stats lines in the log; 0 = only at exit.
    public var statsInterval: Int
    /// The control socket's path.
    public var controlPath: String
    /// How workers send.
    public var txMode: TXMode
    /// How workers receive.
    public var rxMode: RXMode
    /// Put the guard's tcx program in front of its nftables chain, where the kernel has tcx.
    public var guardTCX = true
    /// How AF_PACKET rings hand frames over (TPACKET_V2 frames or TPACKET_V3 blocks).
    public var ringFormat = RingFormat.frames
    /// Turn GRO off on the engine's interfaces while it runs (--no-gro; always with AF_XDP,
    /// whose receive path cuts super-packets in software). With AF_PACKET, GRO stays as it is:
    /// its super-packets are forwarded whole (GSO.swift), one rewrite for many wire packets.
    public var gro = true
    /// Microseconds each worker busy-polls its rings after its last frame (--busy-poll; 0: none).
    public var busyPoll = 0
    /// --busy-poll's default: long enough to catch a reply that comes back through the engine
    /// within a round trip of a request it just forwarded (a NAT exchange on one L2 segment), so
    /// that it does not pay a poll() wake-up; short enough that a worker sleeps at once when
    /// traffic stops. Workers that must share CPUs take none (they would spin on each other).
    public static let defaultBusyPoll = 30

    /// --busy-poll when the operator gives none: `defaultBusyPoll` if each worker can have a
    /// CPU of its own, 0 if they take turns.
    public static func defaultBusyPoll(workers: Int, cpus: Int) -> Int {
        workers <= cpus ? defaultBusyPoll : 0
    }
    /// Seconds between a sync master's full walks (repairs lost messages, refreshes idle flows).
    public var syncRefresh = SyncService.defaultRefreshSeconds
    /// What the config's `@ID` lines are compared with (--config-id); nil: the host name's first label.
    public var configID: String?

    public init(configPath: String, interface: String?, workers: Int, statsInterval: Int, controlPath: String,
                txMode: TXMode = .ring, rxMode: RXMode = .afPacket) {
        self.configPath = configPath
        self.interface = interface
        self.workers = workers
        self.statsInterval = statsInterval
        self.controlPath = controlPath
        self.txMode = txMode
        self.rxMode = rxMode
    }

    /// The default control socket for a config file: under /run/switchyard/, named after the
    /// file and a hash of its absolute path, so two daemons with different configs never collide
    /// and `adm --config` finds the right one.
    public static func defaultControlPath(configPath: String) -> String {
        var absolute = configPath
        if !absolute.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: 4096)
            if getcwd(&buffer, buffer.count) != nil {
                absolute = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } + "/" + configPath
            }
        }
        let name = absolute.split(separator: "/").last.map(String.init) ?? "switchyard"
        let stem = name.split(separator: ".").first.map(String.init) ?? name
        // FNV-1a: a short, stable tag of the path.
        var h: UInt32 = 2_166_136_261
        for b in absolute.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        let tag = String(h, radix: 16)
        return "/run/switchyard/\(stem)-\(String(repeating: "0", count: 8 - tag.count))\(tag).sock"
    }
}
