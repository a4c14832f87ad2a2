// The words of the VRRP state machine: what it is told (events, received adverts), what it
// answers (actions), its states and the causes it gives for moving between them, and keepalived's
// switches that change its answers. VRRPInstance.swift holds the machine itself.
import SwitchyardCore

/// What the machine needs of a received advert; the glue maps the codec's output to it. The
/// advert is already checked (VRID, TTL 255, checksum, authentication) and not our own.
public struct ReceivedAdvert: Sendable, Equatable {
    public var priority: UInt8
    /// Max Adver Int in centiseconds (version 2: the seconds field × 100).
    public var maxAdvertInterval: UInt16
    /// The sender's primary address (the IPv4 source): breaks ties between equal priorities.
    public var sourceAddress: IPAddressBits

    public init(priority: UInt8, maxAdvertInterval: UInt16, sourceAddress: IPAddressBits) {
        self.priority = priority
        self.maxAdvertInterval = maxAdvertInterval
        self.sourceAddress = sourceAddress
    }
}

extension VRRPInstance {
    public enum State: String, Sendable, Equatable {
        case initialize = "INIT", backup = "BACKUP", master = "MASTER", fault = "FAULT", stopped = "STOP"
    }

    /// Why a transition happened, for the log line and `adm`.
    public enum Cause: Sendable, Equatable {
        case started
        /// Priority 255 with `state MASTER`: no wait (RFC 5798 section 6.4.1).
        case addressOwner
        /// The master's adverts stopped for Master_Down_Interval.
        case masterDown
        /// The master sent priority 0 (it is stopping): we waited only Skew_Time.
        case masterReleased
        /// We ignored a lower-priority master's adverts until our down timer ran out.
        case preempted
        case higherPriority(IPAddressBits, UInt8)
        case trackingFailed(String)
        case trackingRecovered
        case syncGroup
        case shutdown
    }

    public enum Event: Sendable, Equatable {
        case start
        case advert(ReceivedAdvert)
        /// The clock reached `nextDeadline` (early or repeated calls are harmless).
        case timer
        case interface(String, up: Bool)
        /// One raw run of a vrrp_script; rise/fall are counted here.
        case scriptResult(String, success: Bool)
        /// Graceful stop: a master sends priority 0 first.
        case shutdown
        /// From `VRRPSyncGroup` only: the group moves this member.
        case syncGroup(SyncCommand)
        /// Connection sync's say (`SyncService.holdsPreemption`): while true, a lower-priority
        /// master's adverts are accepted as preempt_delay accepts them, so this box does not take
        /// over connections its catch-up has not brought yet. A dead master is still taken over.
        case preemptionHold(Bool)
    }

    public enum SyncCommand: Sendable, Equatable {
        /// The member that asked (`wantsMaster`) may go: it becomes master for its own cause
        /// (the master went silent, preemption), which its log line names.
        case grantMaster
        /// The others follow the group, cause `.syncGroup`.
        case master, backup, fault
    }

    public enum Action: Sendable, Equatable {
        /// Send one advert now, with this priority (0: we are giving up mastership).
        case sendAdvert(priority: UInt8)
        /// The caller serves the VIPs exactly while the state is MASTER.
        case transition(from: State, to: State, cause: Cause)
        /// Send `count` gratuitous ARPs for every virtual address (garp_master_* schedule).
        case gratuitousARP(count: Int)
        /// Run the notify scripts for this state (`VRRPNotify.commands` gives the command lines).
        case notify(State, priority: UInt8)
        case priorityChanged(from: UInt8, to: UInt8)
        /// As master: another master advertises a lower priority (or ours with a lower address),
        /// split brain healing or a router coming back. `answered`: our advert follows at once to
        /// make it step down (keepalived's "forcing new election"); false with
        /// lower_prio_no_advert. Said only for the log, which keepalived writes too.
        case heardLowerPriority(IPAddressBits, priority: UInt8, answered: Bool)
        /// In a sync group: our down timer ran out; the group decides (we stay BACKUP for now).
        case wantsMaster
        /// In a sync group: our own fault is gone; the group decides when all members are clear.
        case faultCleared
    }

    /// keepalived's global/instance switches that the config does not carry yet.
    public struct Options: Sendable, Equatable {
        /// `lower_prio_no_advert`: as master, do not answer a lower-priority advert at once.
        public var lowerPriorityNoAdvert = false
        /// `higher_prio_send_advert`: as master, send one advert before yielding to a higher one.
        public var higherPrioritySendAdvert = false
        public init() {}
    }
}
