import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

/// keepalived's failover blocks (vrrp_instance, vrrp_script, vrrp_sync_group, lvs_sync_daemon)
/// read into FailoverConfig: the tutorial pairs an operator brings, every refusal with its place,
/// and the warnings where keepalived itself warns and carries on.
final class VRRPConfigTests: XCTestCase {
    func parse(_ text: String) throws(ConfigDiagnostic) -> Config { try Config.parse(text, path: "ha.conf") }

    func error(_ text: String) -> String { configError(text, path: "ha.conf") }

    func ip(_ s: String) -> IPv4Address { IPv4Address(s)! }

    /// The classic pair from keepalived's samples: MASTER 150 and BACKUP 100, PASS authentication.
    static let master = """
    global_defs {
        router_id LB_A
    }
    vrrp_instance VI_1 {
        state MASTER
        interface eth0
        virtual_router_id 51
        priority 150
        advert_int 1
        authentication {
            auth_type PASS
            auth_pass s3cr3t
        }
        virtual_ipaddress {
            198.18.0.100/24 dev eth0 label eth0:1
        }
        notify_master "/etc/keepalived/notify.sh master"
        notify /etc/keepalived/notify-all.sh
    }
    virtual_server 198.18.0.100 80 {
        lb_kind DR
        real_server 198.18.0.11 80 { }
    }

    """

    func testMasterBackupPairWithPassAuthentication() throws {
        let a = try parse(Self.master)
        XCTAssertEqual(a.failover.instances.count, 1)
        let i = a.failover.instances[0]
        XCTAssertEqual(i.name, "VI_1")
        XCTAssertEqual(i.initialState, .master)
        XCTAssertEqual(i.interface, "eth0")
        XCTAssertEqual(i.virtualRouterID, 51)
        XCTAssertEqual(i.priority, 150)
        XCTAssertEqual(i.advertInterval, 100)
        XCTAssertEqual(i.version, 2)
        XCTAssertTrue(i.preempt)
        XCTAssertEqual(i.authPass, "s3cr3t")
        XCTAssertEqual(i.virtualAddresses, [.init(address: ip("198.18.0.100"), prefixLength: 24, device: "eth0")])
        XCTAssertEqual(i.notifyMaster, "/etc/keepalived/notify.sh master")
        XCTAssertEqual(i.notify, "/etc/keepalived/notify-all.sh")
        XCTAssertEqual(i.garpMasterDelay, 5)
        XCTAssertEqual(i.garpMasterRepeat, 5)
        XCTAssertEqual(i.location, SourceLocation(line: 4, column: 1))
        XCTAssertEqual(a.warnings.map(\.description), [
            "ha.conf:2:5: warning: router_id is ignored (keepalived: names this box in its email alerts and SNMP)",
            "ha.conf:15:34: warning: virtual_ipaddress option label is accepted but not acted on yet",
        ])

        let b = try parse(Self.master.replacingOccurrences(of: "state MASTER", with: "state BACKUP")
            .replacingOccurrences(of: "priority 150", with: "priority 100"))
        XCTAssertEqual(b.failover.instances[0].initialState, .backup)
        XCTAssertEqual(b.failover.instances[0].priority, 100)
        XCTAssertEqual(b.failover.instances[0].virtualRouterID, 51)
    }

    static let unicastV3 = """
    vrrp_script chk_switchyard {
        script "/usr/bin/pgrep -x switchyard"
        interval 0.5
        timeout 2
        weight -30
        rise 2
        fall 3
        user nobody nogroup
    }
    vrrp_instance VI_FAST {
        state BACKUP
        interface eth0
        virtual_router_id 60
        priority 200
        advert_int 0.1
        version 3
        nopreempt
        unicast_src_ip 198.18.0.2
        unicast_peer {
            198.18.0.3
        }
        virtual_ipaddress {
            198.18.0.100
        }
        track_interface {
            eth1 weight -50
            eth2
        }
        track_script {
            chk_switchyard
        }
        v3_checksum_as_v2
    }

    """

    func testVersion3UnicastPairWithSubSecondAdverts() throws {
        let c = try parse(Self.unicastV3)
        let i = c.failover.instances[0]
        XCTAssertEqual(i.version, 3)
        XCTAssertEqual(i.advertInterval, 10, "0.1 s in centiseconds")
        XCTAssertEqual(i.advertSeconds, 0.1)
        XCTAssertFalse(i.preempt)
        XCTAssertEqual(i.initialState, .backup)
        XCTAssertEqual(i.priority, 200)
        XCTAssertEqual(i.unicastSource, IPAddressBits(ip("198.18.0.2")))
        XCTAssertEqual(i.unicastPeers, [IPAddressBits(ip("198.18.0.3"))])
        XCTAssertEqual(i.virtualAddresses, [.init(address: ip("198.18.0.100"))])
        XCTAssertEqual(i.trackInterfaces, [.init(name: "eth1", weight: -50), .init(name: "eth2")])
        XCTAssertEqual(i.trackScripts, [.init(name: "chk_switchyard", weight: -30)], "the script's own weight")
        XCTAssertTrue(i.v3ChecksumAsV2)
        XCTAssertNil(i.authPass)
        let s = c.failover.scripts[0]
        XCTAssertEqual(s.script, "/usr/bin/pgrep -x switchyard")
        XCTAssertEqual(s.interval, 0.5)
        XCTAssertEqual(s.timeout, 2)
        XCTAssertEqual(s.weight, -30)
        XCTAssertEqual([s.rise, s.fall], [2, 3])
        XCTAssertEqual(s.user, "nobody")
        XCTAssertEqual(s.group, "nogroup")
        XCTAssertEqual(c.warnings.map(\.description), [])
    }

    static let syncGroup = """
    global_defs {
        vrrp_version 3
        vrrp_garp_master_delay 1
        vrrp_garp_master_repeat 3
        vrrp_garp_master_refresh 60
        vrrp_garp_master_refresh_repeat 2
        lvs_sync_daemon eth1 VI_GW id 7 port 8849 ttl 2 group 224.0.0.82 maxlen 1400
    }
    vrrp_sync_group G1 {
        group {
            VI_VIP VI_GW
        }
        notify_master "/usr/local/bin/ha master"
        notify_stop /usr/local/bin/ha-stop
    }
    vrrp_instance VI_VIP {
        interface eth0
        virtual_router_id 51
        priority 255
        virtual_ipaddress {
            198.18.0.100/24
        }
    }
    vrrp_instance VI_GW {
        interface eth1
        virtual_router_id 52
        priority 255
        garp_master_repeat 7
        virtual_ipaddress {
            198.19.0.1/24 dev eth1
        }
    }
    virtual_server 198.18.0.100 80 {
        lb_kind NAT
        real_server 198.19.0.11 80 { }
    }

    """

    func testSyncGroupOfVIPAndNATGatewayWithSyncDaemon() throws {
        let c = try parse(Self.syncGroup)
        XCTAssertEqual(c.failover.syncGroups.map(\.name), ["G1"])
        XCTAssertEqual(c.failover.syncGroups[0].instances, ["VI_VIP", "VI_GW"])
        XCTAssertEqual(c.failover.syncGroups[0].notifyMaster, "/usr/local/bin/ha master")
        XCTAssertEqual(c.failover.syncGroups[0].notifyStop, "/usr/local/bin/ha-stop")
        let (vip, gw) = (c.failover.instances[0], c.failover.instances[1])
        XCTAssertEqual([vip.version, gw.version], [3, 3], "global_defs vrrp_version")
        XCTAssertEqual([vip.initialState, gw.initialState], [.master, .master], "priority 255 and no state: MASTER")
        XCTAssertEqual(gw.virtualAddresses, [.init(address: ip("198.19.0.1"), prefixLength: 24, device: "eth1")])
        XCTAssertEqual([vip.garpMasterDelay, vip.garpMasterRefresh], [1, 60])
        XCTAssertEqual([vip.garpMasterRepeat, vip.garpMasterRefreshRepeat], [3, 2])
        XCTAssertEqual(gw.garpMasterRepeat, 7, "the instance's own beats global_defs")
        var sync = SyncDaemonConfig(interface: "eth1", instance: "VI_GW", location: SourceLocation(line: 7, column: 5))
        sync.syncID = 7
        sync.port = 8849
        sync.ttl = 2
        sync.group = ip("224.0.0.82")
        sync.maxLength = 1400
        XCTAssertEqual(c.failover.syncDaemon, sync)
        XCTAssertEqual(c.warnings.map(\.description), [], "connection sync is acted on: no warning")
        XCTAssertEqual(AdmRender.check(c), """
        Prot LocalAddress:Port Scheduler Flags
          -> RemoteAddress:Port           Forward Weight
        TCP  198.18.0.100:80 wlc
          -> 198.19.0.11:80               Masq    1
        VRRP Instance        Interface        VRID Prio Advert Ver State  Flags
        VI_VIP               eth0             51   255  1s     3   MASTER
          -> vip 198.18.0.100/24
        VI_GW                eth1             52   255  1s     3   MASTER
          -> vip 198.19.0.1/24 dev eth1
        sync group G1: VI_VIP VI_GW
        lvs_sync_daemon eth1 VI_GW id 7 port 8849 group 224.0.0.82 ttl 2 maxlen 1400

        """)
    }

    func testKeepalivedDefaultsAndDerivations() throws {
        // No priority with state MASTER: 255. The sync ID defaults to the VRID; the older
        // positional form and the instance-level interface keyword still read.
        let c = try parse("""
        vrrp_instance A {
            state MASTER
            interface eth0
            virtual_router_id 9
            lvs_sync_daemon_interface eth1
        }
        """)
        XCTAssertEqual(c.failover.instances[0].priority, 255)
        XCTAssertEqual(c.failover.instances[0].initialState, .master)
        XCTAssertEqual(c.failover.syncDaemon?.interface, "eth1")
        XCTAssertEqual(c.failover.syncDaemon?.instance, "A")
        XCTAssertEqual(c.failover.syncDaemon?.syncID, 9)
        XCTAssertEqual(c.failover.syncDaemon?.port, 8848)
        XCTAssertEqual(c.failover.syncDaemon?.group, ip("224.0.0.81"))
        XCTAssertEqual(c.warnings.map(\.description), [
            "ha.conf:5:5: warning: lvs_sync_daemon_interface in a vrrp_instance is deprecated (as in keepalived); "
                + "write `lvs_sync_daemon eth1 A` in global_defs",
        ])
        let old = try parse("global_defs {\n lvs_sync_daemon eth1 B 12\n}\nvrrp_instance B {\n interface eth0\n virtual_router_id 3\n}\n")
        XCTAssertEqual(old.failover.syncDaemon?.syncID, 12)
        XCTAssertEqual(old.failover.instances[0].priority, 100)
        XCTAssertEqual(old.failover.instances[0].initialState, .backup)
    }

    let base = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n"

    func testErrorsSayLineAndColumn() {
        XCTAssertEqual(error(base + " virtual_router_id 256\n}"),
                       "ha.conf:4:20: virtual_router_id must be a whole number from 1 to 255, not \"256\"")
        XCTAssertEqual(error(base + " priority 0\n}"), "ha.conf:4:11: priority must be a whole number from 1 to 255, not \"0\"")
        XCTAssertEqual(error(base + " advert_int 0\n}"),
                       "ha.conf:4:13: advert_int must be a number of seconds from 0.01 to 255 (at most 6 decimals), not \"0\"")
        XCTAssertEqual(error(base + " advert_int -1\n}"),
                       "ha.conf:4:13: advert_int must be a number of seconds from 0.01 to 255 (at most 6 decimals), not \"-1\"")
        XCTAssertEqual(error(base + " version 4\n}"), "ha.conf:4:10: version must be a whole number from 2 to 3, not \"4\"")
        XCTAssertEqual(error(base + " state master\n}"),
                       "ha.conf:4:8: unknown state \"master\"; expected MASTER or BACKUP (in capitals, as keepalived reads it)")
        XCTAssertEqual(error("vrrp_instance VI_1 {\n virtual_router_id 51\n}"),
                       "ha.conf:1:1: vrrp_instance VI_1 has no interface; write e.g. `interface eth0` (where its addresses are served and its adverts sent)")
        XCTAssertEqual(error("vrrp_instance VI_1 {\n interface eth0\n}"),
                       "ha.conf:1:1: vrrp_instance VI_1 has no virtual_router_id; write e.g. `virtual_router_id 51` (1 to 255, the same on every balancer of the pair)")
        XCTAssertEqual(error(base + "}\n" + base + "}\n"), "ha.conf:5:15: vrrp_instance VI_1 is already defined at line 1")
        XCTAssertEqual(error(base + "}\nvrrp_instance VI_2 {\n interface eth0\n virtual_router_id 51\n}\n"),
                       "ha.conf:5:1: vrrp_instance VI_2 uses virtual_router_id 51 on eth0, as vrrp_instance VI_1 at line 1 does; each needs its own")
        XCTAssertEqual(error(base + " virtual_ipaddress {\n  2001:db8::1/129\n }\n}"),
                       "ha.conf:5:3: \"2001:db8::1/129\": the prefix length after / must be 0 to 128")
        XCTAssertEqual(error(base + " virtual_ipaddress {\n  198.18.0.300\n }\n}"),
                       "ha.conf:5:3: \"198.18.0.300\" is not an IPv4 address (virtual_ipaddress)")
        XCTAssertEqual(error(base + " virtual_ipaddress {\n  198.18.0.1/33\n }\n}"),
                       "ha.conf:5:3: \"198.18.0.1/33\": the prefix length after / must be 0 to 32")
        XCTAssertEqual(error(base + " virtual_ipaddress {\n  198.18.0.1 dve eth0\n }\n}"),
                       "ha.conf:5:14: unknown virtual_ipaddress option \"dve\"; expected dev, label, brd, scope, …")
        XCTAssertEqual(error(base + " unicast_peer {\n  2001:db8::2\n }\n}"),
                       "ha.conf:1:1: vrrp_instance VI_1 is IPv4 but its unicast address 2001:db8::2 is not; an instance's adverts and addresses are of one family")
        XCTAssertEqual(error(base + " unicast_peer {\n  198.18.0.2 198.18.0.3\n }\n}"),
                       "ha.conf:5:14: one unicast_peer address a line (keepalived reads only the first of a line)")
        XCTAssertEqual(error(base + " unicast_src_ip fe80::1\n}"),
                       "ha.conf:1:1: vrrp_instance VI_1 is IPv4 but its unicast address fe80::1 is not; an instance's adverts and addresses are of one family")
        XCTAssertEqual(error(base + " track_script {\n  chk\n }\n}"),
                       "ha.conf:5:3: track_script chk: no vrrp_script chk is defined above this vrrp_instance (keepalived only finds scripts defined before the instance)")
        XCTAssertEqual(error(base + " track_interface {\n  eth1 weight 300\n }\n}"),
                       "ha.conf:5:15: weight must be a whole number from -254 to 254, not \"300\"")
        XCTAssertEqual(error(base + " track_interface {\n  eth1 weight -10 reverse\n }\n}"),
                       "ha.conf:5:19: weight … reverse is not supported yet")
        XCTAssertEqual(error(base + " authentication {\n  auth_type MD5\n }\n}"),
                       "ha.conf:5:13: unknown auth_type \"MD5\"; expected PASS (AH is not supported yet)")
        XCTAssertEqual(error(base + " authentication {\n  auth_type AH\n  auth_pass k\n }\n}"),
                       "ha.conf:5:13: auth_type AH is not supported yet; use auth_type PASS, or no authentication")
        XCTAssertEqual(error(base + " use_vmc\n}"), "ha.conf:4:2: unknown keyword \"use_vmc\" in vrrp_instance")
        XCTAssertEqual(error(base + " virtual_ipaddress {\n  198.18.0.1\n }\n native_ipv6\n}"),
                       "ha.conf:7:2: native_ipv6 in a vrrp_instance with IPv4 addresses (keepalived: cannot specify native_ipv6 with IPv4 addresses); an instance's addresses are of one family")
        XCTAssertEqual(error("vrrp_instance {\n}"), "ha.conf:1:1: vrrp_instance takes one name: vrrp_instance NAME { … }")
    }

    func testCrossBlockErrors() {
        let two = base + "}\nvrrp_instance VI_2 {\n interface eth0\n virtual_router_id 52\n}\n"
        XCTAssertEqual(error(two + "vrrp_sync_group G {\n group {\n  VI_1 VI_3\n }\n}"),
                       "ha.conf:11:8: vrrp_sync_group G names vrrp_instance VI_3, which is not defined")
        XCTAssertEqual(error(two + "vrrp_sync_group G {\n group {\n  VI_1 VI_2\n }\n}\nvrrp_sync_group H {\n group {\n  VI_2\n }\n}"),
                       "ha.conf:16:3: vrrp_instance VI_2 is already in vrrp_sync_group G; an instance can be in one sync group only")
        XCTAssertEqual(error(two + "vrrp_sync_group G {\n group {\n  VI_1\n  VI_1\n }\n}"),
                       "ha.conf:12:3: vrrp_sync_group G lists vrrp_instance VI_1 twice")
        XCTAssertEqual(error(two + "vrrp_sync_group G {\n}"), "ha.conf:9:1: vrrp_sync_group G has no members; write `group { VI_1 VI_2 }`")
        XCTAssertEqual(error("global_defs {\n lvs_sync_daemon eth1 VI_9\n}\n" + base + "}"),
                       "ha.conf:2:23: lvs_sync_daemon names vrrp_instance VI_9, which is not defined")
        XCTAssertEqual(error("global_defs {\n lvs_sync_daemon eth1\n}\n"),
                       "ha.conf:2:2: lvs_sync_daemon takes an interface and the vrrp_instance whose state decides who sends: lvs_sync_daemon eth0 VI_1")
        XCTAssertEqual(error("global_defs {\n lvs_sync_daemon eth1 VI_1 group 198.18.0.1\n}\n"),
                       "ha.conf:2:34: lvs_sync_daemon group must be an IPv4 multicast address (224.0.0.0/4), not \"198.18.0.1\"")
        XCTAssertEqual(error("global_defs {\n lvs_sync_daemon eth1 VI_1 port 0\n}\n"),
                       "ha.conf:2:33: lvs_sync_daemon port must be a whole number from 1 to 65535, not \"0\"")
        XCTAssertEqual(error("global_defs {\n vrrp_version 1\n}\n"), "ha.conf:2:15: vrrp_version must be a whole number from 2 to 3, not \"1\"")
        XCTAssertEqual(error("vrrp_script chk {\n interval 1\n}\n"),
                       "ha.conf:1:1: vrrp_script chk has no script; write e.g. `script \"/usr/bin/pgrep -x haproxy\"`")
        XCTAssertEqual(error("vrrp_script chk {\n script /bin/true\n weight 254\n}\n"),
                       "ha.conf:3:9: vrrp_script weight must be a whole number from -253 to 253, not \"254\"")
        XCTAssertEqual(error("vrrp_script chk {\n script /bin/true\n intervall 2\n}\n"),
                       "ha.conf:3:2: unknown keyword \"intervall\" in vrrp_script")
        // Unicast instances share a VRID space only when they share a peer.
        let unicast = "vrrp_instance A {\n interface eth0\n virtual_router_id 5\n unicast_peer {\n  198.18.0.2\n }\n}\n"
        XCTAssertEqual(error(unicast + unicast.replacingOccurrences(of: "198.18.0.2", with: "198.18.0.3")
            .replacingOccurrences(of: "instance A", with: "instance B")), "no error")
        XCTAssertEqual(error(unicast + unicast.replacingOccurrences(of: "instance A", with: "instance B")),
                       "ha.conf:8:1: vrrp_instance B uses virtual_router_id 5 on eth0, as vrrp_instance A at line 1 does; each needs its own")
        XCTAssertEqual(error(base + "}\n" + base.replacingOccurrences(of: "VI_1", with: "VI_2").replacingOccurrences(of: "eth0", with: "eth1") + "}"),
                       "no error", "the same VRID on another interface")
    }

    func testWarningsWhereKeepalivedCarriesOn() throws {
        let c = try parse("""
        vrrp_script unused {
            script /bin/true
        }
        vrrp_instance VI_1 {
            state MASTER
            interface eth0
            virtual_router_id 51
            priority 150
            advert_int 0.4
            nopreempt
            preempt_delay 10
            use_vmac
            virtual_routes {
                198.18.5.0/24 via 198.18.0.254
            }
            authentication {
                auth_type PASS
                auth_pass longerthan8
            }
            garp_master_repeat 0
            notify_master /a
            notify_master /b
        }
        vrrp_instance VI_2 {
            interface eth1
            virtual_router_id 52
            version 3
            advert_int 0.125
            authentication {
                auth_type PASS
                auth_pass x
            }
        }
        """)
        let (one, two) = (c.failover.instances[0], c.failover.instances[1])
        XCTAssertEqual(one.advertInterval, 100, "version 2: 0.4 s rounds to 0, made 1 s")
        XCTAssertEqual(one.authPass, "longerth")
        XCTAssertTrue(one.preempt)
        XCTAssertEqual(one.preemptDelay, 0)
        XCTAssertEqual(one.garpMasterRepeat, 1)
        XCTAssertEqual(one.notifyMaster, "/a")
        XCTAssertEqual(two.advertInterval, 13, "version 3: 0.125 s rounds half up to 0.13")
        XCTAssertNil(two.authPass)
        XCTAssertEqual(c.warnings.map(\.description), [
            "ha.conf:12:5: warning: use_vmac is accepted but not acted on yet",
            "ha.conf:13:5: warning: virtual_routes is accepted but not acted on yet",
            "ha.conf:18:19: warning: auth_pass is longer than 8 characters; only \"longerth\" is used, as keepalived",
            "ha.conf:20:24: warning: garp_master_repeat must be greater than 0; 1 is used, as keepalived",
            "ha.conf:22:5: warning: vrrp_instance VI_1: notify_master is already set; this one is ignored, as keepalived",
            "ha.conf:4:1: warning: vrrp_instance VI_1: VRRP version 2 adverts carry whole seconds; advert_int 0.4 is rounded to 1, "
                + "as keepalived (use version 3 for sub-second adverts)",
            "ha.conf:4:1: warning: vrrp_instance VI_1: nopreempt does not work with state MASTER; it is cleared, as keepalived",
            "ha.conf:4:1: warning: vrrp_instance VI_1: preempt_delay does not work with state MASTER; it is cleared, as keepalived",
            "ha.conf:24:1: warning: vrrp_instance VI_2: VRRP version 3 counts advert_int in hundredths of a second; 0.125 "
                + "is rounded to 0.13, as keepalived",
            "ha.conf:24:1: warning: vrrp_instance VI_2: VRRP version 3 has no authentication; it is ignored, as keepalived",
            "ha.conf:1:1: warning: vrrp_script unused is not tracked by any vrrp_instance (keepalived drops it)",
        ])
    }

    func testGlobalDefaultsCountForInstancesBelowThemAsInKeepalived() throws {
        // keepalived copies the garp defaults when an instance's block starts, and reads
        // vrrp_version when the file is complete; one sync daemon, the second ignored.
        let c = try parse("""
        vrrp_instance EARLY {
            interface eth0
            virtual_router_id 1
            state MASTER
            priority 200
        }
        global_defs {
            vrrp_garp_master_delay 0
            vrrp_version 2
            lvs_sync_daemon eth1 LATE
            lvs_sync_daemon eth2 EARLY
            v3_checksum_as_v2 yes
        }
        vrrp_instance LATE {
            interface eth0
            virtual_router_id 2
            version 3
        }
        """)
        let (early, late) = (c.failover.instances[0], c.failover.instances[1])
        XCTAssertEqual([early.garpMasterDelay, late.garpMasterDelay], [5, 0])
        XCTAssertEqual([early.v3ChecksumAsV2, late.v3ChecksumAsV2], [false, true])
        XCTAssertEqual([early.version, late.version], [2, 3])
        XCTAssertEqual(early.initialState, .master)
        XCTAssertEqual(c.failover.syncDaemon?.instance, "LATE")
        XCTAssertEqual(c.warnings.map(\.description), [
            "ha.conf:11:5: warning: lvs_sync_daemon is already set at line 10 (eth1 LATE); this one is ignored, as keepalived",
        ])
    }

    func testSyncGroupStartsAsBackupUnlessEveryMemberOwnsItsAddresses() throws {
        let c = try parse("""
        vrrp_sync_group G {
            group { A B }
        }
        vrrp_instance A {
            state MASTER
            interface eth0
            virtual_router_id 1
            priority 150
        }
        vrrp_instance B {
            state MASTER
            interface eth1
            virtual_router_id 2
            priority 150
        }
        """)
        XCTAssertEqual(c.failover.instances.map(\.initialState), [.backup, .backup])
        XCTAssertEqual(c.warnings.first?.description,
                       "ha.conf:1:1: warning: vrrp_sync_group G: its instances start as BACKUP, as keepalived starts a group "
                           + "as MASTER only when every member says MASTER with priority 255")
    }

    func testCheckListsInstancesAfterServices() throws {
        let c = try parse(Self.unicastV3)
        XCTAssertEqual(AdmRender.check(c), """
        Prot LocalAddress:Port Scheduler Flags
          -> RemoteAddress:Port           Forward Weight
        VRRP Instance        Interface        VRID Prio Advert Ver State  Flags
        VI_FAST              eth0             60   200  0.1s   3   BACKUP nopreempt, v3_checksum_as_v2
          -> vip 198.18.0.100/32
          -> peer 198.18.0.3 from 198.18.0.2
          -> track interface eth1 weight -50
          -> track interface eth2 (fault when down)
          -> track script chk_switchyard weight -30

        """)
    }
}
