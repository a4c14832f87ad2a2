// The status page's model from a control plane over fake parts: states, the three weights,
// what a drain would leave, each real server's last check and last change.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

final class StatusReportTests: XCTestCase {
    let config = """
    virtual_server 198.18.0.100 80 {
        lb_algo rr
        lb_kind DR
        real_server 198.18.0.11 80 {
            weight 2
            TCP_CHECK {
                connect_timeout 1
            }
        }
        real_server 198.18.0.12 80 {
            weight 1
        }
    }
    virtual_server 198.18.0.100 53 {
        protocol UDP
        lb_kind NAT
        real_server 198.18.0.13 53 {
            weight 1
        }
    }
    """
    var path = ""
    var fake = FakeParts()

    override func setUp() {
        path = "/tmp/switchyard-status-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).conf"
        fake = FakeParts()
        fake.kernel = [IPAddressBits(text: "198.18.0.11")!: MACAddress(bits: 0x11), IPAddressBits(text: "198.18.0.12")!: MACAddress(bits: 0x12)]
    }

    override func tearDown() { unlink(path) }

    func plane() throws -> ControlPlane {
        let plane = try startedPlane(config, path: path, fake: fake)
        plane.wallClock = { 1_764_700_000 }
        return plane
    }

    func testServicesAndRealServersWithTheirWeightsAndWhatADrainLeaves() throws {
        let model = try plane().status()
        XCTAssertEqual(model.services.map(\.id), ["TCP 198.18.0.100:80", "UDP 198.18.0.100:53"])
        let web = model.services[0]
        XCTAssertEqual([web.protocol, web.address, web.scheduler, web.forwarding, web.state], ["TCP", "198.18.0.100", "rr", "dr", "up"])
        XCTAssertEqual([web.port, web.serversUp, web.serversTotal], [80, 2, 2])
        XCTAssertEqual(web.realServers.map(\.id), ["198.18.0.11:80", "198.18.0.12:80"])
        XCTAssertEqual(web.realServers.map(\.state), ["up", "up"])
        XCTAssertEqual(web.realServers.map(\.weightConfigured), [2, 1])
        XCTAssertEqual(web.realServers.map(\.weightEffective), [2, 1])
        XCTAssertEqual(web.realServers[0].drainPreview, "VS TCP 198.18.0.100:80 keeps 1 of 2 servers up")
        XCTAssertNil(web.realServers[0].lastCheck)
        XCTAssertNil(web.realServers[0].lastChange)
        // The NAT server's MAC is unknown: up, but nothing new reaches it yet.
        let dns = model.services[1]
        XCTAssertEqual([dns.forwarding, dns.state], ["nat", "down"])
        XCTAssertEqual(dns.realServers[0].weightEffective, 0)
        XCTAssertEqual(dns.realServers[0].drainPreview, "VS UDP 198.18.0.100:53 keeps 0 of 1 server up")
        XCTAssertEqual([model.engine.flowTableEntries, model.engine.flowTableCapacity], [3, 1_024])
        XCTAssertEqual(model.generatedAt, 1_764_700_000)
        XCTAssertEqual(model.version, SwitchyardVersion.text)
    }

    func testADrainByAdmShowsAsDrainWithTheConfiguredWeightKeptAndIsStamped() throws {
        let plane = try plane()
        XCTAssertTrue(plane.control(["-e", "-t", "198.18.0.100:80", "-r", "198.18.0.11:80", "-g", "-w", "0"], "").ok)
        let web = plane.status().services[0]
        let drained = web.realServers[0]
        XCTAssertEqual(drained.state, "drain")
        XCTAssertEqual([drained.weightConfigured, drained.weight, drained.weightEffective], [2, 0, 0])
        XCTAssertEqual(drained.lastChange, 1_764_700_000)
        XCTAssertNil(web.realServers[1].lastChange, "the other server did not change")
        XCTAssertEqual(web.realServers[1].drainPreview, "VS TCP 198.18.0.100:80 keeps 0 of 2 servers up")
        XCTAssertEqual(web.serversUp, 1)
    }

    func testTheLastCheckAndAHealthChange() throws {
        let plane = try plane()
        let target = try XCTUnwrap(plane.state.withLock { $0.targets.values.first })
        plane.recordCheck(target, 0, .down("TCP_CHECK: connection refused"), 0.012_345)
        var real = plane.status().services[0].realServers[0]
        XCTAssertEqual(real.lastCheck, StatusModel.Check(result: "failure", reason: "TCP_CHECK: connection refused",
                                                         durationMs: 12.345, at: 1_764_700_000))
        XCTAssertEqual(real.state, "up", "one failed check alone does not change the verdict")
        plane.wallClock = { 1_764_700_010 }
        plane.healthReport(target, 0, false, .down("TCP_CHECK: connection refused"))
        real = plane.status().services[0].realServers[0]
        XCTAssertEqual(real.state, "down")
        XCTAssertEqual(real.weightEffective, 0)
        XCTAssertEqual(real.lastChange, 1_764_700_010)
        plane.recordCheck(target, 0, .up, 0.001)
        XCTAssertEqual(plane.status().services[0].realServers[0].lastCheck?.reason, "TCP_CHECK succeeded")
        // A check of a checker that is gone is not recorded.
        plane.recordCheck(HealthMonitor.Target(serviceID: 99, realID: 99, address: target.address, port: 1), 0, .up, 0.001)
        XCTAssertEqual(plane.state.withLock { $0.lastChecks.count }, 1)
    }
}

extension StatusReportTests {
    /// Traffic before the first 2-second sample counts (the counters start at 0), and a counter
    /// that went back (an ID reused after a reset) starts over instead of wrapping.
    func testRatesCountFromTheStartAndSurviveACounterThatWentBack() throws {
        let plane = try plane()
        let id = try XCTUnwrap(plane.state.withLock { $0.table.services[0].reals[0].id })
        let slot = counterIndex(worker: 0, realID: id, field: RealServerStats.connections, of: RealServerStats.fields)
        plane.stats.storage[slot].soleWriterAdd(40)
        plane.updateRates(interval: 2)
        var rates = plane.status().services[0].realServers[0].rates
        XCTAssertEqual(rates.connectionsPerSecond, 5, "40 connections over 2 s, a quarter of the way: 20 / 4")
        plane.stats.reset(realID: id)
        plane.stats.storage[slot].soleWriterAdd(8)
        plane.updateRates(interval: 2)
        rates = plane.status().services[0].realServers[0].rates
        XCTAssertEqual(rates.connectionsPerSecond, 4.75, "5 + (8 / 2 - 5) / 4, not a wrapped counter")
    }
}

extension StatusReportTests {
    /// systemd's STATUS= line, and RELOADING=1 / READY=1 around a reload, refused or not.
    func testTheStatusLineAndTheReloadNotifications() throws {
        let plane = try plane()
        XCTAssertEqual(plane.statusLine(), "2 virtual services, 2 of 3 real servers taking new flows")
        let sent = Locked<[String]>([])
        plane.notifier.withLock { $0 = { message in sent.withLock { $0.append(message) } } }
        XCTAssertTrue(plane.reload().ok)
        var messages = sent.withLock { $0 }
        XCTAssertEqual(messages.count, 2)
        XCTAssertTrue(messages[0].hasPrefix("RELOADING=1\nMONOTONIC_USEC="), messages[0])
        XCTAssertEqual(messages[1], "READY=1\nSTATUS=2 virtual services, 2 of 3 real servers taking new flows")
        XCTAssertTrue(createFile(path, "virtual_server nonsense {"))
        XCTAssertFalse(plane.reload().ok)
        messages = sent.withLock { $0 }
        XCTAssertEqual(messages.last,
                       "READY=1\nSTATUS=reload refused, the running config stays; 2 virtual services, 2 of 3 real servers taking new flows")
    }
}

extension StatusReportTests {
    /// A sorry server stands by while the quorum holds and answers once it is lost.
    func testTheSorryServerAndWhetherItAnswers() throws {
        let plane = try startedPlane("""
            virtual_server 198.18.0.100 80 {
                lb_kind DR
                quorum 2
                sorry_server 198.18.0.99 80
                real_server 198.18.0.11 80 {
                    weight 1
                    TCP_CHECK {
                        connect_timeout 1
                    }
                }
                real_server 198.18.0.12 80 {
                    weight 1
                }
            }
            """, path: path, fake: fake)
        XCTAssertEqual(plane.status().services[0].sorryServer, StatusModel.SorryServer(id: "198.18.0.99:80", serving: false))
        let target = try XCTUnwrap(plane.state.withLock { $0.targets.values.first })
        plane.healthReport(target, 0, false, .down("TCP_CHECK: connection refused"))
        XCTAssertEqual(plane.status().services[0].sorryServer?.serving, true)
        XCTAssertNil(try self.plane().status().services[0].sorryServer, "none configured")
    }
}
