// What an instance's tracked interfaces and scripts make of it: its effective priority (base plus
// the weights, keepalived's clamping) and whether a weightless tracked item puts it in FAULT; with
// the rise/fall counter that turns a vrrp_script's raw exit results into OK or failed.

/// keepalived's rise/fall filter for one `vrrp_script`: `rise` successes in a row make it OK,
/// `fall` failures in a row make it failed. Before its first result a script is neither, and that
/// first result decides at once in either direction (keepalived starts the counter at rise − 1).
public struct VRRPScriptCounter: Sendable, Equatable {
    public let rise: Int
    public let fall: Int
    /// keepalived's `result`: 0 ..< rise is failed (or not yet risen), rise ... rise + fall − 1 is OK.
    private var result: Int
    /// nil until the first result; then whether the script counts as OK.
    public private(set) var isOK: Bool?

    public init(rise: Int, fall: Int) {
        self.rise = max(rise, 1)
        self.fall = max(fall, 1)
        result = self.rise - 1
    }

    /// Counts one run; returns the new status when it changes (including the first one).
    public mutating func record(success: Bool) -> Bool? {
        let before = isOK
        if success {
            if result < rise - 1 {
                result += 1
            } else {
                // Reaching rise (or already above it) is OK; a success while falling refills the counter.
                result = rise + fall - 1
                isOK = true
            }
        } else {
            if result > rise {
                result -= 1
            } else {
                // At rise (the last OK step), or while rising, or at the first result: failed.
                result = 0
                isOK = false
            }
        }
        return isOK == before ? nil : isOK
    }
}

/// The tracked items of one instance and what they make of its priority.
public struct VRRPTracking: Sendable, Equatable {
    /// One tracked interface or script. `weight` 0: its failure is a FAULT.
    public struct Item: Sendable, Equatable {
        public enum Kind: String, Sendable { case interface, script }
        public var kind: Kind
        public var name: String
        public var weight: Int
        /// nil: no result yet (a script before its first run).
        public var up: Bool?
    }

    public private(set) var items: [Item]
    private var counters: [String: VRRPScriptCounter]

    /// The instance's own interface is tracked without weight (keepalived puts an instance whose
    /// interface goes down in FAULT); `track_interface` entries keep their weights; a
    /// `track_script` takes its own weight, else the `vrrp_script`'s (0: FAULT on failure).
    /// Interfaces start up (the caller reports any that are down); scripts start unknown.
    public init(config: VRRPInstanceConfig, scripts: [VRRPScriptConfig]) {
        var items: [Item] = []
        if !config.interface.isEmpty {
            items.append(Item(kind: .interface, name: config.interface, weight: 0, up: true))
        }
        for tracked in config.trackInterfaces where tracked.name != config.interface {
            items.append(Item(kind: .interface, name: tracked.name, weight: tracked.weight ?? 0, up: true))
        }
        var counters: [String: VRRPScriptCounter] = [:]
        for tracked in config.trackScripts {
            guard let script = scripts.first(where: { $0.name == tracked.name }) else { continue }
            items.append(Item(kind: .script, name: tracked.name, weight: tracked.weight ?? script.weight, up: nil))
            counters[tracked.name] = VRRPScriptCounter(rise: script.rise, fall: script.fall)
        }
        self.items = items
        self.counters = counters
    }

    /// Records an interface's link state; true when that changed anything.
    public mutating func setInterface(_ name: String, up: Bool) -> Bool {
        var changed = false
        for i in items.indices where items[i].kind == .interface && items[i].name == name && items[i].up != up {
            items[i].up = up
            changed = true
        }
        return changed
    }

    /// Records one raw run of a script; true when its OK/failed status changed.
    public mutating func recordScript(_ name: String, success: Bool) -> Bool {
        guard var counter = counters[name] else { return false }
        let status = counter.record(success: success)
        counters[name] = counter
        guard let status else { return false }
        for i in items.indices where items[i].kind == .script && items[i].name == name { items[i].up = status }
        return true
    }

    /// The first weightless item that is down: the instance belongs in FAULT.
    public var fault: Item? { items.first { $0.weight == 0 && $0.up == false } }

    /// A weightless script has not reported yet: keepalived keeps the instance out of BACKUP
    /// and MASTER until it has.
    public var isPending: Bool { items.contains { $0.weight == 0 && $0.up == nil } }

    /// keepalived's effective priority: the base, plus each positive weight whose item is up,
    /// plus each negative weight whose item is down (items with no result yet count neither way),
    /// clamped to 1...254. The address owner (255) is never changed.
    public func effectivePriority(base: UInt8) -> UInt8 {
        guard base != 255 else { return 255 }
        var total = Int(base)
        for item in items where item.weight != 0 {
            if item.up == true && item.weight > 0 { total += item.weight }
            if item.up == false && item.weight < 0 { total += item.weight }
        }
        return UInt8(min(max(total, 1), 254))
    }
}
