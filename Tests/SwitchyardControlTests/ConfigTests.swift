import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

final class ConfigTests: XCTestCase {
    func parse(_ text: String) throws(ConfigDiagnostic) -> Config { try Config.parse(text, path: "test.conf") }

    func error(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "no error"
        } catch {
            return error.description
        }
    }

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
            real_server 198.18.0.11 80 {
                weight 3
                TCP_CHECK {
                    connect_timeout 3
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
            "test.conf:3:5: warning: global_defs router_id is accepted but not acted on yet",
            "test.conf:12:5: warning: persistence_timeout is accepted but not acted on yet",
            "test.conf:15:9: warning: TCP_CHECK is accepted but not acted on yet",
        ])
        XCTAssertEqual(c.vips, [IPv4Address("198.18.0.100")!])
    }

    func testBlockOnOneLineAndBraceOnNextLine() throws {
        let c = try parse("virtual_server 198.18.0.1 53 { lb_kind DR }\nvirtual_server 198.18.0.1 54\n{\nlb_kind DR\n}\n")
        XCTAssertEqual(c.services.map(\.port), [53, 54])
    }

    func testErrorsSayLineAndColumn() {
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n  lb_kind DRR\n}\n"),
                       "test.conf:2:11: unknown lb_kind \"DRR\"; expected DR")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n  lb_kind DR\n  lb_algo fancy\n}"),
                       "test.conf:3:11: unknown scheduler \"fancy\"; expected mh, rr, wrr or sh")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n lb_algo wlc\n}"),
                       "test.conf:3:10: scheduler \"wlc\" is not supported yet; expected mh, rr, wrr or sh")
        XCTAssertEqual(error("virtual_serer 198.18.0.1 80 {\n}"),
                       "test.conf:1:1: unknown keyword \"virtual_serer\"; expected global_defs or virtual_server")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n  wieght 2\n}"),
                       "test.conf:3:3: unknown keyword \"wieght\" in virtual_server")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80 { weight -1 }\n}"),
                       "test.conf:3:37: weight must be a whole number from 0 to 65535, not \"-1\"")
        XCTAssertEqual(error("virtual_server 198.18.0.300 80 {\n}"),
                       "test.conf:1:16: \"198.18.0.300\" is not an IPv4 address (virtual server address)")
        XCTAssertEqual(error("virtual_server 198.18.0.1 0 {\n}"), "test.conf:1:27: \"0\" is not a port (1 to 65535)")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n"),
                       "test.conf:1:30: block opened here is never closed (missing '}')")
        XCTAssertEqual(error("}\n"), "test.conf:1:1: unexpected '}' with no open block")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind NAT\n}"),
                       "test.conf:2:10: lb_kind NAT is not supported yet; expected DR")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 8080\n}"),
                       "test.conf:3:2: with lb_kind DR a real server's port must be the service's port (80), not 8080: DR does not rewrite ports")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n protocol TCP\n}"),
                       "test.conf:1:1: virtual_server 198.18.0.1 80 has no lb_kind; write `lb_kind DR` (keepalived would default to NAT, which Switchyard does not do yet)")
        XCTAssertEqual(error("virtual_server 2001:db8::1 80 {\n}"),
                       "test.conf:1:16: IPv6 virtual server address 2001:db8::1 is not supported yet")
        XCTAssertEqual(error("virtual_server fwmark 1 {\n}"),
                       "test.conf:1:16: virtual_server fwmark is not supported yet; use virtual_server IP PORT")
        XCTAssertEqual(error("global_defs {\n switchyard_maglev_table_size 65536\n}"),
                       "test.conf:2:31: switchyard_maglev_table_size must be prime (e.g. 65537, 131071)")
        XCTAssertEqual(error("global_defs {\n switchyard_hash_key abc\n}"),
                       "test.conf:2:22: switchyard_hash_key must be 32 hex digits (128 bits), e.g. 0x0123456789abcdef0123456789abcdef")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n protocol \"TCP\n}"), "test.conf:2:11: unterminated quoted string")
    }

    func testServiceIdentityIsProtocolVIPPort() {
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 { lb_kind DR }\nvirtual_server 198.18.0.1 80 { lb_kind DR }\n"),
                       "test.conf:2:1: TCP 198.18.0.1:80 is already defined at line 1")
        XCTAssertEqual(error("virtual_server 198.18.0.1 80 {\n lb_kind DR\n real_server 198.18.0.2 80\n real_server 198.18.0.2 80\n}"),
                       "test.conf:4:2: real server 198.18.0.2:80 is listed twice in TCP 198.18.0.1:80 (first at line 3)")
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
        let f = try PacketFilter.forVIPs([IPv4Address("198.18.0.100")!, IPv4Address("198.18.0.101")!])
        XCTAssertGreaterThan(f.instructionCount, 4)
        XCTAssertThrowsError(try PacketFilter(expression: "dst host nonsense!!"))
    }

    func testKernelGuardScriptNamesOnlyItsTable() {
        let g = KernelGuard(interface: "lan-0")
        XCTAssertEqual(g.table, "switchyard_lan_0")
        let s = g.script(vips: [IPv4Address("198.18.0.100")!])
        XCTAssertTrue(s.contains("table ip switchyard_lan_0"))
        XCTAssertTrue(s.contains("iifname \"lan-0\" ip daddr { 198.18.0.100 } counter drop"))
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
