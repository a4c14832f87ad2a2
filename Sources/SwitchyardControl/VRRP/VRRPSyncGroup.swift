// A vrrp_sync_group as keepalived runs it: the member machines, and the rules that move them
// together (vrrp_sync.c). One member's FAULT puts all in FAULT, one yielding MASTER makes all
// BACKUP, and the group becomes MASTER only when every member's down timer has run out.
// Pure like the members: events in, tagged actions out, on the caller's clock.

public struct VRRPSyncGroup: Sendable {
    public enum Action: Sendable, Equatable {
        /// An action of one member, by instance name.
        case member(String, VRRPInstance.Action)
        case transition(from: VRRPInstance.State, to: VRRPInstance.State)
        /// Run the group's notify scripts (`VRRPNotify.commands(for: group, …)`).
        case notify(VRRPInstance.State)
    }

    public let config: VRRPSyncGroupConfig
    public private(set) var members: [VRRPInstance]
    /// keepalived's group state: at start MASTER when every member is an owner configured
    /// MASTER, else BACKUP; then it follows the members.
    public private(set) var state: VRRPInstance.State = .initialize
    private let ofOwners: Bool

    public init(config: VRRPSyncGroupConfig, members: [VRRPInstance]) {
        self.config = config
        self.members = members
        ofOwners = !members.isEmpty && members.allSatisfy { $0.config.priority == 255 && $0.config.initialState == .master }
        for i in self.members.indices {
            self.members[i].inSyncGroup = true
            self.members[i].syncGroupOfOwners = ofOwners
        }
    }

    public var nextDeadline: Double? { members.compactMap(\.nextDeadline).min() }

    public func member(_ name: String) -> VRRPInstance? { members.first { $0.config.name == name } }

    /// Hands `event` to the member called `name`, or to every member when nil (start, timer,
    /// tracking, shutdown), and applies the group's rules to what they answer.
    public mutating func handle(_ event: VRRPInstance.Event, member name: String? = nil, at now: Double) -> [Action] {
        var out: [Action] = []
        // keepalived announces the group's starting state before its members'.
        if event == .start && state == .initialize { setState(ofOwners ? .master : .backup, &out) }
        let targets = name.map { n in members.indices.filter { members[$0].config.name == n } } ?? Array(members.indices)
        for i in targets {
            let actions = members[i].handle(event, at: now)
            out += actions.map { .member(members[i].config.name, $0) }
            for action in actions { react(to: action, of: i, now, &out) }
        }
        if state == .fault {
            // A member that started (or recovered its own tracking) while the group is in FAULT
            // joins it: keepalived counts faulty members and keeps the whole group down.
            for i in members.indices where members[i].state == .backup || members[i].state == .master {
                command(.fault, i, now, &out)
            }
        }
        if event == .shutdown && targets.count == members.count { setState(.stopped, &out) }
        return out
    }

    private mutating func react(to action: VRRPInstance.Action, of i: Int, _ now: Double, _ out: inout [Action]) {
        switch action {
        case .wantsMaster:
            // vrrp_sync_can_goto_master: only when every other member wants MASTER too (or the
            // group already is), so a single instance whose master vanished does not drag the
            // others over while their masters still advertise.
            let othersWant = members.indices.allSatisfy { $0 == i || members[$0].wantsMaster || members[$0].state == .master }
            guard state == .master || othersWant else { return }
            // The one that asked goes first, for its own cause; vrrp_sync_master then moves the
            // rest, which only followed.
            command(.grantMaster, i, now, &out)
            for j in members.indices where j != i { command(.master, j, now, &out) }
            setState(.master, &out)
        case .transition(from: .master, to: .backup, cause: let cause) where cause != .syncGroup:
            // vrrp_sync_backup: a member heard a better master; the others follow it down.
            for j in members.indices where j != i { command(.backup, j, now, &out) }
            setState(.backup, &out)
        case .transition(from: _, to: .fault, cause: let cause) where cause != .syncGroup:
            // vrrp_sync_fault: masters among the others send priority 0 and all go to FAULT.
            for j in members.indices where j != i { command(.fault, j, now, &out) }
            setState(.fault, &out)
        case .faultCleared:
            // try_up_instance: the group leaves FAULT only when no member has a fault of its own,
            // and then to BACKUP, never straight to MASTER.
            guard members.allSatisfy(\.isReady) else { return }
            command(.backup, i, now, &out)
            for j in members.indices where j != i { command(.backup, j, now, &out) }
            setState(.backup, &out)
        default:
            break
        }
    }

    private mutating func command(_ command: VRRPInstance.SyncCommand, _ i: Int, _ now: Double, _ out: inout [Action]) {
        let actions = members[i].handle(.syncGroup(command), at: now)
        out += actions.map { .member(members[i].config.name, $0) }
    }

    private mutating func setState(_ next: VRRPInstance.State, _ out: inout [Action]) {
        guard next != state else { return }
        out.append(.transition(from: state, to: next))
        out.append(.notify(next))
        state = next
    }
}
