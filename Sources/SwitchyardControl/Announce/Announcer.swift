// The VIP routes this engine keeps for a routing daemon: which stand now, bringing them in line
// with the announcement rule (AnnouncePlan) after every change, and withdrawing them all when
// the engine stops. The kernel is reached through a RoutePort: the announce link, a fake in tests.
import SwitchyardCore
import SwitchyardIO

/// Where the routes go: the announce link (AnnounceLink), or a fake.
public protocol RoutePort: AnyObject, Sendable {
    /// The device the routes go through, for the log.
    var name: String { get }
    /// Adds (or keeps) `vip`'s route in `table`; nil, or why it failed.
    func add(_ vip: IPAddressBits, table: UInt32) -> String?
    /// Removes `vip`'s route from `table` (a route already gone counts as removed); nil, or why
    /// it failed.
    func remove(_ vip: IPAddressBits, table: UInt32) -> String?
    /// The VIPs whose route through the device stands in `table` now; nil if it cannot tell.
    func standing(table: UInt32) -> Set<IPAddressBits>?
    /// Makes a routing daemon forget a route of `vip` a killed run may have left it with.
    func clearStale(_ vip: IPAddressBits, table: UInt32)
    /// Gives up the device, and with it every route through it.
    func close()
}

extension AnnounceLink: RoutePort {}

/// One engine's announcements. Called from whichever thread changed the table (health checks,
/// adm, VRRP, the main loop); one lock keeps the calls in order, and each call works out what to
/// announce under that lock, so the latest state is the one applied last.
final class Announcer: @unchecked Sendable {
    private struct State {
        var port: (any RoutePort)?
        /// Between start and stop only is anything announced.
        var running = false
        /// The table the installed routes are in, and the VIPs whose route stands there.
        var table: UInt32?
        var installed: Set<IPAddressBits> = []
        /// What was last logged for a VIP not announced (its reason, or an error), so a state
        /// that lasts is logged once.
        var logged: [IPAddressBits: String] = [:]
    }
    private let state = Locked(State())
    /// Makes the port the first time a table is configured.
    private let makePort: () throws -> any RoutePort

    init(makePort: @escaping () throws -> any RoutePort) {
        self.makePort = makePort
    }

    /// From now on, routes follow the rule.
    func start() {
        state.withLock { $0.running = true }
    }

    /// Brings the routes in line with `inputs()` (the configured table, and each VIP's verdict),
    /// worked out under this object's lock.
    func update(_ inputs: () -> (table: UInt32?, verdicts: [IPAddressBits: AnnounceVerdict])) {
        state.withLock { s in
            guard s.running else { return }
            let (table, verdicts) = inputs()
            // A reload that moved or dropped the table: the old routes go, all of them with the
            // device whatever `ip` would say; a new device is made for the new table.
            if let old = s.table, old != table {
                // Each route is deleted before the device goes: FRR hears of no route deleted
                // with a device.
                for vip in s.installed.sorted() { withdraw(vip, from: old, because: "the announce table changed", &s) }
                giveUpPort(&s)
            }
            guard let table else { return }
            s.table = table
            let fresh = s.port == nil
            guard let port = self.port(&s) else { return }
            // A new device in this table: what a killed run left the routing daemon goes first.
            if fresh { for vip in verdicts.keys.sorted() { port.clearStale(vip, table: table) } }
            let (add, remove) = AnnouncePlan.changes(installed: s.installed, verdicts: verdicts)
            for vip in remove { withdraw(vip, from: table, because: verdicts[vip]?.reason ?? "it left the config", &s) }
            for vip in add {
                if let failure = port.add(vip, table: table) {
                    note(vip, "cannot announce \(vip): \(failure)", &s, warning: true)
                    continue
                }
                s.installed.insert(vip)
                s.logged[vip] = nil
                Log.info("announcing \(vip): its route is in table \(table) through \(port.name) (proto \(Limits.announceRouteProtocol))")
            }
            for (vip, verdict) in verdicts where !s.installed.contains(vip) && !add.contains(vip) {
                if let reason = verdict.reason { note(vip, "not announcing \(vip): \(reason)", &s) }
            }
        }
    }

    /// Takes out of the books the routes that no longer stand (someone flushed the table or took
    /// the device down), so the next update puts them back.
    func verify() {
        state.withLock { s in
            guard s.running, let table = s.table, let port = s.port, !s.installed.isEmpty,
                  let standing = port.standing(table: table) else { return }
            for vip in s.installed.subtracting(standing).sorted() {
                Log.warning("the route of \(vip) left table \(table) without us: putting it back")
                s.installed.remove(vip)
            }
        }
    }

    /// Withdraws every route and announces nothing more; returns the table and the VIPs withdrawn.
    /// The device goes too, so a route whose `ip route del` failed goes with it.
    func stop() -> (table: UInt32, withdrawn: [IPAddressBits])? {
        state.withLock { s in
            guard s.running else { return nil }
            s.running = false
            guard let table = s.table else { return nil }
            let withdrawn = s.installed.sorted()
            for vip in withdrawn { withdraw(vip, from: table, because: "the engine is stopping", &s) }
            giveUpPort(&s)
            return (table, withdrawn)
        }
    }

    /// The VIPs whose route stands now (takes this object's lock: not to be read under the
    /// control plane's state lock, which `update` takes inside it).
    var announced: [IPAddressBits] { state.withLock { $0.installed.sorted() } }

    private func port(_ s: inout State) -> (any RoutePort)? {
        if let port = s.port { return port }
        do {
            let port = try makePort()
            s.port = port
            return port
        } catch {
            if s.logged[.zero] != "\(error)" {
                s.logged[.zero] = "\(error)"
                Log.error("cannot announce any VIP: \(error)")
            }
            return nil
        }
    }

    private func giveUpPort(_ s: inout State) {
        s.port?.close()
        s.port = nil
        s.table = nil
        s.installed = []
    }

    private func withdraw(_ vip: IPAddressBits, from table: UInt32, because reason: String, _ s: inout State) {
        if let failure = s.port?.remove(vip, table: table) {
            // Its route may stand still: the next update tries again.
            note(vip, "cannot withdraw \(vip): \(failure)", &s, warning: true)
            return
        }
        s.installed.remove(vip)
        s.logged[vip] = "not announcing \(vip): \(reason)"
        Log.info("withdrew \(vip) from table \(table): \(reason)")
    }

    private func note(_ vip: IPAddressBits, _ line: String, _ s: inout State, warning: Bool = false) {
        guard s.logged[vip] != line else { return }
        s.logged[vip] = line
        if warning { Log.warning(line) } else { Log.info(line) }
    }
}
