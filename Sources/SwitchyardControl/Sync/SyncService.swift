// Connection sync's thread: while the lvs_sync_daemon's instance is master it sends the
// workers' flow changes (and a full walk every refresh period, and on a backup's catch-up
// request, then the request's answer); while it is not, it installs what the master sends, and
// holds its VRRP instances' preemption until its catch-up is answered. The socket is behind
// SyncTransport, so tests drive `tick` with a fake one and a clock of their own.
import Glibc
import Synchronization
import SwitchyardCore
import SwitchyardIO

/// The socket side of connection sync (SyncSocket in the daemon, a fake in tests).
public protocol SyncTransport: AnyObject, Sendable {
    /// Sends one datagram to the sync group (or peer); false if the socket refused it.
    func send(_ datagram: [UInt8]) -> Bool
    /// The next datagram waiting and its sender, or nil.
    func receive() -> (bytes: [UInt8], source: IPv4Address)?
    /// Returns when a datagram waits or after `milliseconds`.
    func wait(milliseconds: Int32)
}

/// What the sync service did, for `adm --sync` and the log.
public struct SyncStatistics: Sendable, Equatable {
    public var master = false
    public var messagesSent = 0
    public var entriesSent = 0
    public var sendFailures = 0
    public var messagesReceived = 0
    public var entriesInstalled = 0
    /// Entries not installed, by reason (SyncRefusal), and for a full worker ring.
    public var entriesRefused: [String: Int] = [:]
    public var installQueueFull = 0
    public var undecodable = 0
    public var unauthenticated = 0
    public var replayed = 0
    public var otherSyncID = 0
    /// Messages that came while this box was master (a second master's): not installed.
    public var ignoredAsMaster = 0
    public var catchUpsSent = 0
    public var catchUpsAnswered = 0
    /// Answers to this backup's catch-up requests heard (each lets preemption go ahead).
    public var caughtUp = 0
    public var walks = 0
    /// Changes dropped because the sender fell behind (its buffer was full).
    public var backlogDropped = 0
    public init() {}
}

public final class SyncService: @unchecked Sendable {
    /// How often the master sends every flow again: repairs lost messages and keeps the
    /// backup's copies of idle flows from expiring (IPVS has no such walk; see the note in
    /// docs/failover.md).
    public static let defaultRefreshSeconds = 30.0
    /// How long a backup waits for the answer to its catch-up request before asking again.
    static let catchUpRetrySeconds = 3.0
    /// How long a backup's VRRP instances hold their preemption at most, waiting for the answer
    /// (a kernel IPVS master never answers; a big table takes a few seconds to walk and send).
    public static let preemptionHoldSeconds = 10.0
    /// Records waiting to be sent at most (beyond: dropped and counted; the next walk repairs).
    static let backlogLimit = 1 << 20
    /// Datagrams read per turn at most (the rest wait for the next).
    static let receiveBudget = 512

    let config: SyncDaemonConfig
    let syncID: UInt8
    let hub: FlowExchangeHub
    let transport: SyncTransport
    let isMaster: @Sendable () -> Bool
    let generation: @Sendable () -> UInt64
    let directory: @Sendable () -> (directory: SyncDirectory, generation: UInt64)
    let auth: SyncAuth?
    let refreshSeconds: Double
    let maxLength: Int
    public let statistics = Locked(SyncStatistics())
    private let backlog = Locked<[FlowRecord]>([])
    private let stopFlag = Atomic<Bool>(false)
    /// Read by the VRRP thread: a backup whose catch-up is not answered yet (and not for long).
    private let holding = Atomic<Bool>(true)

    // The thread's own state (only `tick` touches it).
    private var role: Bool?
    private var nextRefresh = 0.0
    private var catchUpDue: Double?
    /// The last request's number: from a random start, so that two backups' numbers differ.
    private var catchUpNumber = UInt32.random(in: 0...UInt32.max)
    /// When this box last became backup, while its catch-up is unanswered; nil once answered
    /// or given up.
    private var holdSince: Double?
    /// The first request number of that wait: an answer to it or any later one counts (a big
    /// table's walk may outlast the retry interval).
    private var holdFirstNumber: UInt32 = 0
    private var answeredCatchUps: [UInt32: UInt32] = [:]
    /// Requests whose walk runs: answered once it has finished and its records are sent.
    private var answersDue: [(to: IPv4Address, request: UInt32, walk: UInt32)] = []
    private var sequence: UInt64
    private var windows: [UInt32: SyncReplayWindow] = [:]
    private var cached: (directory: SyncDirectory, generation: UInt64)?

    public init(config: SyncDaemonConfig, syncID: UInt8, hub: FlowExchangeHub, transport: SyncTransport,
                isMaster: @escaping @Sendable () -> Bool, generation: @escaping @Sendable () -> UInt64,
                directory: @escaping @Sendable () -> (directory: SyncDirectory, generation: UInt64),
                auth: SyncAuth? = nil, refreshSeconds: Double = SyncService.defaultRefreshSeconds,
                firstSequence: UInt64 = SyncAuthSequence.first()) {
        self.config = config
        self.syncID = syncID
        self.hub = hub
        self.transport = transport
        self.isMaster = isMaster
        self.generation = generation
        self.directory = directory
        self.auth = auth
        self.refreshSeconds = refreshSeconds
        self.maxLength = config.maxLength ?? SyncCodec.defaultMaxLength - (auth == nil ? 0 : SyncAuth.trailerLength)
        sequence = firstSequence
        hub.setSink { [backlog, statistics] records in
            let dropped = backlog.withLock { b -> Int in
                let room = max(0, SyncService.backlogLimit - b.count)
                b += records.prefix(room)
                return records.count - min(room, records.count)
            }
            if dropped > 0 { statistics.withLock { $0.backlogDropped += dropped } }
        }
    }

    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// Whether this box's VRRP instances should not preempt a lower-priority master yet: it is
    /// backup and the master has not answered its catch-up request (for at most
    /// `preemptionHoldSeconds`). Preempting before would move connections it does not know.
    public var holdsPreemption: Bool { holding.load(ordering: .relaxed) }

    /// The thread: a turn every 10 ms or when a datagram arrives, until stop(). Workers stop
    /// queuing changes when it ends.
    public func run() {
        while !stopFlag.load(ordering: .relaxed) {
            tick(now: HealthProbes.monotonicSeconds())
            transport.wait(milliseconds: 10)
        }
        hub.setSending(false)
        hub.setSink(nil)
    }

    /// One turn: follow the instance's role, send what the workers queued (master), read what
    /// came (and install it, as backup), and the timed walks and catch-up requests.
    public func tick(now: Double) {
        let master = isMaster()
        if master != role { changeRole(to: master, now: now) }
        hub.pump()
        let records = backlog.withLock { b -> [FlowRecord] in
            defer { b = [] }
            return b
        }
        if master {
            send(records)
            answerFinishedWalks()
        }
        for _ in 0..<Self.receiveBudget {
            guard let (bytes, source) = transport.receive() else { break }
            receive(bytes, from: source, master: master, now: now)
        }
        if master && now >= nextRefresh {
            walk()
            nextRefresh = now + refreshSeconds
        }
        if !master, let since = holdSince, now >= since + Self.preemptionHoldSeconds {
            Log.warning("sync: no answer to the catch-up request in \(Int(Self.preemptionHoldSeconds)) s (a kernel IPVS "
                + "master does not answer): VRRP preemption waits no longer")
            endHold()
        }
        if !master, let due = catchUpDue, now >= due { askForCatchUp(now: now) }
    }

    /// Stops holding preemption and asking for a catch-up.
    private func endHold() {
        holdSince = nil
        catchUpDue = nil
        holding.store(false, ordering: .relaxed)
    }

    /// Sends the answer to each catch-up request whose walk has finished: after its records,
    /// which this turn's pump handed to the backlog and `send` sent.
    private func answerFinishedWalks() {
        answersDue.removeAll { due in
            guard hub.walkFinished(due.walk) else { return false }
            _ = transport.send(seal(SyncCatchUpRequest(syncID: syncID, requestNumber: due.request, answered: true).encode()))
            Log.info("sync: every connection sent to \(due.to) (catch-up \(due.request) answered)")
            return true
        }
    }

    private func changeRole(to master: Bool, now: Double) {
        let first = role == nil
        role = master
        hub.setSending(master)
        statistics.withLock { $0.master = master }
        if master {
            endHold()
            nextRefresh = now + refreshSeconds
            Log.info("sync: \(config.instance) is master: sending connections on \(config.interface) to "
                + "\(config.group):\(config.port) (sync ID \(syncID))")
        } else {
            // Asked at once: a change message from the master may come first, and it says nothing
            // about the flows the backup has not heard of.
            answersDue = []
            holdSince = now
            holdFirstNumber = catchUpNumber &+ 1
            holding.store(true, ordering: .relaxed)
            askForCatchUp(now: now)
            if !first { Log.info("sync: \(config.instance) is no longer master: receiving connections") }
            else { Log.info("sync: receiving connections on \(config.interface) \(config.group):\(config.port) (sync ID \(syncID))") }
        }
    }

    @discardableResult
    private func walk() -> UInt32 {
        statistics.withLock { $0.walks += 1 }
        return hub.requestWalk(FlowRecord.walkSync)
    }

    private func send(_ records: [FlowRecord]) {
        guard !records.isEmpty else { return }
        let messages = SyncCodec.encode(records.lazy.compactMap(SyncTranslate.entry), syncID: syncID, maxLength: maxLength)
        var sent = 0
        var failed = 0
        for message in messages {
            if transport.send(seal(message)) { sent += 1 } else { failed += 1 }
        }
        statistics.withLock {
            $0.messagesSent += sent
            $0.sendFailures += failed
            $0.entriesSent += failed == 0 ? records.count : 0
        }
    }

    private func seal(_ bytes: [UInt8]) -> [UInt8] {
        guard let auth else { return bytes }
        sequence &+= 1
        return auth.seal(bytes, sequence: sequence)
    }

    /// The datagram's message if it passes authentication (when configured) and is not a replay.
    private func open(_ bytes: [UInt8], from source: IPv4Address) -> [UInt8]? {
        guard let auth else { return bytes }
        switch auth.open(bytes) {
        case .failure:
            statistics.withLock { $0.unauthenticated += 1 }
            return nil
        case .success(let opened):
            var window = windows[source.value] ?? SyncReplayWindow()
            guard window.check(opened.sequence) == .accepted else {
                statistics.withLock { $0.replayed += 1 }
                return nil
            }
            windows[source.value] = window
            return Array(opened.message)
        }
    }

    private func receive(_ bytes: [UInt8], from source: IPv4Address, master: Bool, now: Double) {
        guard let message = open(bytes, from: source) else { return }
        switch SyncDatagramKind.classify(message) {
        case .catchUp:
            guard let request = SyncCatchUpRequest.decode(message), request.syncID == syncID || syncID == 0 else { return }
            if request.answered {
                guard !master, holdSince != nil,
                      request.requestNumber &- holdFirstNumber <= catchUpNumber &- holdFirstNumber else { return }
                Log.info("sync: caught up: \(source) sent every connection (catch-up \(request.requestNumber) answered "
                    + "after \(Self.tenths(now - holdSince!)) s); VRRP may preempt")
                statistics.withLock { $0.caughtUp += 1 }
                endHold()
                return
            }
            guard master else { return }
            // One walk per request: a backup asking again gets a new walk, a repeat does not.
            guard answeredCatchUps[source.value] != request.requestNumber else { return }
            answeredCatchUps[source.value] = request.requestNumber
            Log.info("sync: \(source) asked for every connection (catch-up \(request.requestNumber)): walking the flow tables")
            statistics.withLock { $0.catchUpsAnswered += 1 }
            answersDue.append((source, request.requestNumber, walk()))
        case .ipvs:
            installMessage(message, master: master)
        case .unknown:
            statistics.withLock { $0.undecodable += 1 }
        }
    }

    private func installMessage(_ bytes: [UInt8], master: Bool) {
        let message: SyncMessage
        do {
            message = try SyncCodec.decode(bytes)
        } catch {
            statistics.withLock { $0.undecodable += 1 }
            return
        }
        guard message.isFor(backupSyncID: syncID) else {
            statistics.withLock { $0.otherSyncID += 1 }
            return
        }
        guard !master else {
            statistics.withLock { $0.ignoredAsMaster += 1 }
            return
        }
        // Rebuilt only when the table moved on (a reload, an adm change, a health report).
        if cached == nil || cached!.generation != generation() { cached = directory() }
        let d = cached!.directory
        var installed = 0
        var full = 0
        var refused: [String: Int] = [:]
        for entry in message.entries {
            switch SyncTranslate.record(entry, in: d) {
            case .success(let placed):
                if hub.install(placed.record, worker: placed.worker) { installed += 1 } else { full += 1 }
            case .failure(let why):
                refused["\(why)", default: 0] += 1
            }
        }
        statistics.withLock { s in
            s.messagesReceived += 1
            s.entriesInstalled += installed
            s.installQueueFull += full
            for (k, v) in refused { s.entriesRefused[k, default: 0] += v }
        }
    }

    private static func tenths(_ seconds: Double) -> String {
        let t = Int((seconds * 10).rounded())
        return "\(t / 10).\(t % 10)"
    }

    private func askForCatchUp(now: Double) {
        catchUpNumber &+= 1
        let request = SyncCatchUpRequest(syncID: syncID, requestNumber: catchUpNumber)
        _ = transport.send(seal(request.encode()))
        statistics.withLock { $0.catchUpsSent += 1 }
        catchUpDue = now + Self.catchUpRetrySeconds
    }
}
