// The control plane's test fixture: fake I/O parts that record what they are asked, fake
// routes and interfaces, and a plane started over them as Engine.run leaves it.
import Glibc
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

/// Stands in for the workers, ARP responders, guard, checkers and scripts: records what it was
/// asked, answers neighbour look-ups from a table the test fills.
final class FakeParts: ForwardingPort, NeighbourPort, CheckerPort, ScriptPort, @unchecked Sendable {
    struct Record {
        var published: [ForwardingSnapshot] = []
        var applied: [AddressSets] = []
        var started: [HealthMonitor.Target] = []
        var stopped: [HealthMonitor.Target] = []
        var requested: [IPAddressBits] = []
        var scripts: [String] = []
        var failApply = false
        var announced = 0
    }
    let record = Locked(Record())
    var kernel: [IPAddressBits: MACAddress] = [:]

    func publish(_ snapshot: ForwardingSnapshot) { record.withLock { $0.published.append(snapshot) } }
    func apply(_ sets: AddressSets) throws {
        try record.withLock { r in
            if r.failApply { throw SetupError("the guard could not be installed") }
            r.applied.append(sets)
        }
    }
    func refreshLocalAddresses() throws -> Bool { false }
    func engineCounters() -> [(String, UInt64)] { [("forwarded", 7)] }
    func framesPerWorker() -> [(Int, UInt64)] { [(0, 7)] }
    func flowTable() -> (entries: Int, capacity: Int) { (3, 1_024) }
    func workerCPUSeconds() -> [Double] { [0.25] }
    func announce() { record.withLock { $0.announced += 1 } }
    func announce(_ address: IPAddressBits, on interface: String) -> Bool {
        record.withLock { $0.announced += 1 }
        return true
    }
    func kernelNeighbours(interface: Int, ipv6: Bool) -> [IPAddressBits: MACAddress] { ipv6 ? kernel : kernel.filter(\.key.isV4) }
    func learnedMAC(for address: IPAddressBits, interface: Int) -> MACAddress? { nil }
    func request(_ address: IPAddressBits, interface: Int) { record.withLock { $0.requested.append(address) } }
    func start(_ target: HealthMonitor.Target, checkers: [CheckerConfig], startUp: Bool) throws {
        record.withLock { $0.started.append(target) }
    }
    func stop(_ target: HealthMonitor.Target) { record.withLock { $0.stopped.append(target) } }
    func run(_ script: ScriptUse) { record.withLock { $0.scripts.append(script.command) } }

    var last: ForwardingSnapshot { record.withLock { $0.published.last! } }
}

/// /proc/net/route text: eth0 holds 198.18.0.0/24, lan1 198.19.0.0/16, and a default route
/// through 198.18.0.1.
let fakeRoutes = Route.parse("""
    Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
    eth0\t00000000\t010012C6\t0003\t0\t0\t0\t00000000\t0\t0\t0
    eth0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
    lan1\t000013C6\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
    """)

/// /proc/net/ipv6_route text: eth0 holds 2001:db8::/64, lan1 2001:db8:2::/64, and a default
/// route through 2001:db8::1.
let fakeRoutes6 = Route6.parse("""
    20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
    20010db8000200000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     lan1
    00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8000000000000000000000001 00000400 00000001 00000000 00000003     eth0
    """)

func fakeInterface(_ name: String) throws -> InterfaceInfo {
    InterfaceInfo(name: name, index: name == "eth0" ? 2 : 3, mac: MACAddress(bits: name == "eth0" ? 0x02_00_00_00_00_01 : 0x02_00_00_00_00_02),
                  mtu: 1500, address: nil)
}

/// A started control plane over `fake`, its config written to `path`.
func startedPlane(_ text: String, path: String, fake: FakeParts,
                  routes: @escaping () throws -> any RoutePort = { throw SetupError("no routes in this test") })
    throws -> ControlPlane {
    XCTAssertTrue(createFile(path, text))
    let config = try Config.load(path: path)
    let plan = try InterfacePlan(config: config, given: nil, routes: fakeRoutes, routes6: fakeRoutes6, lookup: fakeInterface)
    let plane = ControlPlane(config: config, configPath: path, plan: plan, forwarding: fake, neighbours: fake,
                             checkers: fake, scripts: fake, counts: ConnectionCounts(workers: 1),
                             stats: RealServerStats(workers: 1), trace: FlowTrace(workers: 1), routes: routes)
    let initial = plane.loadInitialTable()
    _ = plane.refreshNeighbours()
    plane.republish()
    try plane.applyAddressSets(force: true)
    plane.applyCheckers(initial)
    return plane
}

func createFile(_ path: String, _ text: String) -> Bool { writeSmallFile(path, text, createMode: 0o644) }
