// One vrrp_instance's state machine (RFC 5798 section 6.4, with keepalived's choices where they
// differ): a pure value driven by events at times on a caller's clock, answering with actions.
// No sockets, no timers of its own: the caller asks `nextDeadline` and sends `.timer` then.
import SwitchyardCore

/// Driving it: `.start` once; adverts, link changes and raw script results as they come;
/// `.timer` whenever the clock passes `nextDeadline` (ask again after every call). Perform the
/// actions in the order given: an advert before the transition it belongs to, as keepalived.
/// The VIPs are served exactly while `state == .master`.
public struct VRRPInstance: Sendable {
    public let config: VRRPInstanceConfig
    public let options: Options
    /// Our primary address (unicast_src_ip or the interface's): the tie-breaker.
    public let localAddress: IPAddressBits
    public private(set) var state: State = .initialize
    public private(set) var tracking: VRRPTracking
    public private(set) var effectivePriority: UInt8
    /// Master_Adver_Interval, centiseconds: the master's advertised one once heard (version 3).
    public private(set) var masterAdvertInterval: UInt16
    public private(set) var masterAddress: IPAddressBits?
    public private(set) var masterPriority: UInt8?
    /// Set by `VRRPSyncGroup`: the machine then asks before becoming master or leaving FAULT.
    public var inSyncGroup = false
    /// Set by `VRRPSyncGroup` when every member is an owner configured MASTER: keepalived then
    /// starts the group MASTER and its owners take over at once.
    public var syncGroupOfOwners = false
    /// keepalived's wantstate MASTER: our down timer ran out but the sync group held us back.
    public private(set) var wantsMaster = false

    private var started = false
    private var downDeadline: Double?
    private var advertDeadline: Double?
    private var garpDelayDeadline: Double?
    private var garpRefreshDeadline: Double?
    /// keepalived's preempt_time: until then a lower-priority master's adverts are still accepted.
    private var preemptTime: Double?
    /// Set by `.preemptionHold`: a lower-priority master's adverts are still accepted meanwhile.
    public private(set) var preemptionHeld = false
    /// The cause a down-timer expiry will report (keepalived's next_master_reason).
    private var nextMasterCause: Cause = .masterDown

    public init(config: VRRPInstanceConfig, scripts: [VRRPScriptConfig] = [], localAddress: IPAddressBits,
                options: Options = Options()) {
        self.config = config
        self.options = options
        self.localAddress = localAddress
        tracking = VRRPTracking(config: config, scripts: scripts)
        effectivePriority = tracking.effectivePriority(base: config.priority)
        masterAdvertInterval = config.advertInterval
    }

    /// The next time the caller must send `.timer`; nil: nothing scheduled.
    public var nextDeadline: Double? {
        [downDeadline, advertDeadline, garpDelayDeadline, garpRefreshDeadline].compactMap { $0 }.min()
    }

    /// Whether tracking lets this instance out of FAULT (no weightless item down or unreported).
    public var isReady: Bool { tracking.fault == nil && !tracking.isPending }

    public mutating func handle(_ event: Event, at now: Double) -> [Action] {
        var out: [Action] = []
        switch event {
        case .start:
            guard !started, state == .initialize else { break }
            started = true
            effectivePriority = tracking.effectivePriority(base: config.priority)
            settleInit(now, &out)
        case .advert(let advert):
            // INIT, FAULT and STOP do not listen (RFC 5798 section 6.4: only Backup and Master do).
            switch state {
            case .backup: backupReceive(advert, now, &out)
            case .master: masterReceive(advert, now, &out)
            default: break
            }
        case .timer:
            timerFired(now, &out)
        case .interface(let name, let up):
            if tracking.setInterface(name, up: up) { trackingChanged(now, &out) }
        case .scriptResult(let name, let success):
            if tracking.recordScript(name, success: success) { trackingChanged(now, &out) }
        case .shutdown:
            shutdown(&out)
        case .syncGroup(let command):
            syncCommand(command, now, &out)
        case .preemptionHold(let held):
            preemptionHeld = held
        }
        return out
    }

    // MARK: timers

    private var downInterval: Double {
        VRRPTiming.seconds(microseconds: VRRPTiming.masterDownMicroseconds(
            version: config.version, priority: effectivePriority, masterAdvertInterval: masterAdvertInterval))
    }

    private var skewTime: Double {
        VRRPTiming.seconds(microseconds: VRRPTiming.skewMicroseconds(
            version: config.version, priority: effectivePriority, masterAdvertInterval: masterAdvertInterval))
    }

    private var advertInterval: Double { VRRPTiming.seconds(centiseconds: config.advertInterval) }

    private mutating func timerFired(_ now: Double, _ out: inout [Action]) {
        if state == .backup, let due = downDeadline, due <= now {
            if inSyncGroup {
                // keepalived prefers BACKUP until every member wants MASTER (no thrashing):
                // re-arm the timer and ask the group.
                wantsMaster = true
                downDeadline = now + downInterval
                out.append(.wantsMaster)
            } else {
                becomeMaster(cause: nextMasterCause, now, &out)
            }
        }
        guard state == .master else { return }
        if let due = advertDeadline, due <= now {
            // RFC 5798 section 6.4.3: on Adver_Timer expiry send an advert and restart the timer.
            out.append(.sendAdvert(priority: effectivePriority))
            advertDeadline = now + advertInterval
        }
        if let due = garpDelayDeadline, due <= now {
            out.append(.gratuitousARP(count: config.garpMasterRepeat))
            garpDelayDeadline = nil
        }
        if let due = garpRefreshDeadline, due <= now {
            out.append(.gratuitousARP(count: config.garpMasterRefreshRepeat))
            garpRefreshDeadline = now + config.garpMasterRefresh
        }
    }

    // MARK: start and tracking

    /// RFC 5798 section 6.4.1, keepalived's vrrp_init_state: the owner configured MASTER becomes
    /// master at once (in a sync group only when the whole group is owners); everyone else starts
    /// BACKUP with a whole Master_Down_Interval, except a sync group member configured MASTER,
    /// which keepalived lets ask after one advert interval plus the smallest skew.
    private mutating func settleInit(_ now: Double, _ out: inout [Action]) {
        if let fault = tracking.fault {
            enterFault(cause: .trackingFailed(fault.name), &out)
            return
        }
        guard !tracking.isPending else { return }
        masterAdvertInterval = config.advertInterval
        if config.initialState == .master && config.priority == 255 && (!inSyncGroup || syncGroupOfOwners) {
            becomeMaster(cause: .addressOwner, now, &out)
            return
        }
        if config.initialState == .master && inSyncGroup {
            downDeadline = now + advertInterval + VRRPTiming.seconds(microseconds: VRRPTiming.minimumSkewMicroseconds(
                version: config.version, masterAdvertInterval: masterAdvertInterval))
        } else {
            downDeadline = now + downInterval
        }
        move(to: .backup, cause: .started, &out)
    }

    private mutating func trackingChanged(_ now: Double, _ out: inout [Action]) {
        let newPriority = tracking.effectivePriority(base: config.priority)
        if newPriority != effectivePriority {
            let oldDown = downInterval
            out.append(.priorityChanged(from: effectivePriority, to: newPriority))
            effectivePriority = newPriority
            // keepalived moves a running down timer by the change in Master_Down_Interval; a
            // master's next advert simply carries the new priority.
            if state == .backup, let due = downDeadline { downDeadline = due + (downInterval - oldDown) }
        }
        switch state {
        case .initialize:
            if started { settleInit(now, &out) }
        case .backup, .master:
            if let fault = tracking.fault { enterFault(cause: .trackingFailed(fault.name), &out) }
        case .fault:
            guard isReady else { break }
            if inSyncGroup { out.append(.faultCleared) } else { leaveFault(now, &out) }
        case .stopped:
            break
        }
    }

    // MARK: adverts

    /// RFC 5798 section 6.4.2 as keepalived's vrrp_state_backup.
    private mutating func backupReceive(_ advert: ReceivedAdvert, _ now: Double, _ out: inout [Action]) {
        guard versionAccepts(advert) else { return }
        if advert.priority == 0 {
            // The master is stopping: take over after Skew_Time only.
            downDeadline = now + skewTime
            nextMasterCause = .masterReleased
            return
        }
        let stillDelaying = (config.preemptDelay > 0 && (preemptTime.map { $0 > now } ?? true)) || preemptionHeld
        guard !config.preempt || advert.priority >= effectivePriority || stillDelaying else {
            // Preempt: a lower-priority master is ignored; our down timer keeps running.
            masterAddress = advert.sourceAddress
            nextMasterCause = .preempted
            return
        }
        if config.version == 3 && VRRPTiming.adopts(advertisedInterval: advert.maxAdvertInterval) {
            masterAdvertInterval = advert.maxAdvertInterval
        }
        downDeadline = now + downInterval
        masterAddress = advert.sourceAddress
        masterPriority = advert.priority
        nextMasterCause = .masterDown
        wantsMaster = false
        if config.preemptDelay > 0 {
            // keepalived: the delay starts with the first lower-priority advert heard, and a
            // higher or equal master cancels it.
            if advert.priority >= effectivePriority {
                preemptTime = nil
            } else if preemptTime == nil {
                preemptTime = now + config.preemptDelay
            }
        }
    }

    /// RFC 5798 section 6.4.3 as keepalived's vrrp_state_master_rx.
    private mutating func masterReceive(_ advert: ReceivedAdvert, _ now: Double, _ out: inout [Action]) {
        guard versionAccepts(advert) else { return }
        let order = advert.sourceAddress == localAddress ? 0 : (advert.sourceAddress > localAddress ? 1 : -1)
        let higher = advert.priority > effectivePriority || (advert.priority == effectivePriority && order > 0)
        if advert.priority == 0 || (options.higherPrioritySendAdvert && higher) {
            out.append(.sendAdvert(priority: effectivePriority))
            if advert.priority == 0 {
                // Another router is releasing: answer at once so its backups see a master.
                advertDeadline = now + advertInterval
                return
            }
        }
        if advert.priority < effectivePriority || (advert.priority == effectivePriority && order < 0) {
            // Split brain or a returning lower router: keepalived (RFC 9568) answers at once so
            // the other master steps down within one round trip.
            out.append(.heardLowerPriority(advert.sourceAddress, priority: advert.priority,
                                           answered: !options.lowerPriorityNoAdvert))
            if !options.lowerPriorityNoAdvert {
                out.append(.sendAdvert(priority: effectivePriority))
                advertDeadline = now + advertInterval
            }
            return
        }
        guard higher else { return }
        if config.version == 3 && VRRPTiming.adopts(advertisedInterval: advert.maxAdvertInterval) {
            masterAdvertInterval = advert.maxAdvertInterval
        }
        masterAddress = advert.sourceAddress
        masterPriority = advert.priority
        leaveMaster(cause: .higherPriority(advert.sourceAddress, advert.priority), now, &out)
    }

    /// keepalived drops version 2 adverts whose interval differs from ours (RFC 3768 section
    /// 7.1: MUST verify); version 3 adopts the master's instead.
    private func versionAccepts(_ advert: ReceivedAdvert) -> Bool {
        config.version == 3 || advert.maxAdvertInterval == config.advertInterval
    }

    // MARK: transitions

    private mutating func move(to next: State, cause: Cause, _ out: inout [Action]) {
        let from = state
        state = next
        out.append(.transition(from: from, to: next, cause: cause))
        out.append(.notify(next, priority: effectivePriority))
    }

    /// keepalived's goto_master/master_tx: the advert goes first (so the old master drops the
    /// VIPs before our gratuitous ARPs), then the state, the first ARP burst, and the notify.
    private mutating func becomeMaster(cause: Cause, _ now: Double, _ out: inout [Action]) {
        wantsMaster = false
        downDeadline = nil
        masterAdvertInterval = config.advertInterval
        masterAddress = localAddress
        masterPriority = effectivePriority
        out.append(.sendAdvert(priority: effectivePriority))
        advertDeadline = now + advertInterval
        let from = state
        state = .master
        out.append(.transition(from: from, to: .master, cause: cause))
        out.append(.gratuitousARP(count: config.garpMasterRepeat))
        out.append(.notify(.master, priority: effectivePriority))
        garpDelayDeadline = config.garpMasterDelay > 0 ? now + config.garpMasterDelay : nil
        garpRefreshDeadline = config.garpMasterRefresh > 0
            ? now + config.garpMasterDelay + config.garpMasterRefresh : nil
    }

    private mutating func clearMasterTimers() {
        advertDeadline = nil
        garpDelayDeadline = nil
        garpRefreshDeadline = nil
    }

    /// To BACKUP without priority 0: someone better is master (RFC 5798 section 6.4.3).
    private mutating func leaveMaster(cause: Cause, _ now: Double, _ out: inout [Action]) {
        clearMasterTimers()
        preemptTime = nil
        downDeadline = now + downInterval
        nextMasterCause = .masterDown
        move(to: .backup, cause: cause, &out)
    }

    /// FAULT: a master first sends priority 0 so that a backup takes over after Skew_Time.
    private mutating func enterFault(cause: Cause, _ out: inout [Action]) {
        if state == .master { out.append(.sendAdvert(priority: 0)) }
        clearMasterTimers()
        downDeadline = nil
        wantsMaster = false
        if masterAddress == localAddress { masterAddress = nil; masterPriority = nil }
        move(to: .fault, cause: cause, &out)
    }

    /// Out of FAULT always to BACKUP with a fresh down timer (keepalived's try_up_instance), never
    /// straight to MASTER: a master may already be there.
    private mutating func leaveFault(_ now: Double, _ out: inout [Action]) {
        masterAdvertInterval = config.advertInterval
        preemptTime = nil
        downDeadline = now + downInterval
        nextMasterCause = .masterDown
        move(to: .backup, cause: .trackingRecovered, &out)
    }

    private mutating func shutdown(_ out: inout [Action]) {
        guard state != .stopped else { return }
        // RFC 5798 section 6.4.3: on Shutdown a master sends priority 0.
        if state == .master { out.append(.sendAdvert(priority: 0)) }
        clearMasterTimers()
        downDeadline = nil
        wantsMaster = false
        move(to: .stopped, cause: .shutdown, &out)
    }

    private mutating func syncCommand(_ command: SyncCommand, _ now: Double, _ out: inout [Action]) {
        switch (command, state) {
        case (.grantMaster, .backup):
            becomeMaster(cause: nextMasterCause, now, &out)
        case (.master, .backup):
            becomeMaster(cause: .syncGroup, now, &out)
        case (.backup, .master):
            leaveMaster(cause: .syncGroup, now, &out)
        case (.backup, .fault), (.backup, .initialize):
            guard started, isReady else { return }
            masterAdvertInterval = config.advertInterval
            preemptTime = nil
            downDeadline = now + downInterval
            nextMasterCause = .masterDown
            move(to: .backup, cause: .syncGroup, &out)
        case (.fault, .master), (.fault, .backup), (.fault, .initialize):
            guard started else { return }
            enterFault(cause: .syncGroup, &out)
        default:
            break
        }
    }
}
