// The VRRP runtime: one thread that owns the VRRP sockets (IPv4 and IPv6, per interface) and
// every instance's state machine (VRRPRouter). Adverts in are checked by the codec and handed
// to the router; its timer is the poll timeout; its actions go out as adverts, VIPs served or
// left (ControlPlane.setServed), gratuitous ARP and unsolicited neighbour advertisements, other
// virtual addresses added to or removed from their interface, notify scripts and log lines with
// their cause. The decisions are the router's (pure, tested on a virtual clock); this file only
// moves them between the machine and the network.
import Glibc
import Synchronization
import SwitchyardCore
import SwitchyardIO

public final class VRRPService: @unchecked Sendable {
    let config: FailoverConfig
    let plane: ControlPlane
    let scripts: any ScriptPort
    /// The engine's VIPs: an instance's other virtual addresses (a NAT gateway address) are put on
    /// its interface while it is master instead.
    let engineVIPs: Set<IPAddressBits>
    /// Per interface name: its IPv4 socket and primary address, for IPv4 instances.
    private var sockets: [String: VRRPSocket] = [:]
    private var localAddresses: [String: IPAddressBits] = [:]
    /// Per interface name: its IPv6 socket and link-local address, for IPv6 instances.
    private var sockets6: [String: VRRPSocket6] = [:]
    private var linkLocals: [String: IPAddressBits] = [:]
    /// Confined to the service's thread once it runs.
    private var router: VRRPRouter
    private var identification: UInt16 = 0
    private let stopFlag = Atomic<Bool>(false)
    /// Written by stop() to wake the thread's poll at once: a master's priority-0 advert goes out
    /// when SIGTERM comes, not at the next 100 ms wake-up.
    private let wake = Epoll.eventFD()
    /// Adverts refused (codec errors, mismatches) or taken although they differ, and sends that
    /// failed, by reason, for the log.
    private var problems: [String: Int] = [:]
    /// What adm shows; written by the service's thread after every change.
    public let status = Locked<[VRRPInstanceStatus]>([])
    private var since: [String: Double] = [:]
    private var lastStatus: [VRRPInstanceStatus] = []
    /// Connection sync's hold on preemption (SyncService.holdsPreemption); set before `run`.
    public var preemptionHold: (@Sendable () -> Bool)?

    /// Opens a socket on every instance's interface (failures here stop the start, before any
    /// VIP is served).
    public init(config: FailoverConfig, plane: ControlPlane, engineVIPs: [IPAddressBits],
                scripts: any ScriptPort = ShellScripts()) throws {
        self.config = config
        self.plane = plane
        self.scripts = scripts
        self.engineVIPs = Set(engineVIPs)
        var addresses: [String: IPAddressBits] = [:], linkLocals: [String: IPAddressBits] = [:]
        for c in config.instances {
            // Joined to the group when any instance of the family on the interface speaks multicast.
            let multicast = config.instances.contains {
                $0.interface == c.interface && $0.isIPv6 == c.isIPv6 && $0.unicastPeers.isEmpty
            }
            if c.isIPv6 {
                guard linkLocals[c.interface] == nil else { continue }
                let info = try InterfaceInfo.lookup(c.interface)
                // An interface that has just come up keeps its link-local address tentative for
                // about a second (duplicate address detection): wait up to 3 s for it.
                var linkLocal = InterfaceAddresses6.linkLocal(of: c.interface)
                for _ in 0..<30 where linkLocal == nil {
                    usleep(100_000)
                    linkLocal = InterfaceAddresses6.linkLocal(of: c.interface)
                }
                guard let address = linkLocal else {
                    throw SetupError("vrrp_instance \(c.name): interface \(c.interface) has no IPv6 link-local address to send "
                        + "adverts from (is IPv6 off on it, or its address still tentative?)")
                }
                linkLocals[c.interface] = address
                sockets6[c.interface] = try VRRPSocket6(interface: c.interface, index: info.index, multicast: multicast)
            } else {
                guard addresses[c.interface] == nil else { continue }
                let info = try InterfaceInfo.lookup(c.interface)
                guard let address = info.address else {
                    throw SetupError("vrrp_instance \(c.name): interface \(c.interface) has no IPv4 address to send adverts from")
                }
                addresses[c.interface] = IPAddressBits(address)
                sockets[c.interface] = try VRRPSocket(interface: c.interface, index: info.index, multicast: multicast)
            }
        }
        localAddresses = addresses
        self.linkLocals = linkLocals
        router = VRRPRouter(config: config) { c in c.unicastSource ?? (c.isIPv6 ? linkLocals : addresses)[c.interface]! }
    }

    /// The address an instance's adverts come from: unicast_src_ip, else its interface's primary
    /// IPv4 or link-local IPv6 address.
    private func source(of instance: VRRPInstanceConfig) -> IPAddressBits? {
        instance.unicastSource ?? (instance.isIPv6 ? linkLocals : localAddresses)[instance.interface]
    }

    /// The engine VIPs the instances hold: not served until their instance is master here.
    public static func heldVIPs(_ config: FailoverConfig, engineVIPs: [IPAddressBits]) -> [IPAddressBits] {
        let vips = Set(engineVIPs)
        return Array(Set(config.instances.flatMap { $0.virtualAddresses.map(\.address) }).intersection(vips)).sorted()
    }

    public func stop() {
        stopFlag.store(true, ordering: .relaxed)
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    deinit { close(wake) }

    /// Runs until `stop`; then shuts the instances down (a master sends priority 0 first).
    public func run() {
        // Room for the largest advert: 255 IPv6 addresses make 4,088 bytes.
        var buffer = [UInt8](repeating: 0, count: 65_536)
        removeLeftoverAddresses()
        perform(router.handle(.start, at: now()))
        var watchers = VRRPWatchers(config, now: now())
        defer { watchers.stop() }
        let names = Array(sockets.keys), names6 = Array(sockets6.keys)
        // The IPv4 sockets in `names` order, the IPv6 ones in `names6` order, then the stop event.
        var polls = names.map { pollfd(fd: sockets[$0]!.fd, events: Int16(POLLIN), revents: 0) }
            + names6.map { pollfd(fd: sockets6[$0]!.fd, events: Int16(POLLIN), revents: 0) }
            + [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        var held = false
        while !stopFlag.load(ordering: .relaxed) {
            if let hold = preemptionHold?(), hold != held {
                held = hold
                if hold { Log.info("vrrp: no preemption until connection sync has caught up (\(Int(SyncService.preemptionHoldSeconds)) s at most)") }
                perform(router.handle(.preemptionHold(hold), at: now()))
            }
            // Wake for the next deadline, and at least every 100 ms (stop() wakes it at once).
            let next = min(router.nextDeadline ?? .infinity, watchers.nextDeadline)
            let wait = max(0, min(0.1, next - now()))
            let ready = poll(&polls, nfds_t(polls.count), Int32((wait * 1000).rounded(.up)))
            if ready > 0 {
                for (i, p) in polls.enumerated() where i < names.count + names6.count && p.revents & Int16(POLLIN) != 0 {
                    polls[i].revents = 0
                    if i < names.count { receiveAll(on: names[i], into: &buffer) } else { receiveAll6(on: names6[i - names.count], into: &buffer) }
                }
            }
            for event in watchers.poll(now: now()) { perform(router.handle(event, at: now())) }
            if let deadline = router.nextDeadline, now() >= deadline { perform(router.handle(.timer, at: now())) }
        }
        perform(router.handle(.shutdown, at: now()))
    }

    func now() -> Double { HealthProbes.monotonicSeconds() }

    /// Every advert waiting on one interface's IPv4 socket.
    private func receiveAll(on interface: String, into buffer: inout [UInt8]) {
        guard let socket = sockets[interface] else { return }
        while let n = buffer.withUnsafeMutableBytes({ socket.receive(into: $0) }) {
            let packet = Array(buffer.prefix(n))
            guard let vrid = VRRPAdvert.peekVirtualRouterID(packet),
                  let instance = config.instances.first(where: { $0.interface == interface && !$0.isIPv6 && $0.virtualRouterID == vrid })
            else { continue }
            take(instance, interface: interface) { () throws(VRRPAdvertError) in
                try VRRPAdvert.decode(packet, context: VRRPReceiveContext(instance: instance))
            }
        }
    }

    /// Every advert waiting on one interface's IPv6 socket (the message alone; the header's
    /// words beside it).
    private func receiveAll6(on interface: String, into buffer: inout [UInt8]) {
        guard let socket = sockets6[interface] else { return }
        while let got = buffer.withUnsafeMutableBytes({ socket.receive(into: $0) }) {
            let message = Array(buffer.prefix(got.length))
            guard message.count >= 2,
                  let instance = config.instances.first(where: { $0.interface == interface && $0.isIPv6 && $0.virtualRouterID == message[1] })
            else { continue }
            take(instance, interface: interface) { () throws(VRRPAdvertError) in
                try VRRPAdvert.decode6(message, source: got.source, destination: got.destination, hopLimit: got.hopLimit,
                                       context: VRRPReceiveContext(instance: instance))
            }
        }
    }

    /// One advert for `instance`, decoded by `decode`: checked against the config and handed to
    /// the router, or refused with the reason counted and logged.
    private func take(_ instance: VRRPInstanceConfig, interface: String,
                      _ decode: () throws(VRRPAdvertError) -> VRRPReceivedAdvert) {
        do throws(VRRPAdvertError) {
            let received = try decode()
            let vrid = instance.virtualRouterID
            // Our own adverts (a unicast peer list naming us, a multicast echo) are no news.
            if received.source == source(of: instance) { return }
            switch received.advert.verdict(for: instance) {
            case .drop(let why):
                report(instance, "advert refused: \(why)")
                return
            case .take(let differences):
                // Taken, but said: a peer that disagrees may not take ours (keepalived 2.2.7
                // drops adverts with other addresses), and only this line would tell.
                for d in differences {
                    report(instance, "advert from \(received.source) taken although it differs: \(d)"
                        + (d.consequence.map { "; \($0)" } ?? ""))
                }
            }
            let advert = ReceivedAdvert(priority: received.advert.priority,
                                        maxAdvertInterval: received.advert.advertInterval, sourceAddress: received.source)
            perform(router.receive(advert, interface: interface, virtualRouterID: vrid, ipv6: instance.isIPv6, at: now()))
        } catch {
            report(instance, "advert refused: \(error)")
        }
    }

    /// Logs what an advert brought that may come with every advert: the first of each kind, then
    /// every hundredth (a warning unless `notice` says it is news rather than a problem).
    private func report(_ instance: VRRPInstanceConfig, _ what: String, notice: Bool = false) {
        let n = problems[what, default: 0] + 1
        problems[what] = n
        guard n == 1 || n % 100 == 0 else { return }
        let line = "vrrp \(instance.name): \(what) (\(n) so far)"
        if notice { Log.info(line) } else { Log.warning(line) }
    }

    // MARK: actions

    private func perform(_ actions: [VRRPRouter.Action]) {
        // An advert that changes nothing still tells a backup who the master is.
        defer { publishStatus() }
        for action in actions {
            switch action {
            case .instance(let name, let a):
                guard let instance = config.instances.first(where: { $0.name == name }) else { continue }
                perform(a, instance)
            case .groupTransition(let group, let from, let to):
                Log.info("vrrp sync group \(group): \(from.rawValue) -> \(to.rawValue)")
            case .groupNotify(let group, let state):
                guard let g = config.syncGroups.first(where: { $0.name == group }) else { continue }
                VRRPNotify.commands(for: g, state: state).forEach(scripts.run)
            }
        }
    }

    private func perform(_ action: VRRPInstance.Action, _ instance: VRRPInstanceConfig) {
        switch action {
        case .sendAdvert(let priority):
            send(VRRPAdvert(instance: instance, priority: priority), instance)
        case .transition(let from, let to, let cause):
            since[instance.name] = now()
            Log.info("vrrp \(instance.name): \(from.rawValue) -> \(to.rawValue) (\(describe(cause)))")
            if to == .master { hold(instance, true) } else if from == .master { hold(instance, false) }
        case .gratuitousARP(let count):
            // The engine's VIPs, and the other addresses the instance holds (a NAT gateway):
            // their neighbours (the real servers) must learn the new master's MAC as well.
            let others = instance.virtualAddresses.filter { !engineVIPs.contains($0.address) }
            for _ in 0..<max(1, count) {
                plane.forwarding.announce()
                for a in others where !plane.forwarding.announce(a.address, on: a.device ?? instance.interface) {
                    Log.debug("vrrp \(instance.name): no announcement of \(a.address): \(a.device ?? instance.interface) is not an engine interface")
                }
            }
        case .notify(let state, let priority):
            VRRPNotify.commands(for: instance, state: state, priority: priority).forEach(scripts.run)
        case .priorityChanged(let from, let to):
            Log.info("vrrp \(instance.name): priority \(from) -> \(to)")
        case .heardLowerPriority(let address, let priority, let answered):
            // keepalived logs each one; a peer that does not step down would repeat it every
            // advert, hence the same limit as refused adverts.
            let ours = router.instance(instance.name)?.effectivePriority ?? instance.priority
            report(instance, "master heard \(address) advertise "
                + (priority == ours ? "the same priority \(priority) from a lower address" : "lower priority \(priority), ours \(ours)")
                + (answered ? ", forcing a new election" : ""), notice: true)
        case .wantsMaster, .faultCleared:
            Log.debug("vrrp \(instance.name): \(action)")
        }
    }

    /// Every instance starts as a backup, so none of the addresses it adds as master may be on
    /// its interface yet: one that is was left by a run that was killed as master (in the same
    /// namespace), and would answer ARP (or neighbour solicitations) beside the real master.
    private func removeLeftoverAddresses() {
        for instance in config.instances {
            for a in instance.virtualAddresses where !engineVIPs.contains(a.address) {
                let device = a.device ?? instance.interface
                if runCommand(Self.addressCommand("del", a, device)).status == 0 {
                    Log.warning("vrrp \(instance.name): removed \(a.address)/\(a.prefixLength) from \(device), left by an earlier run "
                        + "(it is added back when this box becomes master)")
                }
            }
        }
    }

    /// `ip addr add|del` for an address an instance holds outside the engine. An IPv6 one is added
    /// without duplicate address detection, as keepalived adds it: the backup is silent, and a
    /// master whose address stayed tentative for a second would answer no one.
    static func addressCommand(_ verb: String, _ a: VRRPInstanceConfig.VirtualAddress, _ device: String) -> [String] {
        ["ip", a.address.isV4 ? "-4" : "-6", "addr", verb, "\(a.address)/\(a.prefixLength)", "dev", device]
            + (verb == "add" && !a.address.isV4 ? ["nodad"] : [])
    }

    /// Takes up (master) or lets go of an instance's addresses: the engine's VIPs through the
    /// control plane; any other address on its interface.
    private func hold(_ instance: VRRPInstanceConfig, _ master: Bool) {
        let vips = instance.virtualAddresses.map(\.address).filter(engineVIPs.contains)
        do {
            try plane.setServed(vips, master)
        } catch {
            Log.error("vrrp \(instance.name): \(master ? "serving" : "leaving") \(vips): \(error)")
        }
        for a in instance.virtualAddresses where !engineVIPs.contains(a.address) {
            let device = a.device ?? instance.interface
            let command = Self.addressCommand(master ? "add" : "del", a, device)
            let result = runCommand(command)
            if result.status != 0 {
                Log.warning("vrrp \(instance.name): \(command.joined(separator: " ")): "
                    + result.output.split(separator: "\n").first.map(String.init).orEmpty)
            }
        }
    }

    private func send(_ advert: VRRPAdvert, _ instance: VRRPInstanceConfig) {
        guard let source = source(of: instance) else { return }
        if instance.isIPv6 {
            guard let socket = sockets6[instance.interface] else { return }
            for destination in instance.unicastPeers.isEmpty ? [VRRP.multicastGroup6] : instance.unicastPeers {
                let message = advert.encodeMessage(source: source, destination: destination, checksum: .pseudoHeader)
                do {
                    try message.withUnsafeBytes { try socket.send($0, from: source, to: destination) }
                } catch {
                    report(instance, "cannot send an advert to \(destination): \(error)")
                }
            }
            return
        }
        guard let socket = sockets[instance.interface], let source4 = source.ipv4 else { return }
        let destinations = instance.unicastPeers.isEmpty ? [VRRP.multicastGroup] : instance.unicastPeers.compactMap(\.ipv4)
        for destination in destinations {
            identification = VRRPAdvert.nextIdentification(after: identification)
            let packet = advert.encodePacket(source: source4, destination: destination, identification: identification,
                                             checksum: VRRPChecksumForm.sending(instance))
            do {
                try packet.withUnsafeBytes { try socket.send($0, to: destination) }
            } catch {
                report(instance, "cannot send an advert to \(destination): \(error)")
            }
        }
    }

    /// The instances as adm shows them.
    private func publishStatus() {
        let rows = router.instances.map { i in
            VRRPInstanceStatus(
                name: i.config.name, interface: i.config.interface, virtualRouterID: i.config.virtualRouterID, state: i.state,
                priority: i.effectivePriority, master: i.state == .master ? i.localAddress : i.masterAddress,
                masterPriority: i.state == .master ? i.effectivePriority : i.masterPriority,
                since: since[i.config.name] ?? 0, addresses: i.config.virtualAddresses.map(\.address))
        }
        if rows != lastStatus {
            lastStatus = rows
            status.withLock { $0 = rows }
        }
    }

    private func describe(_ cause: VRRPInstance.Cause) -> String {
        switch cause {
        case .started: "started"
        case .addressOwner: "address owner, priority 255"
        case .masterDown: "no advert from the master for the master-down interval"
        case .masterReleased: "the master gave up (priority 0)"
        case .preempted: "preempting a lower-priority master"
        case .higherPriority(let address, let priority): "\(address) advertises priority \(priority)"
        case .trackingFailed(let what): "\(what) failed"
        case .trackingRecovered: "tracking recovered"
        case .syncGroup: "its sync group moved"
        case .shutdown: "shutting down"
        }
    }
}

extension Optional where Wrapped == String {
    var orEmpty: String { self ?? "" }
}
