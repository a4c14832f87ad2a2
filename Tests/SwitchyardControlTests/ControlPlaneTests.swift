// The control plane driven through fake I/O parts: reload, adm, restore and health
// transitions, each checked by what reaches the data plane (the published snapshot, the
// address sets) and the checkers.
import Glibc
import Logging
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

final class ControlPlaneTests: XCTestCase {
    let base = """
    virtual_server 198.18.0.100 80 {
        lb_algo rr
        lb_kind DR
        quorum 2
        sorry_server 198.18.0.99 80
        real_server 198.18.0.11 80 {
            weight 1
            notify_down "/bin/true down"
            TCP_CHECK {
                connect_timeout 1
            }
        }
        real_server 198.18.0.12 80 {
            weight 1
            TCP_CHECK {
                connect_timeout 1
            }
        }
    }
    """
    var path = ""
    var fake = FakeParts()

    override func setUp() {
        path = "/tmp/switchyard-plane-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).conf"
        fake = FakeParts()
        fake.kernel = [IPAddressBits(text: "198.18.0.11")!: MACAddress(bits: 0x11), IPAddressBits(text: "198.18.0.12")!: MACAddress(bits: 0x12),
                       IPAddressBits(text: "198.18.0.99")!: MACAddress(bits: 0x99)]
    }

    override func tearDown() { unlink(path) }

    /// A started control plane over the fakes, as Engine.run leaves it.
    func started(_ text: String) throws -> ControlPlane { try startedPlane(text, path: path, fake: fake) }

    func reals(_ s: ForwardingSnapshot) -> [String] {
        s.services.flatMap { svc in svc.reals.map { "\($0.address):\($0.port)\($0.available ? "" : " unavailable")" } }
    }

    func testStartPublishesTheTableWithTheRealServersMACsAndAppliesTheVIPs() throws {
        _ = try started(base)
        XCTAssertEqual(reals(fake.last), ["198.18.0.11:80", "198.18.0.12:80"])
        XCTAssertEqual(fake.last.services[0].reals.map(\.mac), [MACAddress(bits: 0x11), MACAddress(bits: 0x12)])
        let sets = fake.record.withLock { $0.applied }
        XCTAssertEqual(sets.count, 1)
        XCTAssertEqual(sets[0].vips, [IPAddressBits(text: "198.18.0.100")!])
        XCTAssertEqual(sets[0].vipInterface, [IPAddressBits(text: "198.18.0.100")!: 0])
        XCTAssertEqual(fake.record.withLock { $0.started.map(\.address) }, [IPAddressBits(text: "198.18.0.11")!, IPAddressBits(text: "198.18.0.12")!])
    }

    func testReloadAppliesTheDifferenceAndABadFileChangesNothing() throws {
        let plane = try started(base)
        let generation = fake.last.generation
        XCTAssertTrue(createFile(path, base.replacing("    real_server 198.18.0.12 80 {",
                                                         with: "    real_server 198.18.0.13 80 { weight 2 }\n    real_server 198.18.0.12 80 {",
                                                         maxReplacements: 1)))
        // A kept real server's counters go on across the reload (Prometheus counters stay monotone).
        let kept = plane.state.withLock { $0.table.services[0].reals[0].id }
        plane.stats.row(0)[counterIndex(realID: kept, field: RealServerStats.connections, of: RealServerStats.fields)]
            .store(5, ordering: .relaxed)
        let connections = #"switchyard_real_server_connections_total{local_address="198.18.0.100",local_port="80",proto="TCP",remote_address="198.18.0.11",remote_port="80"} "#
        XCTAssertTrue(plane.control(["--metrics"], "").text.contains(connections + "5\n"))
        let ok = plane.reload()
        XCTAssertTrue(ok.ok, ok.text)
        let after = plane.control(["--metrics"], "").text
        XCTAssertTrue(after.contains("\nswitchyard_config_last_reload_successful 1\n"))
        XCTAssertTrue(after.contains(connections + "5\n"), "the kept server's counter after the reload")
        XCTAssertEqual(reals(fake.last), ["198.18.0.11:80", "198.18.0.13:80", "198.18.0.12:80"])
        XCTAssertGreaterThan(fake.last.generation, generation)
        XCTAssertTrue(fake.record.withLock { $0.requested }.contains(IPAddressBits(text: "198.18.0.13")!),
                      "a new real server's MAC is asked for")
        // The kept servers' checkers run on untouched: no stop, no second start.
        XCTAssertEqual(fake.record.withLock { $0.stopped }, [])
        XCTAssertEqual(fake.record.withLock { $0.started.count }, 2)

        let published = fake.record.withLock { $0.published.count }
        XCTAssertTrue(createFile(path, "virtual_server 198.18.0.100 80 {\n    lb_kind DRR\n}\n"))
        let refused = plane.reload()
        XCTAssertFalse(refused.ok)
        XCTAssertTrue(refused.text.contains("reload refused, the running config stays"), refused.text)
        XCTAssertTrue(refused.text.contains(":2:"), "the bad line is named: \(refused.text)")
        XCTAssertEqual(fake.record.withLock { $0.published.count }, published, "nothing was published")
        XCTAssertEqual(plane.state.withLock { $0.table.services[0].reals.count }, 3)
        XCTAssertTrue(plane.control(["--metrics"], "").text.contains("\nswitchyard_config_last_reload_successful 0\n"),
                      "adm --metrics says the last reload was refused")
    }

    func testReloadThatNeedsAnotherInterfaceIsRefused() throws {
        let plane = try started(base)
        // 198.19.0.5 is on lan1, which this engine did not start on.
        XCTAssertTrue(createFile(path, base.replacing("198.18.0.12 80", with: "198.19.0.5 80", maxReplacements: 1)))
        let refused = plane.reload()
        XCTAssertFalse(refused.ok)
        XCTAssertTrue(refused.text.contains("needs interface lan1"), refused.text)
        XCTAssertEqual(reals(fake.last), ["198.18.0.11:80", "198.18.0.12:80"])
    }

    func testAdmEditsReachTheSnapshotAndTheAddressSets() throws {
        let plane = try started(base)
        XCTAssertTrue(plane.control(["-A", "-t", "198.18.0.101:53", "-s", "rr"], "").ok)
        XCTAssertTrue(plane.control(["-a", "-t", "198.18.0.101:53", "-r", "198.18.0.21:5353", "-m", "-w", "3"], "").ok)
        XCTAssertEqual(fake.last.services.map(\.vip.description), ["198.18.0.100", "198.18.0.101"])
        XCTAssertEqual(fake.last.services[1].method, .nat)
        XCTAssertEqual(fake.last.services[1].reals.map(\.weight), [3])
        let sets = fake.record.withLock { $0.applied.last! }
        XCTAssertEqual(sets.vips.map(\.description), ["198.18.0.100", "198.18.0.101"])
        XCTAssertEqual(sets.natEndpoints, [KernelGuard.Endpoint(address: IPAddressBits(text: "198.18.0.21")!, proto: 6, port: 5353)])

        // An edit that changes no address set does not touch ARP, the filter or the guard.
        let applied = fake.record.withLock { $0.applied.count }
        XCTAssertTrue(plane.control(["-e", "-t", "198.18.0.100:80", "-r", "198.18.0.11", "-w", "0"], "").ok)
        XCTAssertEqual(fake.record.withLock { $0.applied.count }, applied)
        XCTAssertEqual(fake.last.services[0].reals[0].weight, 0)

        let wrong = plane.control(["-a", "-t", "198.18.0.100:80", "-r", "198.18.0.11"], "")
        XCTAssertFalse(wrong.ok)
        XCTAssertEqual(wrong.text, "Destination already exists\n")
        XCTAssertEqual(wrong.status, 255, "ipvsadm's status for what the kernel refuses")
    }

    func testAFailedAddressSetChangeIsReportedAndTriedAgain() throws {
        let plane = try started(base)
        fake.record.withLock { $0.failApply = true }
        let failed = plane.control(["-A", "-t", "198.18.0.101:80"], "")
        XCTAssertFalse(failed.ok)
        XCTAssertTrue(failed.text.contains("the guard could not be installed"), failed.text)
        fake.record.withLock { $0.failApply = false }
        XCTAssertTrue(plane.control(["-a", "-t", "198.18.0.101:80", "-r", "198.18.0.11"], "").ok)
        XCTAssertEqual(fake.record.withLock { $0.applied.last!.vips.count }, 2, "the next change brings the sets in line")
    }

    func testHealthTransitionsReachTheSnapshotScriptsAndQuorum() throws {
        let plane = try started(base)
        let targets = fake.record.withLock { $0.started }
        plane.healthReport(targets[0], 0, false, .down("connection refused"))
        XCTAssertEqual(reals(fake.last), ["198.18.0.11:80 unavailable", "198.18.0.12:80 unavailable", "198.18.0.99:80"],
                       "below the quorum of 2 the sorry server takes the new flows")
        XCTAssertEqual(fake.record.withLock { $0.scripts }, ["/bin/true down"])
        plane.healthReport(targets[0], 0, true, .up)
        XCTAssertEqual(reals(fake.last), ["198.18.0.11:80", "198.18.0.12:80"])

        // A report from a checker the table no longer has (stopped by a reload) is dropped.
        let published = fake.record.withLock { $0.published.count }
        var stale = targets[0]
        stale.realID = 999
        plane.healthReport(stale, 0, false, .down("late"))
        XCTAssertEqual(fake.record.withLock { $0.published.count }, published)
    }

    /// -R runs each line as ipvsadm's restore_table does: on the running table, in order; a line
    /// the kernel refuses says why and the next one runs; a line the parser refuses ends it there.
    func testRestoreRunsEachLineOnTheRunningTable() throws {
        let plane = try started(base)
        let rules = """
        -A -t 198.18.0.100:80 -s wrr
        -E -t 198.18.0.100:80 -s wrr
        ipvsadm -e -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 5
        -A -t 198.18.0.102:80 -s rr

        -a -t 198.18.0.102:80 -r 198.18.0.21 -g
        """
        let first = plane.control(["-R"], rules)
        XCTAssertEqual(first.ok, false)
        XCTAssertEqual(first.text, "Service already exists\n")
        XCTAssertEqual(first.status, 0, "the status is the last line's, as in ipvsadm")
        XCTAssertEqual(fake.last.services.map(\.vip.description), ["198.18.0.100", "198.18.0.102"])
        XCTAssertEqual(fake.last.services[0].scheduler, .weightedRoundRobin)
        XCTAssertEqual(fake.last.services[0].reals.map(\.weight), [5, 1])
        let service = plane.state.withLock { $0.table.services[0] }
        XCTAssertEqual(service.config.sorryServer?.port, 80, "what the lines do not touch stays")
        XCTAssertEqual(fake.record.withLock { $0.stopped.count }, 0)

        // A line ipvsadm's parser refuses (a comment, too: ipvsadm has none) ends the restore;
        // the lines before it stay.
        let bad = plane.control(["-R"], "-A -t 198.18.0.103:80\n# a comment\n-A -t 198.18.0.104:80\n")
        XCTAssertEqual(bad.ok, false)
        XCTAssertEqual(bad.text, AdmCommand.tryHelp + "\n")
        XCTAssertEqual(bad.status, 255)
        XCTAssertEqual(fake.last.services.map(\.vip.description), ["198.18.0.100", "198.18.0.102", "198.18.0.103"])
        let bogus = plane.control(["-R"], "-a -t 198.18.0.103:80 -r nonsense\n-A -t 198.18.0.104:80\n")
        XCTAssertEqual(bogus.text, "illegal real server address[:port] specified\n")
        XCTAssertEqual(bogus.status, 2)
        XCTAssertEqual(fake.last.services.count, 3)

        // Empty input changes nothing.
        let published = fake.record.withLock { $0.published.count }
        XCTAssertTrue(plane.control(["-R"], "").ok)
        XCTAssertTrue(plane.control(["-R"], "\n  \n").ok)
        XCTAssertEqual(fake.record.withLock { $0.published.count }, published)
        XCTAssertEqual(plane.control(["-R"], "-L -n\n").status, 2, "only edits may be restored here")
    }

    func testStatsIsIpvsadmsTableAndEngineHasTheEngineCounters() throws {
        let plane = try started(base)
        let listed = plane.control(["-L", "-n", "--stats"], "")
        XCTAssertTrue(listed.ok)
        XCTAssertFalse(listed.text.contains("Engine counters"), listed.text)
        XCTAssertTrue(listed.text.hasPrefix("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port"), listed.text)
        let engine = plane.control(["--engine"], "")
        XCTAssertEqual(engine.text, "Engine counters (all workers):\n  forwarded 7\nFrames per worker: 0=7\n")
        XCTAssertEqual(plane.summary(), "forwarded=7")
    }

    func testListingAMissingServiceIsIpvsadmsNoSuchService() throws {
        let plane = try started(base)
        let missing = plane.control(["-L", "-n", "-t", "198.18.0.200:80"], "")
        XCTAssertEqual(missing.ok, false)
        XCTAssertEqual(missing.text, "No such service\n")
        XCTAssertEqual(missing.status, 1)
        let one = plane.control(["-L", "-n", "-t", "198.18.0.100:80"], "")
        XCTAssertTrue(one.text.hasPrefix("Prot LocalAddress:Port Scheduler Flags\n"), "no version line for one service")
        XCTAssertEqual(plane.control(["-Z", "-t", "198.18.0.200:80"], "").status, 255)
        XCTAssertEqual(plane.control(["-D", "-t", "198.18.0.200:80"], "").text, "No such service\n")
        XCTAssertEqual(plane.control(["-C", "-t", "198.18.0.100:80"], "").text,
                       "Illegal 'service-address' option with the 'flush' command\n")
        XCTAssertEqual(plane.control(["-C", "-t", "198.18.0.100:80"], "").status, 2)
    }

    func testTraceNamesTheClientInTheSnapshotAndLogsEachPacketInWords() throws {
        let plane = try started(base)
        let client = IPv4Address("198.18.16.5")!
        let answer = plane.control(["--trace", "198.18.16.5"], "")
        XCTAssertTrue(answer.ok)
        XCTAssertTrue(answer.text.hasPrefix("tracing 198.18.16.5: "), answer.text)
        XCTAssertEqual(fake.last.view.traceClient, client.value)

        // What a worker would record for the client's SYN, and how it is logged.
        let realID = plane.state.withLock { $0.table.services[0].reals[0].id }
        var event = TraceEvent(time: 1, kind: .newFlow, proto: IPProtocol.tcp, source: client.value,
                               destination: IPv4Address("198.18.0.100")!.value, sourcePort: 40_000, destinationPort: 80)
        event.realID = realID
        event.state = .synRecv
        event.egress = 0
        FlowTrace.record(event, in: plane.trace.row(0))
        var dropped = event
        dropped.kind = .dropped
        dropped.reason = .noService
        dropped.realID = nil
        dropped.state = nil
        dropped.egress = nil
        FlowTrace.record(dropped, in: plane.trace.row(0))
        let sink = LogTests.Sink()
        let saved = Log.logger.withLock { $0 }
        defer { Log.use(saved) }
        var logger = Logger(label: "switchyard") { LineLogHandler(label: $0, sink: { sink.write($0) }, clock: { LogTests.fixedTime }) }
        logger.logLevel = .debug
        Log.use(logger)
        plane.logTrace()
        XCTAssertEqual(sink.written, [
            "01:02:03.045 switchyard debug: trace worker 0: TCP 198.18.16.5:40000 > 198.18.0.100:80: new flow, "
                + "scheduled to 198.18.0.11:80 (DR), SYN_RECV; sent out of eth0\n",
            "01:02:03.045 switchyard debug: trace worker 0: TCP 198.18.16.5:40000 > 198.18.0.100:80: dropped: drop_no_service\n",
        ])

        XCTAssertTrue(plane.control(["--trace", "off"], "").ok)
        XCTAssertEqual(fake.last.view.traceClient, 0)
        let wrong = plane.control(["--trace", "nobody"], "")
        XCTAssertFalse(wrong.ok)
        XCTAssertEqual(wrong.text, "--trace takes a client's IPv4 address, or off; not \"nobody\"\n")
    }

    /// The door VRRP uses: a VIP another box serves is neither answered nor forwarded here,
    /// but the guard keeps it (the kernel must not answer or reset for it either).
    func testAVIPServedElsewhereIsNotAnsweredNorForwardedButStillGuarded() throws {
        let plane = try started(base + "\nvirtual_server 198.18.0.101 80 {\n lb_kind DR\n real_server 198.18.0.12 80 { weight 1 }\n}\n")
        let vip = IPv4Address("198.18.0.100")!, other = IPv4Address("198.18.0.101")!
        try plane.setServed([IPAddressBits(vip)], false)
        XCTAssertFalse(fake.last.view.isVIP(vip.value), "no forwarding for it")
        XCTAssertNil(fake.last.view.service(proto: IPProtocol.tcp, vip: vip.value, port: 80))
        XCTAssertNotNil(fake.last.view.service(proto: IPProtocol.tcp, vip: other.value, port: 80))
        // Its real servers stay in the snapshot: flows that connection sync installs are bound to them.
        XCTAssertEqual(fake.last.services.map(\.vip), [vip, other].map { IPAddressBits(v4: $0.value) })
        let standbyReal = fake.last.services[0].reals[0].id
        XCTAssertEqual(fake.last.view.real(standbyReal)?.pointee.address, IPAddressBits(v4: IPv4Address("198.18.0.11")!.value))
        var sets = fake.record.withLock { $0.applied.last! }
        XCTAssertEqual(sets.answered, [IPAddressBits(other)], "no ARP answers for it")
        XCTAssertEqual(sets.vips, [vip, other].map(IPAddressBits.init), "the filter and the guard keep it")
        let applied = fake.record.withLock { $0.applied.count }
        try plane.setServed([IPAddressBits(vip)], false)
        XCTAssertEqual(fake.record.withLock { $0.applied.count }, applied, "no change, nothing reapplied")
        // A reload keeps the standby set: the VIP stays another box's.
        XCTAssertTrue(plane.reload().ok)
        XCTAssertFalse(fake.last.view.isVIP(vip.value))
        try plane.setServed([IPAddressBits(vip)], true)
        XCTAssertTrue(fake.last.view.isVIP(vip.value))
        XCTAssertNotNil(fake.last.view.service(proto: IPProtocol.tcp, vip: vip.value, port: 80))
        sets = fake.record.withLock { $0.applied.last! }
        XCTAssertEqual(sets.answered, [vip, other].map(IPAddressBits.init))
    }

    /// `adm -Lnc` lists what the workers' walk returns, in ipvsadm's format; `--sync` says when
    /// there is no lvs_sync_daemon; a walk that does not finish is an error, not an empty list.
    func testConnectionListingAndSyncStatus() throws {
        let plane = try started(base)
        XCTAssertEqual(plane.control(["-Lnc"], "").text, "the workers are not running\n")
        let flow = FlowRecord(client: IPAddressBits(text: "198.18.16.5")!, virtual: IPAddressBits(text: "198.18.0.100")!,
                              real: IPAddressBits(text: "198.18.0.11")!, clientPort: 40_000, virtualPort: 80, realPort: 80,
                              proto: IPProtocol.tcp, state: .established, flags: 0, expiresIn: 899_999)
        plane.listConnections = { [flow] }
        let listed = plane.control(["-L", "-n", "-c"], "")
        XCTAssertTrue(listed.ok)
        XCTAssertEqual(listed.text, """
            IPVS connection entries
            pro expire state       source             virtual            destination
            TCP 14:59  ESTABLISHED 198.18.16.5:40000  198.18.0.100:80    198.18.0.11:80

            """)
        plane.listConnections = { nil }
        XCTAssertFalse(plane.control(["-Lnc"], "").ok)
        XCTAssertEqual(plane.control(["--sync"], "").text, "no lvs_sync_daemon in this config\n")
    }

    /// Snapshots reach the workers in the order they were made, whoever makes them: health
    /// reports, adm and the timer republish from three threads at once.
    func testSnapshotsFromManyThreadsArriveInTheOrderTheyWereMade() throws {
        let plane = try started(base)
        let targets = fake.record.withLock { $0.started }
        let threads = (0..<4).map { t in
            Thread {
                for i in 0..<40 {
                    switch t {
                    case 0: plane.healthReport(targets[0], 0, i % 2 == 1, i % 2 == 1 ? .up : .down("refused"))
                    case 1: _ = plane.control(["-e", "-t", "198.18.0.100:80", "-r", "198.18.0.12", "-w", "\(1 + i % 3)"], "")
                    default: plane.republish()
                    }
                }
            }
        }
        threads.forEach { $0.start() }
        threads.forEach { $0.join() }
        let generations = fake.record.withLock { $0.published.map(\.generation) }
        XCTAssertGreaterThan(generations.count, 160)
        XCTAssertEqual(generations, generations.sorted(), "never an older snapshot after a newer one")
        XCTAssertEqual(Set(generations).count, generations.count)
    }

    /// A persistence change alone reaches the fanout program (its client mask is one of the
    /// address sets): a client network's template stays on one worker.
    func testAPersistenceMaskChangeReachesTheFanout() throws {
        let plane = try started(base)
        XCTAssertEqual(fake.record.withLock { $0.applied.last!.clientMask }, .max)
        XCTAssertTrue(plane.control(["-E", "-t", "198.18.0.100:80", "-p", "300", "-M", "255.255.255.0"], "").ok)
        XCTAssertEqual(fake.record.withLock { $0.applied.last!.clientMask }, 0xFFFF_FF00)
    }
}

/// A thread running a closure, joined by the test.
final class Thread: @unchecked Sendable {
    var handle = pthread_t()
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { raw in
            let me = Unmanaged<Thread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, box)
    }
    func join() { pthread_join(handle, nil) }
}

/// Writes a whole file, creating it.
