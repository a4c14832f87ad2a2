import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class ServiceTableTests: XCTestCase {
    func config(_ text: String) throws -> Config { try Config.parse(text, path: "t.conf") }

    let base = """
    virtual_server 198.18.0.100 80 {
        lb_algo rr
        lb_kind DR
        quorum 2
        hysteresis 1
        sorry_server 198.18.0.99 80
        real_server 198.18.0.11 80 {
            weight 1
            TCP_CHECK {
                connect_timeout 1
            }
        }
        real_server 198.18.0.12 80 {
            weight 2
            TCP_CHECK {
                connect_timeout 1
            }
        }
    }
    """

    func testReloadKeepsIDsAndReportsTheDifference() throws {
        var t = ServiceTable()
        let first = t.apply(try config(base))
        XCTAssertEqual(first.servicesAdded.count, 1)
        XCTAssertEqual(first.realsAdded, 2)
        XCTAssertEqual(first.checkersToStart.count, 2)
        let ids = t.services[0].reals.map(\.id)
        let serviceID = t.services[0].id

        // Same file again: nothing changes.
        XCTAssertTrue(t.apply(try config(base)).isEmpty)

        // A weight change, one real server replaced, a service added.
        let edited = base.replacingOccurrences(of: "weight 2", with: "weight 5")
            .replacingOccurrences(of: "198.18.0.11 80", with: "198.18.0.13 80")
            + "\nvirtual_server 198.18.0.100 443 {\n lb_kind DR\n real_server 198.18.0.12 443\n}\n"
        let c = t.apply(try config(edited))
        XCTAssertEqual(c.servicesAdded, [ServiceKey(proto: IPProtocol.tcp, vip: IPAddressBits(text: "198.18.0.100")!, port: 443)])
        XCTAssertEqual(c.realsAdded, 2)
        XCTAssertEqual(c.realsRemoved, 1)
        XCTAssertEqual(c.realsChanged, 1)
        XCTAssertEqual(c.checkersToStop, [ids[0]])
        XCTAssertEqual(t.services[0].id, serviceID, "the service keeps its ID")
        XCTAssertEqual(t.services[0].reals.first { $0.config.address == IPAddressBits(text: "198.18.0.12")! }?.id, ids[1],
                       "a real server that stays keeps its ID")
        XCTAssertFalse(t.services[0].reals.map(\.id).contains(ids[0]), "the removed one's ID is not reused at once")
    }

    /// A reload that only moves lines (a comment added above) changes nothing: the checkers go
    /// on, and a real server they marked down stays down.
    func testReloadThatOnlyMovesLinesKeepsTheCheckersAndTheirVerdict() throws {
        var t = ServiceTable()
        t.apply(try config(base))
        let id = t.services[0].reals[0].id
        XCTAssertNotNil(t.setChecker(realID: id, index: 0, up: false))
        let moved = t.apply(try config("# a comment\n! and another\n" + base))
        XCTAssertEqual(moved.checkersToStart, [])
        XCTAssertEqual(moved.checkersToStop, [])
        XCTAssertFalse(t.services[0].reals[0].up, "still down")
        // A changed checker does restart (and starts from the top).
        let changed = t.apply(try config(base.replacingOccurrences(of: "connect_timeout 1", with: "connect_timeout 2")))
        XCTAssertEqual(changed.checkersToStart.count, 2)
    }

    /// Quorum 2, hysteresis 1: lost below 1, regained at 3; meanwhile only the sorry server
    /// takes flows.
    func testQuorumHysteresisAndSorryServer() throws {
        var t = ServiceTable()
        t.apply(try config(base))
        let a = t.services[0].reals[0].id
        let b = t.services[0].reals[1].id
        func available() -> [String] {
            t.specs(mac: { _ in MACAddress(bits: 1) }, interface: { _ in 0 })[0].reals.filter(\.available)
                .map { "\($0.address)" }
        }
        XCTAssertTrue(t.services[0].quorumUp)
        XCTAssertEqual(available(), ["198.18.0.11", "198.18.0.12"])
        _ = t.setChecker(realID: b, index: 0, up: false)
        XCTAssertTrue(t.updateQuorum().isEmpty, "alive 1 is not below quorum 2 - hysteresis 1")
        XCTAssertEqual(available(), ["198.18.0.11"])
        _ = t.setChecker(realID: a, index: 0, up: false)
        XCTAssertEqual(t.updateQuorum().map(\.1), [false])
        XCTAssertEqual(available(), ["198.18.0.99"], "the sorry server stands in")
        _ = t.setChecker(realID: b, index: 0, up: true)
        XCTAssertTrue(t.updateQuorum().isEmpty, "alive 2 is below quorum 2 + hysteresis 1")
        XCTAssertEqual(available(), ["198.18.0.99"])
        _ = t.setChecker(realID: a, index: 0, up: true)
        XCTAssertEqual(t.updateQuorum().map(\.1), [true])
        XCTAssertEqual(available(), ["198.18.0.11", "198.18.0.12"])
    }

    func testAlphaStartsDownAndCheckerVerdictsCombine() throws {
        var t = ServiceTable()
        t.apply(try config("""
        virtual_server 198.18.0.100 80 {
            lb_kind DR
            alpha
            quorum 0
            real_server 198.18.0.11 80 {
                TCP_CHECK {
                    connect_timeout 1
                }
                MISC_CHECK {
                    misc_path /bin/true
                }
            }
        }
        """))
        let r = t.services[0].reals[0]
        XCTAssertEqual(r.checkersUp, [false, false])
        XCTAssertEqual(t.setChecker(realID: r.id, index: 0, up: true)?.changed, false, "one of two checkers is not enough")
        XCTAssertEqual(t.setChecker(realID: r.id, index: 1, up: true)?.changed, true)
    }
}

final class AdmTests: XCTestCase {
    let vip = IPAddressBits(text: "198.18.0.100")!

    func testParsing() throws {
        let key = ServiceKey(proto: IPProtocol.tcp, vip: vip, port: 80)
        XCTAssertEqual(try AdmCommand.parse(["-A", "-t", "198.18.0.100:80", "-s", "mh"]),
                       .addService(key, scheduler: .maglev, persistence: nil, mask: nil))
        XCTAssertEqual(try AdmCommand.parse(["-A", "-t", "198.18.0.100:80", "-p"]),
                       .addService(key, scheduler: nil, persistence: 300, mask: nil))
        XCTAssertEqual(try AdmCommand.parse(["--add-service", "--tcp-service", "198.18.0.100:80", "-p", "60", "-M", "255.255.255.0"]),
                       .addService(key, scheduler: nil, persistence: 60, mask: 0xFFFF_FF00))
        XCTAssertEqual(try AdmCommand.parse(["-a", "-t", "198.18.0.100:80", "-r", "198.18.0.11", "-g", "-w", "3"]),
                       .addReal(key, IPAddressBits(text: "198.18.0.11")!, nil, method: .dr, weight: 3))
        XCTAssertEqual(try AdmCommand.parse(["-e", "-u", "198.18.0.100:53", "-r", "198.18.0.11:5353", "-m"]),
                       .editReal(ServiceKey(proto: IPProtocol.udp, vip: vip, port: 53), IPAddressBits(text: "198.18.0.11")!, 5353,
                                 method: .nat, weight: 1))
        var list = AdmCommand.ListOptions()
        list.stats = true
        XCTAssertEqual(try AdmCommand.parse(["-Ln", "--stats"]), .list(list))
        XCTAssertEqual(try AdmCommand.parse(["--set", "900", "0", "300"]), .setTimeouts(tcp: 900, tcpfin: 0, udp: 300))
        XCTAssertEqual(try AdmCommand.parse(["-C"]), .clear)
        XCTAssertEqual(try AdmCommand.parse(["-Sn"]), .save)
    }

    func testErrorsReadLikeIpvsadm() {
        func error(_ a: [String]) -> String {
            do { _ = try AdmCommand.parse(a); return "no error" } catch { return error.description }
        }
        XCTAssertEqual(error([]), "no error", "a bare adm lists, as ipvsadm does")
        XCTAssertEqual(error(["-A"]), "You need to supply the 'service-address' option for the 'add-service' command")
        XCTAssertEqual(error(["-A", "-t", "198.18.0.100"]), "Zero port specified for non-persistent service")
        XCTAssertEqual(error(["-a", "-t", "198.18.0.100:80"]), "You need to supply the 'real-server' option for the 'add-server' command")
        XCTAssertEqual(error(["-a", "-t", "198.18.0.100:80", "-r", "1.2.3.4", "-w", "70000"]), "illegal weight specified")
        XCTAssertEqual(error(["-A", "-t", "198.18.0.100:80", "-s", "fancy"]), "Scheduler or persistence engine not found")
        XCTAssertEqual(error(["-A", "-D"]), "invalid option `-D'")
        XCTAssertEqual(error(["-L", "--bogus"]), "--bogus: unknown option")
        XCTAssertEqual(error(["-a", "-t", "198.18.0.100:80", "-r", "1.2.3.4", "-i"]), "tunnelling (-i) is not supported; use -g or -m")
    }

    func testTableEditsAndListing() throws {
        var t = ServiceTable()
        _ = try t.execute(AdmCommand.parse(["-A", "-t", "198.18.0.100:80", "-s", "rr"]))
        _ = try t.execute(AdmCommand.parse(["-a", "-t", "198.18.0.100:80", "-r", "198.18.0.11", "-g", "-w", "2"]))
        _ = try t.execute(AdmCommand.parse(["-a", "-t", "198.18.0.100:80", "-r", "198.18.0.12:80", "-g"]))
        _ = try t.execute(AdmCommand.parse(["-A", "-u", "198.18.0.100:53", "-s", "mh", "-p", "60"]))
        _ = try t.execute(AdmCommand.parse(["-a", "-u", "198.18.0.100:53", "-r", "198.18.0.11:5353", "-m"]))
        XCTAssertThrowsError(try t.execute(AdmCommand.parse(["-a", "-t", "198.18.0.100:80", "-r", "198.18.0.13", "-m"]))) {
            XCTAssertEqual("\($0)", "TCP 198.18.0.100:80 forwards by DR; Switchyard uses one forwarding method per virtual service")
        }
        XCTAssertThrowsError(try t.execute(AdmCommand.parse(["-d", "-t", "198.18.0.100:80", "-r", "198.18.0.99"]))) {
            XCTAssertEqual("\($0)", "No such destination")
        }
        let listing = AdmRender.list(t, AdmCommand.ListOptions(), numbers: { id in
            var n = RealNumbers()
            n.active = Int(id) + 1
            return n
        })
        XCTAssertEqual(listing, """
        IP Virtual Server version 1.2.1 (size=4096)
        Prot LocalAddress:Port Scheduler Flags
          -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
        TCP  198.18.0.100:80 rr
          -> 198.18.0.11:80               Route   2      2          0         
          -> 198.18.0.12:80               Route   1      3          0         
        UDP  198.18.0.100:53 mh persistent 60
          -> 198.18.0.11:5353             Masq    1      5          0         

        """)

        // -S, fed to -R on an empty table, gives back the same rules.
        let saved = AdmRender.save(t)
        var copy = ServiceTable()
        for line in saved.split(separator: "\n") {
            _ = try copy.execute(AdmCommand.parse(line.split(separator: " ").map(String.init)))
        }
        XCTAssertEqual(AdmRender.save(copy), saved)
        XCTAssertEqual(saved, """
        -A -t 198.18.0.100:80 -s rr
        -a -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 2
        -a -t 198.18.0.100:80 -r 198.18.0.12:80 -g -w 1
        -A -u 198.18.0.100:53 -s mh -p 60
        -a -u 198.18.0.100:53 -r 198.18.0.11:5353 -m -w 1

        """)
    }
}
