// IPv6 services in the config and in adm: read, checked (one family per service, addresses a
// packet can go to), listed and saved as ipvsadm writes them (`[2001:db8::100]:80`), sorted after
// the IPv4 ones; and refused only by an engine that receives with AF_XDP.
import XCTest
@testable import SwitchyardControl
import SwitchyardCore

final class IPv6ConfigTests: XCTestCase {
    func parse(_ text: String) throws(ConfigDiagnostic) -> Config { try Config.parse(text, path: "v6.conf") }

    func error(_ text: String) -> String { configError(text, path: "v6.conf") }

    let dualStack = """
        virtual_server 198.18.0.100 80 {
            lb_kind DR
            real_server 198.18.0.11 80
        }
        virtual_server 2001:db8::100 80 {
            lb_algo rr
            lb_kind NAT
            ip_family inet6
            sorry_server 2001:db8::99 8080
            real_server 2001:db8::11 8080 { weight 2 }
            real_server 2001:DB8:0:0:0:0:0:12 8080
        }
        """

    func testADualStackConfigReadsBothFamilies() throws {
        let c = try parse(dualStack)
        XCTAssertEqual(c.services.count, 2)
        let v6 = c.services[1]
        XCTAssertEqual(v6.vip, IPAddressBits(ipv6: "2001:db8::100"))
        XCTAssertFalse(v6.vip.isV4)
        XCTAssertEqual(v6.name, "TCP [2001:db8::100]:80")
        XCTAssertEqual(v6.reals.map(\.address.description), ["2001:db8::11", "2001:db8::12"], "RFC 5952's form")
        XCTAssertEqual(v6.reals.map(\.weight), [2, 1])
        XCTAssertEqual(v6.sorryServer, SorryServerConfig(address: IPAddressBits(ipv6: "2001:db8::99")!, port: 8080))
        XCTAssertEqual(v6.method, .nat)
        XCTAssertEqual(c.vips, [IPv4Address("198.18.0.100")!], "the IPv4 VIPs only: ARP, capture filter, guard")
        XCTAssertEqual(c.vips6, [IPAddressBits(ipv6: "2001:db8::100")!])
        XCTAssertEqual(AdmRender.check(c).split(separator: "\n").prefix(7).joined(separator: "\n"), """
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight
            TCP  198.18.0.100:80 wlc
              -> 198.18.0.11:80               Route   1
            TCP  [2001:db8::100]:80 rr
              -> [2001:db8::11]:8080          Masq    2
              -> [2001:db8::12]:8080          Masq    1
            """)
    }

    func testOneFamilyPerServiceAndAddressesAPacketCanGoTo() {
        XCTAssertEqual(error("virtual_server 2001:db8::100 80 {\n real_server 198.18.0.11 80\n}"),
                       "v6.conf:2:14: real server 198.18.0.11 is IPv4 but virtual server 2001:db8::100 is IPv6: "
                       + "DR and NAT keep the address family")
        XCTAssertEqual(error("virtual_server 198.18.0.100 80 {\n real_server 2001:db8::11 80\n}"),
                       "v6.conf:2:14: real server 2001:db8::11 is IPv6 but virtual server 198.18.0.100 is IPv4: "
                       + "DR and NAT keep the address family")
        XCTAssertEqual(error("virtual_server 198.18.0.100 80 {\n sorry_server 2001:db8::99 80\n}"),
                       "v6.conf:2:15: sorry server 2001:db8::99 is IPv6 but virtual server 198.18.0.100 is IPv4: "
                       + "DR and NAT keep the address family")
        XCTAssertEqual(error("virtual_server ff02::1 80 {\n}"),
                       "v6.conf:1:16: ff02::1 cannot be a virtual server address (multicast)")
        for text in ["::1", "::", "::ffff:198.18.0.1", "::198.18.0.1"] {
            XCTAssertEqual(error("virtual_server 2001:db8::100 80 {\n real_server \(text) 80\n}"),
                           "v6.conf:2:14: \(text) cannot be a real server address (unspecified, loopback, "
                           + "IPv4-compatible or -mapped: write an IPv4 address as 198.18.0.1)")
        }
        XCTAssertEqual(error("virtual_server 2001:db8::100 80 {\n real_server fe80::11 80\n}"),
                       "v6.conf:2:14: fe80::11 cannot be a real server address (link-local: it would need an interface; "
                       + "use a global address)")
        XCTAssertEqual(error("virtual_server 2001:db8::zz 80 {\n}"),
                       "v6.conf:1:16: \"2001:db8::zz\" is not an IPv6 address (virtual server address)")
        XCTAssertEqual(error("virtual_server [2001:db8::1] 80 {\n}"),
                       "v6.conf:1:16: \"[2001:db8::1]\" is not an IPv6 address (virtual server address)")
        XCTAssertEqual(error("virtual_server 2001:db8::100 80 {\n ip_family inet\n}"),
                       "v6.conf:2:12: ip_family inet does not match the virtual server's address 2001:db8::100")
        XCTAssertEqual(error("virtual_server 2001:db8::100 80 {\n persistence_granularity 255.255.255.0\n}"),
                       "v6.conf:2:26: persistence_granularity of an IPv6 virtual_server is a prefix length from 1 to 128, "
                       + "not \"255.255.255.0\"")
        XCTAssertEqual(error("virtual_server 2001:db8::100 80 {\n persistence_granularity 129\n}"),
                       "v6.conf:2:26: persistence_granularity of an IPv6 virtual_server is a prefix length from 1 to 128, "
                       + "not \"129\"")
        XCTAssertEqual(error("virtual_server 2001:db8::100 80 {\n}\nvirtual_server 2001:DB8::0100 80 {\n}"),
                       "v6.conf:3:1: TCP [2001:db8::100]:80 is already defined at line 1")
    }

    /// IPv6 services are forwarded with AF_PACKET rings; an engine on AF_XDP (whose program
    /// takes IPv4) refuses them at start, on reload and on `adm -A`, and says why.
    func testOnlyAnAFXDPEngineRefusesIPv6Services() throws {
        let c = try parse(dualStack)
        let why = "IPv6 virtual servers are forwarded with AF_PACKET rings only"
        XCTAssertNoThrow(try InterfacePlan.refuseUnforwardable(c, nil))
        XCTAssertThrowsError(try InterfacePlan.refuseUnforwardable(c, why)) { e in
            XCTAssertEqual("\(e)", "TCP [2001:db8::100]:80 (line 5): " + why)
        }
        XCTAssertNoThrow(try InterfacePlan.refuseUnforwardable(parse("virtual_server 198.18.0.100 80 {\n}"), why))
    }

    func testAdmReadsBracketedAddressesAndRefusesMixedFamilies() throws {
        let vip = IPAddressBits(ipv6: "2001:db8::100")!
        let key = ServiceKey(proto: IPProtocol.tcp, vip: vip, port: 80)
        XCTAssertEqual(try AdmCommand.parse(["-A", "-t", "[2001:db8::100]:80", "-s", "rr"]),
                       .addService(key, scheduler: .roundRobin, persistence: nil, mask: nil))
        XCTAssertEqual(try AdmCommand.parse(["-a", "-t", "[2001:db8::100]:80", "-r", "[2001:db8::11]:8080", "-m", "-w", "2"]),
                       .addReal(key, IPAddressBits(ipv6: "2001:db8::11")!, 8080, method: .nat, weight: 2))
        XCTAssertEqual(try AdmCommand.parse(["-a", "-t", "[2001:db8::100]:80", "-r", "[2001:db8::11]"]),
                       .addReal(key, IPAddressBits(ipv6: "2001:db8::11")!, nil, method: nil, weight: nil))
        func refusal(_ a: [String]) -> String {
            do { return "no error: \(try AdmCommand.parse(a))" } catch { return "\(error.exitStatus) \(error)" }
        }
        for bad in ["[2001:db8::100", "[2001:db8::100]80", "[198.18.0.1]:80", "[::ffff:198.18.0.1]:80", "2001:db8::100:80"] {
            XCTAssertEqual(refusal(["-A", "-t", bad]), "2 illegal virtual server address[:port] specified", bad)
        }
        XCTAssertEqual(refusal(["-a", "-t", "[2001:db8::100]:80", "-r", "198.18.0.11"]),
                       "2 virtual server and real server must be of one address family (DR and NAT keep it)")
        // -M is a prefix length for an IPv6 service (ipvsadm's 'M'), a netmask for an IPv4 one.
        XCTAssertEqual(refusal(["-A", "-t", "[2001:db8::100]:80", "-p", "60", "-M", "255.255.255.0"]),
                       "2 illegal ipv6 netmask specified")
        XCTAssertEqual(refusal(["-A", "-t", "[2001:db8::100]:80", "-p", "60", "-M", "129"]), "2 illegal ipv6 netmask specified")
        XCTAssertEqual(refusal(["-A", "-t", "198.18.0.100:80", "-p", "60", "-M", "24"]),
                       "2 illegal virtual server persistent mask specified")
        let persistent = try AdmCommand.parse(["-A", "-t", "[2001:db8::100]:80", "-s", "rr", "-p", "60", "-M", "64"])
        XCTAssertEqual(persistent, .addService(key, scheduler: .roundRobin, persistence: 60, mask: 64))
        var t = ServiceTable()
        _ = try t.execute(persistent)
        XCTAssertEqual(t.services[0].config.persistencePrefixLength, 64)
        XCTAssertEqual(AdmRender.save(t), "-A -t [2001:db8::100]:80 -s rr -p 60 -M 64\n")
        _ = try t.execute(try AdmCommand.parse(["-E", "-t", "[2001:db8::100]:80", "-s", "rr", "-p", "60"]))
        XCTAssertEqual(t.services[0].config.persistencePrefixLength, 128, "-E without -M: the whole address again")
        XCTAssertEqual(persistent.summary, "add service TCP [2001:db8::100]:80, scheduler rr, persistent 60 s, netmask 64")
    }

    func testTheTableListsAndSavesIPv6AfterIPv4() throws {
        var t = ServiceTable()
        t.apply(try parse(dualStack))
        _ = try t.execute(.addService(ServiceKey(proto: IPProtocol.tcp, vip: IPAddressBits(ipv6: "2001:db8::1")!, port: 443),
                                      scheduler: .roundRobin, persistence: nil, mask: nil))
        XCTAssertEqual(AdmRender.save(t), """
            -A -t 198.18.0.100:80 -s wlc
            -a -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 1
            -A -t [2001:db8::1]:443 -s rr
            -A -t [2001:db8::100]:80 -s rr
            -a -t [2001:db8::100]:80 -r [2001:db8::11]:8080 -m -w 2
            -a -t [2001:db8::100]:80 -r [2001:db8::12]:8080 -m -w 1

            """)
        XCTAssertLessThan(AdmRender.addressOrder(IPAddressBits(text: "223.0.0.1")!, IPAddressBits(text: "2001:db8::1")!), 0)
        XCTAssertGreaterThan(AdmRender.addressOrder(IPAddressBits(text: "2001:db8::1:0")!, IPAddressBits(text: "2001:db8::ffff")!), 0)
        // The snapshot's specs: each real server's MAC and interface, looked up by its address of
        // either family.
        let specs = t.specs(mac: { $0.isV4 ? MACAddress(bits: 1) : $0 == IPAddressBits(text: "2001:db8::11")! ? MACAddress(bits: 0x11) : nil },
                            interface: { $0.isV4 ? 0 : 1 })
        XCTAssertEqual(specs.first { !$0.vip.isV4 && $0.port == 80 }?.reals.map(\.mac), [MACAddress(bits: 0x11), nil])
        XCTAssertEqual(specs.first { !$0.vip.isV4 && $0.port == 80 }?.reals.map(\.interface), [1, 1])
        XCTAssertEqual(specs.first { $0.vip.isV4 }?.reals.map(\.mac), [MACAddress(bits: 1)])
    }

    /// An IPv6 service's persistence_granularity is a prefix length (keepalived's pgr_handler):
    /// alone it turns persistence on for 300 s, the snapshot masks clients to it, and adm lists
    /// it as ipvsadm does ("mask 64", "-M 64").
    func testIPv6PersistenceGranularityIsAPrefixLength() throws {
        let c = try parse("virtual_server 2001:db8::100 80 {\n lb_algo rr\n persistence_granularity 64\n"
            + " real_server 2001:db8::11 80\n}")
        let s = c.services[0]
        XCTAssertEqual(s.persistencePrefixLength, 64)
        XCTAssertEqual(s.persistenceTimeout, 300)
        XCTAssertEqual(s.persistenceGranularity, "64")
        var t = ServiceTable()
        t.apply(c)
        XCTAssertEqual(t.specs(mac: { _ in nil }, interface: { _ in 0 })[0].persistenceMask, .prefixMask(64))
        let listing = AdmRender.list(t, AdmCommand.ListOptions(), numbers: { _ in RealNumbers() })
        XCTAssertTrue(listing.contains("TCP  [2001:db8::100]:80 rr persistent 300 mask 64"), listing)
        XCTAssertTrue(AdmRender.save(t, sorted: false).contains("-A -t [2001:db8::100]:80 -s rr -p 300 -M 64\n"))
    }

    /// A dual-stack pair: each family's VIPs in a vrrp_instance of their own (an instance's
    /// addresses are of one family), both held until their instance is master.
    func testADualStackPairHoldsBothFamilies() throws {
        let c = try parse(dualStack + """

            vrrp_instance VI_4 {
                interface eth0
                virtual_router_id 51
                virtual_ipaddress {
                    198.18.0.100
                }
            }
            vrrp_instance VI_6 {
                interface eth0
                virtual_router_id 51
                virtual_ipaddress {
                    fe80::1/64
                    2001:db8::100
                }
            }
            """)
        XCTAssertEqual(c.failover.instances.map(\.isIPv6), [false, true])
        XCTAssertEqual(VRRPService.heldVIPs(c.failover, engineVIPs: c.allVIPs).map(\.description), ["198.18.0.100", "2001:db8::100"])
        XCTAssertTrue(c.warnings.allSatisfy { !$0.description.contains("VRRP") }, "\(c.warnings)")
    }
}
