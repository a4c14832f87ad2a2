// A test bench for the VRRP machines: boxes (one instance or one sync group each) on a virtual
// clock, joined by an in-memory network that hands every advert a box sends to the other boxes'
// instance with the same VRID, with partitions and loss. Records every action with its time.
@testable import SwitchyardControl
import SwitchyardCore

struct VRRPLab {
    enum Unit {
        case single(VRRPInstance)
        case group(VRRPSyncGroup)
    }

    struct Box {
        var name: String
        var address: IPAddressBits
        var unit: Unit
        var alive = true
    }

    struct Entry {
        var time: Double
        var box: String
        var instance: String
        var action: VRRPInstance.Action
    }

    var boxes: [Box] = []
    var now = 0.0
    var log: [Entry] = []
    var groupLog: [(time: Double, box: String, action: VRRPSyncGroup.Action)] = []
    /// Pairs of box indices that cannot hear each other.
    var cut: Set<[Int]> = []
    /// Return true to lose that advert.
    var drop: ((_ from: Int, _ to: Int, _ vrid: UInt8, _ time: Double) -> Bool)?
    private var inbox: [(box: Int, instance: String?, event: VRRPInstance.Event)] = []

    static func address(_ i: Int) -> IPAddressBits { IPAddressBits(v4: 0xC612_0000 | UInt32(i + 1)) }  // 198.18.0.(i+1)

    static func config(_ name: String = "VI_1", vrid: UInt8 = 1, priority: UInt8, advert: UInt16 = 10, version: UInt8 = 3,
                       state: VRRPInstanceConfig.InitialState = .backup, preempt: Bool = true, preemptDelay: Double = 0,
                       interface: String = "eth0") -> VRRPInstanceConfig {
        var c = VRRPInstanceConfig(name: name, location: SourceLocation(line: 1, column: 1))
        c.virtualRouterID = vrid
        c.priority = priority
        c.advertInterval = advert
        c.version = version
        c.initialState = state
        c.preempt = preempt
        c.preemptDelay = preemptDelay
        c.interface = interface
        return c
    }

    /// Adds a box holding one instance; returns its index.
    @discardableResult
    mutating func add(_ name: String, _ config: VRRPInstanceConfig, scripts: [VRRPScriptConfig] = []) -> Int {
        let address = Self.address(boxes.count)
        boxes.append(Box(name: name, address: address,
                         unit: .single(VRRPInstance(config: config, scripts: scripts, localAddress: address))))
        return boxes.count - 1
    }

    /// Adds a box holding a sync group of these instances.
    @discardableResult
    mutating func addGroup(_ name: String, _ configs: [VRRPInstanceConfig]) -> Int {
        let address = Self.address(boxes.count)
        var group = VRRPSyncGroupConfig(name: "G", location: SourceLocation(line: 1, column: 1))
        group.instances = configs.map(\.name)
        let members = configs.map { VRRPInstance(config: $0, localAddress: address) }
        boxes.append(Box(name: name, address: address, unit: .group(VRRPSyncGroup(config: group, members: members))))
        return boxes.count - 1
    }

    func instance(_ box: Int, _ name: String = "VI_1") -> VRRPInstance {
        switch boxes[box].unit {
        case .single(let i): return i
        case .group(let g): return g.member(name)!
        }
    }

    func state(_ box: Int, _ name: String = "VI_1") -> VRRPInstance.State { instance(box, name).state }

    /// Names of the boxes whose instance `name` is master now.
    func masters(_ name: String = "VI_1") -> [String] {
        boxes.indices.filter { boxes[$0].alive && state($0, name) == .master }.map { boxes[$0].name }
    }

    /// Times at which `box`'s instance entered `state`.
    func entered(_ state: VRRPInstance.State, box: Int, _ name: String = "VI_1") -> [Double] {
        log.filter { entry in
            guard entry.box == boxes[box].name, entry.instance == name,
                  case .transition(_, let to, _) = entry.action else { return false }
            return to == state
        }.map(\.time)
    }

    /// Times `box`'s instance sent an advert with a priority above 0 (or exactly `priority`).
    func adverts(box: Int, _ name: String = "VI_1", priority: UInt8? = nil) -> [Double] {
        log.filter { entry in
            guard entry.box == boxes[box].name, entry.instance == name, case .sendAdvert(let p) = entry.action else { return false }
            return priority.map { $0 == p } ?? (p > 0)
        }.map(\.time)
    }

    func actions(box: Int, _ name: String = "VI_1") -> [(time: Double, action: VRRPInstance.Action)] {
        log.filter { $0.box == boxes[box].name && $0.instance == name }.map { ($0.time, $0.action) }
    }

    /// Delivers `event` to a box now, then every advert that results, until the network is quiet.
    mutating func send(_ event: VRRPInstance.Event, to box: Int, instance: String? = nil) {
        inbox.append((box, instance, event))
        while !inbox.isEmpty {
            let (b, name, event) = inbox.removeFirst()
            guard boxes[b].alive else { continue }
            var tagged: [(String, VRRPInstance.Action)] = []
            switch boxes[b].unit {
            case .single(var i):
                if name == nil || name == i.config.name { tagged = i.handle(event, at: now).map { (i.config.name, $0) } }
                boxes[b].unit = .single(i)
            case .group(var g):
                for action in g.handle(event, member: name, at: now) {
                    switch action {
                    case .member(let n, let a): tagged.append((n, a))
                    default: groupLog.append((now, boxes[b].name, action))
                    }
                }
                boxes[b].unit = .group(g)
            }
            for (n, action) in tagged {
                log.append(Entry(time: now, box: boxes[b].name, instance: n, action: action))
                if case .sendAdvert(let priority) = action { deliver(from: b, instance: n, priority: priority) }
            }
        }
    }

    private mutating func deliver(from b: Int, instance name: String, priority: UInt8) {
        let sender = instance(b, name)
        let advert = ReceivedAdvert(priority: priority, maxAdvertInterval: sender.config.advertInterval,
                                    sourceAddress: boxes[b].address)
        for to in boxes.indices where to != b && boxes[to].alive && !cut.contains([min(b, to), max(b, to)]) {
            if drop?(b, to, sender.config.virtualRouterID, now) == true { continue }
            for target in instances(of: to) where target.config.virtualRouterID == sender.config.virtualRouterID {
                inbox.append((to, target.config.name, .advert(advert)))
            }
        }
    }

    private func instances(of box: Int) -> [VRRPInstance] {
        switch boxes[box].unit {
        case .single(let i): return [i]
        case .group(let g): return g.members
        }
    }

    private func deadline(_ box: Int) -> Double? {
        switch boxes[box].unit {
        case .single(let i): return i.nextDeadline
        case .group(let g): return g.nextDeadline
        }
    }

    /// Runs the timers up to `time` (each box's timer exactly at its deadline), then sets the clock to it.
    mutating func run(until time: Double) {
        while let (b, due) = boxes.indices.filter({ boxes[$0].alive })
            .compactMap({ b in deadline(b).map { (b, $0) } }).min(by: { $0.1 < $1.1 }), due <= time {
            now = max(now, due)
            send(.timer, to: b)
        }
        now = max(now, time)
    }

    mutating func startAll() { for b in boxes.indices { send(.start, to: b) } }

    /// The box dies silently: no priority 0, no more adverts or timers.
    mutating func kill(_ box: Int) { boxes[box].alive = false }

    /// The box comes back with a fresh machine (as after a restart) and starts now.
    mutating func restart(_ box: Int) {
        switch boxes[box].unit {
        case .single(let i):
            boxes[box].unit = .single(VRRPInstance(config: i.config, localAddress: boxes[box].address))
        case .group(let g):
            let fresh = g.members.map { VRRPInstance(config: $0.config, localAddress: boxes[box].address) }
            boxes[box].unit = .group(VRRPSyncGroup(config: g.config, members: fresh))
        }
        boxes[box].alive = true
        send(.start, to: box)
    }
}
