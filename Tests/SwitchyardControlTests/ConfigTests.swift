import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

final class ConfigTests: XCTestCase {
    func parse(_ text: String) throws(ConfigDiagnostic) -> Config { try Config.parse(text, path: "test.conf") }

    func error(_ text: String) -> String { configError(text, path: "test.conf") }

    func testKeepalivedStyleConfig() throws {
        let c = try parse("""
        ! comment line
        global_defs {
            router_id LB1          # accepted with a warning
            switchyard_hash_key 0x000102030405060708090a0b0c0d0e0f
            switchyard_flow_capacity 2048
        }
        virtual_server 198.18.0.100 80 {
            delay_loop 6
            lb_algo rr
            lb_kind DR
            protocol TCP
            persistence_timeout 50
            sorry_server 198.18.0.99 80
            ha_suspend
            real_server 198.18.0.11 80 {
                weight 3
                TCP_CHECK {
                    connect_timeout 3
                }
                SSL_GET {
                    url {
                        path /
                    }
                }
            }
            real_server 198.18.0.12 80 { weight 0 }
        }
        virtual_server 198.18.0.100 80 { lvs_sched mh; lvs_method DR; protocol UDP
            real_server 198.18.0.11 80 { }
        }
        """.replacingOccurrences(of: ";", with: "\n"))
        XCTAssertEqual(c.services.count, 2)
        let tcp = c.services[0]
        XCTAssertEqual(tcp.name, "TCP 198.18.0.100:80")
        XCTAssertEqual(tcp.scheduler, .roundRobin)
        XCTAssertEqual(tcp.delayLoop, 6)
        XCTAssertEqual(tcp.reals.map(\.weight), [3, 0])
        XCTAssertEqual(c.services[1].proto, IPProtocol.udp)
        XCTAssertEqual(c.services[1].scheduler, .maglev)
        XCTAssertEqual(c.services[1].reals[0].weight, 1, "weight defaults to 1")
        XCTAssertEqual(c.schedulingKey, HashKey(k0: 0x0001_0203_0405_0607, k1: 0x0809_0A0B_0C0D_0E0F))
        XCTAssertEqual(c.flowCapacity, 2048)
        XCTAssertEqual(c.warnings.map(\.description), [
            "test.conf:3:5: warning: router_id is ignored (keepalived: names this box in its email alerts and SNMP)",
            "test.conf:14:5: warning: ha_suspend is ignored (keepalived: suspends the checkers while this box is not the VRRP master)",
        ])
        XCTAssertEqual(c.vips, [IPv4Address("198.18.0.100")!])
        XCTAssertEqual(tcp.persistenceTimeout, 50)
        XCTAssertEqual(tcp.sorryServer, SorryServerConfig(address: IPAddressBits(text: "198.18.0.99")!, port: 80))
        XCTAssertEqual(tcp.reals[0].checkers.map(\.kind), [.tcp, .ssl(urls: [URLCheck()], virtualHost: nil, sni: nil,
                                                                       tls: TLSClientSettings())])
        XCTAssertEqual(tcp.reals[0].checkers[0].timing.connectTimeout, 3)
        XCTAssertEqual(tcp.reals[0].checkers[0].timing.delayLoop, 6, "delay_loop of the virtual_server")
        XCTAssertEqual(tcp.persistenceMask, 0xFFFF_FFFF)
    }

    func testBlockOnOneLineAndBraceOnNextLine() throws {
        let c = try parse("virtual_server 198.18.0.1 53 { lb_kind DR }\nvirtual_server 198.18.0.1 54\n{\nlb_kind DR\n}\n")
        XCTAssertEqual(c.services.map(\.port), [53, 54])
    }

    func testErrorsSayLineAndColumn() {
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n  lb_kind DRR\n}\n"),
                       "test.conf:2:11: unknown lb_kind \"DRR\"; expected DR or NAT")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n  lb_kind DR\n  lb_algo fancy\n}"),
                       "test.conf:3:11: unknown scheduler \"fancy\"; expected mh, rr, wrr, sh, lc, wlc, sed or nq")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n lb_algo lblc\n}"),
                       "test.conf:3:10: scheduler \"lblc\" is not supported yet; expected mh, rr, wrr, sh, lc, wlc, sed or nq")
        XCTAssertEqual(error("virtual_serer 198.18.0.1 80 {\n}"),
                       "test.conf:1:1: unknown keyword \"virtual_serer\"; expected global_defs or virtual_server")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n  wieght 2\n}"),
                       "test.conf:3:3: unknown keyword \"wieght\" in virtual_server")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 { weight -1 }\n}"),
                       "test.conf:3:37: weight must be a whole number from 0 to 65535, not \"-1\"")
        XCTAssertEqual(error("virtual_server 198.18.0.300 80 {\n}"),
                       "test.conf:1:16: \"198.18.0.300\" is not an IPv4 address (virtual server address)")
        XCTAssertEqual(error("virtual_server 198.18.0.1 0 {\n}"), "test.conf:1:27: virtual_server 198.18.0.1 with no port "
                       + "(or port 0) would serve every port of the address, with persistence; Switchyard's services are one "
                       + "port each: write one virtual_server per port")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n"),
                       "test.conf:1:30: block opened here is never closed (missing '}')")
        XCTAssertEqual(error("}\n"), "test.conf:1:1: unexpected '}' with no open block")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind TUN\n}"),
                       "test.conf:2:10: lb_kind TUN is not supported yet (this kernel has no IPIP to test it); expected DR or NAT")
        XCTAssertEqual(error("virtual_server fe80::1 80 {\n}"),
                       "test.conf:1:16: fe80::1 cannot be a virtual server address (link-local: it would need an interface; "
                       + "use a global address)")
        XCTAssertEqual(error("virtual_server fwmark 1 {\n}"),
                       "test.conf:1:16: virtual_server fwmark is not supported yet: Switchyard matches a service by address, "
                       + "protocol and port, not by firewall mark; write one virtual_server per address and port the mark covers")
        XCTAssertEqual(error("global_defs {\n switchyard_maglev_table_size 65536\n}"),
                       "test.conf:2:31: switchyard_maglev_table_size must be prime (e.g. 65537, 131071)")
        XCTAssertEqual(error("global_defs {\n switchyard_hash_key abc\n}"),
                       "test.conf:2:22: switchyard_hash_key must be 32 hex digits (128 bits), e.g. 0x0123456789abcdef0123456789abcdef")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n protocol \"TCP\n}"), "test.conf:2:11: unterminated quoted string")
    }

    func testNATPersistenceAndTimeouts() throws {
        let c = try parse("""
        global_defs {
            lvs_timeouts tcp 7200 tcpfin 60 udp 30
        }
        virtual_server 198.18.1.100 80 {
            lb_algo wlc
            lb_kind NAT
            persistence_timeout 300
            persistence_granularity 255.255.255.0
            real_server 198.18.2.11 8080 { weight 2 }
        }
        """)
        let s = c.services[0]
        XCTAssertEqual(s.method, .nat)
        XCTAssertEqual(s.scheduler, .weightedLeastConnection)
        XCTAssertEqual(s.reals[0].port, 8080, "NAT maps ports")
        XCTAssertEqual(s.persistenceTimeout, 300)
        XCTAssertEqual(s.persistenceMask, 0xFFFF_FF00)
        XCTAssertEqual(c.timeouts.tcpEstablished, 7_200_000)
        XCTAssertEqual(c.timeouts.tcpFin, 60_000)
        XCTAssertEqual(c.timeouts.udp, 30_000)
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind NAT\n persistence_granularity 255.0.255.0\n}"),
                       "test.conf:3:26: persistence_granularity must be a netmask such as 255.255.255.0, not \"255.0.255.0\"")
        XCTAssertEqual(error("global_defs {\n lvs_timeouts tcp 10 fin 3\n}"),
                       "test.conf:2:22: unknown timeout \"fin\"; expected tcp, tcpfin or udp")
    }

    func testCheckerGrammar() throws {
        let c = try parse("""
        virtual_server 198.18.0.100 80 {
            lb_kind DR
            delay_loop 10
            retry 4
            real_server 198.18.0.11 80 {
                connect_timeout 2
                HTTP_GET {
                    url {
                        path /health
                        status_code 204
                        digest 0123456789abcdef0123456789abcdef
                        regex "^ok"
                    }
                    virtualhost www.example.test
                    delay_before_retry 3
                    connect_port 8080
                }
                MISC_CHECK {
                    misc_path /usr/local/bin/check --fast
                    misc_timeout 4
                }
            }
        }
        """)
        let checkers = c.services[0].reals[0].checkers
        XCTAssertEqual(checkers.count, 2)
        XCTAssertEqual(checkers[0].kind, .http(urls: [URLCheck(path: "/health", statusCode: 204,
                                                               digest: "0123456789abcdef0123456789abcdef", regex: "^ok")],
                                               virtualHost: "www.example.test"))
        XCTAssertEqual(checkers[0].timing, CheckTiming(delayLoop: 10, connectTimeout: 2, retry: 4, delayBeforeRetry: 3, warmup: 0),
                       "virtual_server, then real_server, then checker settings")
        XCTAssertEqual(checkers[0].connectPort, 8080)
        XCTAssertEqual(checkers[1].kind, .misc(path: "/usr/local/bin/check --fast", timeout: 4))
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 {\n  HTTP_GET {\n   url {\n    digest xyz\n   }\n  }\n }\n}"),
                       "test.conf:6:12: digest must be an MD5 sum: 32 hex digits (genhash prints one)")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 {\n  HTTP_GET {\n   url {\n    regex \"a(\"\n   }\n  }\n }\n}"),
                       "test.conf:6:11: regex \"a(\" is not a valid POSIX extended regular expression")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 {\n  MISC_CHECK {\n  }\n }\n}"),
                       "test.conf:4:3: MISC_CHECK needs misc_path (a command; exit 0 means up)")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 {\n  TCP_CHECK {\n   conect_timeout 3\n  }\n }\n}"),
                       "test.conf:5:4: unknown keyword \"conect_timeout\" in TCP_CHECK")
    }

    func testServiceIdentityIsProtocolVIPPort() {
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 { lb_kind DR }\nvirtual_server 198.18.0.1 80 { lb_kind DR }\n"),
                       "test.conf:2:1: TCP 198.18.0.1:80 is already defined at line 1")
    }

    func testQuotedArgumentsAndComments() throws {
        let c = try parse("virtual_server 198.18.0.1 80 { # trailing\n lb_kind \"DR\" ! another\n}\n")
        XCTAssertEqual(c.services.first?.method, .dr)
    }
}

final class ProcfsTests: XCTestCase {
    func testRouteParsingAndLongestPrefix() {
        let text = """
        Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
        eth0\t00000000\t010012C6\t0003\t0\t0\t0\t00000000\t0\t0\t0
        eth0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
        lan1\t000013C6\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
        down\t000014C6\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0
        """
        let routes = Route.parse(text)
        XCTAssertEqual(routes.count, 3, "routes that are not up are skipped")
        XCTAssertEqual(Route.best(to: IPv4Address("198.18.0.7")!, in: routes)?.interface, "eth0")
        XCTAssertEqual(Route.best(to: IPv4Address("198.18.0.7")!, in: routes)?.gateway, 0)
        XCTAssertEqual(Route.best(to: IPv4Address("198.19.3.4")!, in: routes)?.interface, "lan1")
        XCTAssertEqual(Route.best(to: IPv4Address("203.0.113.1")!, in: routes)?.gateway, IPv4Address("198.18.0.1")!.value)
    }

    func testNeighbourParsing() {
        let text = """
        IP address       HW type     Flags       HW address            Mask     Device
        198.18.0.11      0x1         0x2         e6:02:e0:66:0f:78     *        eth0
        198.18.0.12      0x1         0x0         00:00:00:00:00:00     *        eth0
        198.18.0.13      0x1         0x2         aa:bb:cc:dd:ee:ff     *        eth1
        """
        let n = NeighbourTable.parse(text, interface: "eth0")
        XCTAssertEqual(n, [IPv4Address("198.18.0.11")!: MACAddress("e6:02:e0:66:0f:78")!])
    }

    func testVIPFilterCompiles() throws {
        let f = try PacketFilter.forVIPs([IPAddressBits(text: "198.18.0.100")!, IPAddressBits(text: "198.18.0.101")!])
        XCTAssertGreaterThan(f.instructionCount, 4)
        XCTAssertThrowsError(try PacketFilter(expression: "dst host nonsense!!"))
    }

    /// NAT: the filter takes the real servers' replies from their service ports and their ICMP
    /// errors, not their other traffic (a health-check answer, another balancer's flows).
    func testVIPFilterTakesExactlyTheNATReplies() throws {
        let rs = IPv4Address("198.18.2.11")!
        let f = try PacketFilter.forVIPs([IPAddressBits(text: "198.18.0.100")!], natEndpoints: [
            KernelGuard.Endpoint(address: IPAddressBits(rs), proto: IPProtocol.tcp, port: 8081),
            KernelGuard.Endpoint(address: IPAddressBits(rs), proto: IPProtocol.udp, port: 53),
        ])
        func frame(src: IPv4Address, dst: IPv4Address, proto: UInt8, sport: UInt16) -> [UInt8] {
            var f = [UInt8](repeating: 0, count: 14 + 20 + 20)
            f[12] = 0x08
            f[14] = 0x45
            f[16] = 0
            f[17] = 40
            f[22] = 64
            f[23] = proto
            for i in 0..<4 {
                f[26 + i] = UInt8(truncatingIfNeeded: src.value >> (24 - 8 * UInt32(i)))
                f[30 + i] = UInt8(truncatingIfNeeded: dst.value >> (24 - 8 * UInt32(i)))
            }
            f[34] = UInt8(sport >> 8)
            f[35] = UInt8(sport & 0xFF)
            return f
        }
        let client = IPv4Address("198.18.0.10")!
        let lb = IPv4Address("198.18.2.1")!
        XCTAssertTrue(f.matches(frame(src: client, dst: IPv4Address("198.18.0.100")!, proto: IPProtocol.tcp, sport: 40000)))
        XCTAssertTrue(f.matches(frame(src: rs, dst: client, proto: IPProtocol.tcp, sport: 8081)))
        XCTAssertTrue(f.matches(frame(src: rs, dst: client, proto: IPProtocol.udp, sport: 53)))
        XCTAssertTrue(f.matches(frame(src: rs, dst: client, proto: IPProtocol.icmp, sport: 0)))
        XCTAssertFalse(f.matches(frame(src: rs, dst: lb, proto: IPProtocol.tcp, sport: 80)), "another port of the same server")
        XCTAssertFalse(f.matches(frame(src: rs, dst: client, proto: IPProtocol.udp, sport: 8081)), "the port, but not the protocol")
        XCTAssertFalse(f.matches(frame(src: client, dst: lb, proto: IPProtocol.tcp, sport: 8081)))
    }

    /// Per-frame ring slots: a 1500-byte MTU fits 2 KiB frames; jumbo frames get larger ones,
    /// in blocks that hold whole frames.
    func testFrameRingSlotsFitTheMTU() {
        XCTAssertEqual(RingGeometry.frames(upTo: 1518).frameSize, 2048)
        XCTAssertEqual(RingGeometry.frames(upTo: 9018).frameSize, 16384)
        XCTAssertEqual(RingGeometry.frames(upTo: 9018).blockSize, 1 << 18)
    }

    func testKernelGuardScriptNamesOnlyItsTable() {
        let g = KernelGuard(interface: "lan-0")
        XCTAssertEqual(g.table, "switchyard_lan_0")
        let s = g.script(KernelGuard.Rules(vips: ["lan-0": [IPAddressBits(text: "198.18.0.100")!]],
                                           natRealServers: ["in0": [
                                               KernelGuard.Endpoint(address: IPAddressBits(text: "198.18.2.12")!, proto: IPProtocol.udp, port: 53),
                                               KernelGuard.Endpoint(address: IPAddressBits(text: "198.18.2.11")!, proto: IPProtocol.tcp, port: 8080),
                                           ]]))
        XCTAssertTrue(s.hasPrefix("table netdev switchyard_lan_0 {"), s)
        XCTAssertTrue(s.contains("""
                chain ingress_lan_0 {
                    type filter hook ingress device "lan-0" priority 0; policy accept;
                    ip daddr { 198.18.0.100 } counter drop
            """), s)
        XCTAssertTrue(s.contains("""
                chain ingress_in0 {
                    type filter hook ingress device "in0" priority 0; policy accept;
                    ip saddr . meta l4proto . th sport { 198.18.2.11 . tcp . 8080, 198.18.2.12 . udp . 53 } fib daddr type != local counter drop
            """), s)
    }

    /// The fanout program sends both directions of a client's NAT flow, and its ICMP errors, to
    /// one worker, and spreads different clients.
    func testFanoutProgramKeepsBothDirectionsTogether() {
        let vip = IPv4Address("198.18.1.100")!
        let program = FanoutProgram.build(vips: [IPAddressBits(vip), IPAddressBits(text: "198.18.1.101")!], workers: 4)
        func frame(src: UInt32, dst: UInt32, proto: UInt8, quotedDst: UInt32 = 0) -> [UInt8] {
            var f = [UInt8](repeating: 0, count: 14 + 20 + 8 + 20 + 8)
            f[12] = 0x08
            f[14] = 0x45
            f[23] = proto
            for i in 0..<4 {
                f[26 + i] = UInt8(truncatingIfNeeded: src >> UInt32(24 - 8 * i))
                f[30 + i] = UInt8(truncatingIfNeeded: dst >> UInt32(24 - 8 * i))
                f[14 + 20 + 8 + 16 + i] = UInt8(truncatingIfNeeded: quotedDst >> UInt32(24 - 8 * i))
            }
            return f
        }
        var seen = Set<UInt32>()
        for c in 0..<64 as Range<UInt32> {
            let client = 0xC612_0A00 + c * 7
            let inbound = FanoutProgram.run(program, on: frame(src: client, dst: vip.value, proto: IPProtocol.tcp))
            let reply = FanoutProgram.run(program, on: frame(src: 0xC612_020B, dst: client, proto: IPProtocol.tcp))
            let icmpIn = FanoutProgram.run(program, on: frame(src: 0xC612_0001, dst: vip.value, proto: IPProtocol.icmp,
                                                             quotedDst: client))
            XCTAssertEqual(inbound, reply, "client \(c)")
            XCTAssertEqual(inbound, icmpIn, "client \(c)")
            XCTAssertEqual(Int(inbound), FanoutProgram.worker(for: client, workers: 4),
                           "connection sync installs client \(c)'s flows where its packets go")
            XCTAssertLessThan(inbound, 4)
            seen.insert(inbound)
        }
        XCTAssertEqual(seen.count, 4, "64 clients use all 4 workers")
        XCTAssertEqual(FanoutProgram.run(program, on: [UInt8](repeating: 0, count: 60)), 0, "non-IPv4 to worker 0")
        let masked = FanoutProgram.build(vips: [IPAddressBits(vip)], workers: 4, clientMask: 0xFFFF_FF00)
        let a = FanoutProgram.run(masked, on: frame(src: 0xC612_0A01, dst: vip.value, proto: IPProtocol.udp))
        let b = FanoutProgram.run(masked, on: frame(src: 0xC612_0AFE, dst: vip.value, proto: IPProtocol.udp))
        XCTAssertEqual(a, b, "one /24 on one worker")
        XCTAssertEqual(Int(a), FanoutProgram.worker(for: 0xC612_0A77, workers: 4, clientMask: 0xFFFF_FF00))
    }

    func testAddressParsing() {
        XCTAssertNil(IPv4Address("1.2.3"))
        XCTAssertNil(IPv4Address("01.2.3.4"))
        XCTAssertNil(IPv4Address("1.2.3.4 "))
        XCTAssertEqual(IPv4Address("198.18.0.1")?.description, "198.18.0.1")
        XCTAssertEqual(MACAddress("02:00:00:00:00:0a")?.description, "02:00:00:00:00:0a")
        XCTAssertNil(MACAddress("02:00:00:00:00"))
    }
}
