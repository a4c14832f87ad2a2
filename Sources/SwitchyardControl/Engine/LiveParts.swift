// The real I/O parts behind the control plane's ports: the workers and their snapshot
// publisher, the ARP and neighbour discovery responders, the kernel guard and the health
// monitor of a running engine.
import SwitchyardCore
import SwitchyardIO

/// Filled in by `Engine.run` on the main thread, part by part as each starts, before any
/// thread that reaches them through a port runs; read-only after that. A port call for a part
/// not started yet does nothing (as before start, when there is nothing to update).
final class LiveParts: ForwardingPort, NeighbourPort, CheckerPort, @unchecked Sendable {
    let interfaces: [InterfaceInfo]
    let workerCount: Int
    var responders: [ARPResponder] = []
    /// One per interface, as `responders`.
    var ndResponders: [NDResponder] = []
    var publisher: SnapshotPublisher?
    var workers: [Worker] = []
    var kernelGuard: KernelGuard?
    var monitor: HealthMonitor?

    init(interfaces: [InterfaceInfo], workerCount: Int) {
        self.interfaces = interfaces
        self.workerCount = workerCount
    }

    // MARK: ForwardingPort

    func publish(_ snapshot: ForwardingSnapshot) { publisher?.publish(snapshot) }

    /// The sets whose filter, fanout program and guard rules are in place (a VRRP takeover
    /// changes only which VIPs are answered, and must not wait for nft to run).
    private var filtered: AddressSets?

    /// Filters, fanout program and guard first, ARP last: a VIP is announced (which draws its
    /// clients' packets at once) only when everything else is in place.
    func apply(_ sets: AddressSets) throws {
        var unanswered = sets
        unanswered.answered = []
        if unanswered != filtered {
            let filter = try PacketFilter.forVIPs(sets.vips, natEndpoints: sets.natEndpoints)
            let fanout = FanoutProgram.build(vips: sets.vips, workers: workerCount, clientMask: sets.clientMask,
                                             clientPrefix6: sets.clientPrefix6)
            for w in workers {
                try w.update(filter: filter, fanoutProgram: fanout)
                try w.update(vips: sets.vips.compactMap(\.ipv4), nat: sets.natEndpoints)
            }
            try kernelGuard?.install(KernelGuard.Rules(
                vips: Dictionary(grouping: sets.vips) { interfaces[sets.vipInterface[$0] ?? 0].name },
                natRealServers: Dictionary(grouping: sets.natEndpoints) { interfaces[sets.natInterface[$0.address] ?? 0].name }))
            filtered = unanswered
        }
        for (i, r) in responders.enumerated() {
            r.setVIPs(sets.answered.filter { sets.vipInterface[$0] == i }.compactMap(\.ipv4))
        }
        for (i, r) in ndResponders.enumerated() {
            for failure in r.setVIPs(sets.answered.filter { !$0.isV4 && sets.vipInterface[$0] == i }) {
                Log.warning("\(failure): solicitations for its VIPs may not arrive")
            }
        }
    }

    func refreshLocalAddresses() throws -> Bool {
        try workers.reduce(false) { try $1.refreshLocalAddresses() || $0 }
    }

    func engineCounters() -> [(String, UInt64)] {
        let counters = Counter.allCases.compactMap { c -> (String, UInt64)? in
            let total = workers.reduce(UInt64(0)) { $0 &+ $1.published[c.rawValue].load(ordering: .relaxed) }
            return total == 0 && c != .forwarded ? nil : (c.name, total)
        }
        // The kernel's copies of VIP frames that the guard's tcx program dropped.
        let guardDrops = kernelGuard?.fastDropped ?? 0
        return counters + (guardDrops > 0 ? [("guard_tcx_dropped", guardDrops)] : [])
    }

    func framesPerWorker() -> [(Int, UInt64)] {
        workers.map { ($0.index, $0.published[Counter.rxFrames.rawValue].load(ordering: .relaxed)) }
    }

    func flowTable() -> (entries: Int, capacity: Int) {
        (workers.reduce(0) { $0 + $1.flowEntries.load(ordering: .relaxed) }, workers.reduce(0) { $0 + $1.flowCapacity })
    }

    func workerCPUSeconds() -> [Double] {
        workers.map { Double($0.cpuNanoseconds.load(ordering: .relaxed)) / 1e9 }
    }

    func announce() {
        responders.forEach { $0.announce() }
        ndResponders.forEach { $0.announce() }
    }

    func announce(_ address: IPAddressBits, on interface: String) -> Bool {
        if let v4 = address.ipv4 {
            guard let responder = responders.first(where: { $0.interface.name == interface }) else { return false }
            responder.announce(v4)
        } else {
            guard let responder = ndResponders.first(where: { $0.interface.name == interface }) else { return false }
            responder.announce(address, router: InterfaceAddresses6.forwards(interface))
        }
        return true
    }

    // MARK: NeighbourPort

    func kernelNeighbours(interface: Int, ipv6: Bool) -> [IPAddressBits: MACAddress] {
        let name = interfaces[interface].name
        let v4 = Dictionary(uniqueKeysWithValues: NeighbourTable.read(interface: name).map { (IPAddressBits($0.key), $0.value) })
        return ipv6 ? v4.merging(NeighbourTable6.read(interface: name)) { old, _ in old } : v4
    }

    func learnedMAC(for address: IPAddressBits, interface: Int) -> MACAddress? {
        if let v4 = address.ipv4 {
            return responders.indices.contains(interface) ? responders[interface].learnedMAC(for: v4) : nil
        }
        return ndResponders.indices.contains(interface) ? ndResponders[interface].learnedMAC(for: address) : nil
    }

    func request(_ address: IPAddressBits, interface: Int) {
        if let v4 = address.ipv4 {
            if responders.indices.contains(interface) { responders[interface].request(v4) }
        } else if ndResponders.indices.contains(interface) {
            ndResponders[interface].request(address)
        }
    }

    // MARK: CheckerPort

    func start(_ target: HealthMonitor.Target, checkers: [CheckerConfig], startUp: Bool) throws {
        try monitor?.start(target, checkers: checkers, startUp: startUp)
    }

    func stop(_ target: HealthMonitor.Target) { monitor?.stop(target) }
}
