// The control plane's side of the workers' FlowExchanges: one consumer at a time drains their
// rings, walks are run one after another on every worker at once, a listing waits for its walk,
// and connection sync's records go to the sync service's sink whoever drains them.
import Glibc
import SwitchyardCore
import SwitchyardIO

/// Owns the control side of each worker's FlowExchange. Thread-safe: its users (the adm thread
/// for listings, the sync service's thread) take turns under one lock.
public final class FlowExchangeHub: @unchecked Sendable {
    let exchanges: [FlowExchange]

    struct Walk {
        var number: UInt32
        var purposes: UInt8
        var done: Set<Int> = []
    }

    struct State {
        var walkNumber: UInt32 = 0
        /// The number of the last walk every worker finished (walks finish in order).
        var finishedWalk: UInt32 = 0
        var current: Walk?
        /// Purposes asked for while a walk ran: the next walk's.
        var pending: UInt8 = 0
        var listing: [FlowRecord] = []
        /// Bumped when a walk with the list purpose ends (its records are in `finished`).
        var listingsFinished = 0
        var finished: [FlowRecord] = []
        /// Connection sync's records (changes and sync walks): handed to it in batches.
        var sink: (@Sendable ([FlowRecord]) -> Void)?
    }

    private let state = Locked(State())
    /// One listing at a time: a second waits for the first.
    private let listingTurn = Locked(())

    public init(exchanges: [FlowExchange]) {
        precondition(!exchanges.isEmpty)
        self.exchanges = exchanges
    }

    /// The sync service's sink for change records and sync-walk records (nil: dropped).
    public func setSink(_ sink: (@Sendable ([FlowRecord]) -> Void)?) { state.withLock { $0.sink = sink } }

    /// Whether workers queue their flows' changes (on while this box is the sync master).
    public func setSending(_ on: Bool) { exchanges.forEach { $0.setSending(on) } }

    /// Asks every worker to walk its tables for `purposes`, now or after the walk that runs.
    /// Returns the number of the walk that will do it (`walkFinished` says when it has).
    @discardableResult
    public func requestWalk(_ purposes: UInt8) -> UInt32 {
        state.withLock { s in
            s.pending |= purposes
            startNext(&s)
            // Nothing left pending: the walk just started took these purposes; else the next one will.
            return s.pending == 0 ? s.walkNumber : Self.after(s.walkNumber)
        }
    }

    /// Whether walk `number` (from `requestWalk`) has finished on every worker. Its records are
    /// then with the sink, or a moment from it when another thread's `pump` finished it.
    public func walkFinished(_ number: UInt32) -> Bool {
        state.withLock { Int32(bitPattern: $0.finishedWalk &- number) >= 0 }
    }

    /// The walk number after `n` (0 is the workers' "no walk yet").
    private static func after(_ n: UInt32) -> UInt32 { n == UInt32.max ? 1 : n + 1 }

    private func startNext(_ s: inout State) {
        guard s.current == nil, s.pending != 0 else { return }
        s.walkNumber = Self.after(s.walkNumber)
        s.current = Walk(number: s.walkNumber, purposes: s.pending)
        s.pending = 0
        for x in exchanges { x.requestWalk(number: s.walkNumber, purposes: s.current!.purposes) }
    }

    /// Whether a walk is running or waiting.
    public var walking: Bool { state.withLock { $0.current != nil || $0.pending != 0 } }

    /// Drains every worker's outbound ring: sync records to the sink, listed records to the
    /// listing, done markers end the walk (and start the next). Returns how many it took.
    @discardableResult
    public func pump() -> Int {
        var toSink: [FlowRecord] = []
        let (taken, sink) = state.withLock { s -> (Int, (@Sendable ([FlowRecord]) -> Void)?) in
            var taken = 0
            for (worker, x) in exchanges.enumerated() {
                while let r = x.outbound.pop() {
                    taken += 1
                    if r.isDoneMarker {
                        guard var walk = s.current, walk.number == r.realID else { continue }
                        walk.done.insert(worker)
                        s.current = walk
                        if walk.done.count == exchanges.count { finish(&s) }
                        continue
                    }
                    if r.origin == FlowRecord.change || r.origin & FlowRecord.walkSync != 0 { toSink.append(r) }
                    if r.origin & FlowRecord.walkList != 0 { s.listing.append(r) }
                }
            }
            return (taken, s.sink)
        }
        if !toSink.isEmpty { sink?(toSink) }
        return taken
    }

    private func finish(_ s: inout State) {
        guard let walk = s.current else { return }
        s.current = nil
        s.finishedWalk = walk.number
        if walk.purposes & FlowRecord.walkList != 0 {
            s.finished = s.listing
            s.listing = []
            s.listingsFinished += 1
        }
        startNext(&s)
    }

    /// Every worker's live connections and templates, by a walk of their tables; nil if the
    /// workers did not finish within `timeout` seconds (stopped, or the table is huge).
    public func listConnections(timeout: Double = 30) -> [FlowRecord]? {
        listingTurn.withLock { _ in
            let before = state.withLock { $0.listingsFinished }
            requestWalk(FlowRecord.walkList)
            let deadline = HealthProbes.monotonicSeconds() + timeout
            while HealthProbes.monotonicSeconds() < deadline {
                pump()
                let result = state.withLock { s -> [FlowRecord]? in
                    guard s.listingsFinished > before else { return nil }
                    let records = s.finished
                    s.finished = []
                    return records
                }
                if let result { return result }
                usleep(1_000)
            }
            return nil
        }
    }

    /// Hands a flow to `worker` to install; false if its ring is full.
    public func install(_ record: FlowRecord, worker: Int) -> Bool {
        exchanges[worker].inbound.push(record)
    }
}
