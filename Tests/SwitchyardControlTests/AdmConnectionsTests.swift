// `switchyard adm -L -c`: how its arguments are read and refused, and its listing byte for byte
// against what ipvsadm 1.31 prints for the same entries.
@testable import SwitchyardControl
import SwitchyardCore
import XCTest

final class AdmConnectionsParseTests: XCTestCase {
    func error(_ a: [String]) -> String {
        do { return "no error: \(try AdmCommand.parse(a))" } catch { return error.description }
    }

    func testEverySpellingOfTheConnectionListing() throws {
        let plain = AdmCommand.listConnections(.init())
        for args in [["-L", "-c"], ["-Lc"], ["-Lnc"], ["-lnc"], ["-lcn"], ["-l", "-c"], ["--list", "--connection"],
                     ["-L", "-n", "-c"], ["--list", "--numeric", "--connection"],
                     ["-Lnc", "--exact"], ["-Lnc", "--sort"], ["-Lnc", "--nosort"]] {
            XCTAssertEqual(try AdmCommand.parse(args), plain, "\(args)")
        }
        var pe = AdmCommand.ConnectionListOptions()
        pe.persistenceEngineColumns = true
        XCTAssertEqual(try AdmCommand.parse(["-Lnc", "--persistent-conn"]), .listConnections(pe))
        XCTAssertEqual(try AdmCommand.parse(["-L", "--persistent-conn", "-c"]), .listConnections(pe))
    }

    func testTheServiceListingIsUnchanged() throws {
        XCTAssertEqual(try AdmCommand.parse(["-Ln"]), .list(.init()))
        var exact = AdmCommand.ListOptions()
        exact.exact = true
        XCTAssertEqual(try AdmCommand.parse(["-L", "--exact", "-n"]), .list(exact))
        var one = AdmCommand.ListOptions()
        one.service = ServiceKey(proto: IPProtocol.tcp, vip: IPAddressBits(text: "198.18.0.100")!, port: 80)
        XCTAssertEqual(try AdmCommand.parse(["-Ln", "-t", "198.18.0.100:80"]), .list(one))
    }

    /// What ipvsadm refuses (its commands_v_options LIST row marks -c and the service '1',
    /// exclusive, and every other command's -c 'x'; process_options refuses -c with --stats,
    /// --rate or --thresholds), refused in ipvsadm's words and with its status (2).
    func testRefusals() {
        XCTAssertEqual(error(["-Lnc", "-t", "198.18.0.100:80"]),
                       "The option 'service-address' conflicts with the 'connection' option in the 'list' command")
        XCTAssertEqual(error(["-Lc", "-u", "198.18.0.100:53"]),
                       "The option 'service-address' conflicts with the 'connection' option in the 'list' command")
        XCTAssertEqual(error(["-Lnc", "--stats"]), "options conflicts in the list command")
        XCTAssertEqual(error(["-Lc", "--rate"]), "options conflicts in the list command")
        XCTAssertEqual(error(["-Lc", "--timeout"]), "The option 'timeout' conflicts with the 'connection' option in the 'list' command")
        XCTAssertEqual(error(["-Lc", "--json"]), "-L -c has no --json form (--json lists the services)")
        XCTAssertEqual(error(["-Lc", "-r", "198.18.0.11"]), "Illegal 'real-server' option with the 'list' command")
        XCTAssertEqual(error(["-Lc", "-w", "1"]), "Illegal 'weight' option with the 'list' command")
        XCTAssertEqual(error(["-A", "-t", "198.18.0.100:80", "-c"]), "Illegal 'connection' option with the 'add-service' command")
        XCTAssertEqual(error(["-Zc"]), "Illegal 'connection' option with the 'zero' command")
        XCTAssertEqual(error(["-S", "--connection"]), "Illegal 'connection' option with the 'save' command")
        XCTAssertEqual(error(["--set", "900", "0", "300", "-c"]), "Illegal 'connection' option with the 'set' command")
        XCTAssertEqual(error(["-C", "--nosort"]), "Illegal 'nosort' option with the 'flush' command")
        XCTAssertEqual(error(["-L", "--persistent-conn"]), "--persistent-conn is not supported without -c")
        XCTAssertEqual(error(["-c"]), AdmCommand.tryHelp)
        XCTAssertEqual(error(["-c", "-L"]), AdmCommand.tryHelp, "ipvsadm takes the command first")
        XCTAssertEqual(error(["-n", "-Lc"]), AdmCommand.tryHelp)
        XCTAssertEqual(error(["-Lc", "--thresholds"]), "options conflicts in the list command")
        XCTAssertEqual(status(["-Lc", "--thresholds"]), 2)
        XCTAssertEqual(status(["-c"]), 255)
    }

    func status(_ a: [String]) -> Int32 {
        do { _ = try AdmCommand.parse(a); return 0 } catch { return error.exitStatus }
    }
}

/// Golden text. Each expected line is what ipvsadm 1.31 prints for the kernel's line about the
/// same entry: the kernel writes `"%-3s %08X %04X %08X %04X %s %04X %-11s %7u%s\n"` with the
/// state from ip_vs_state_name and the expiry as `jiffies_delta_to_msecs(…) / 1000`
/// (ip_vs_conn.c, ip_vs_conn_seq_show); ipvsadm.c's print_conn (ipvsadm 1.31, lines 1630–1705)
/// reads it back and prints `"%-3s %-6s %-11s %-18s %-18s %s\n"` with expire_str
/// `"%02d:%02d"` of expires / 60 and expires % 60, and list_conn (lines 1708–1743) prints the
/// two header lines. The expected text below was checked against a C harness that runs those
/// printf/sscanf formats on the kernel's lines.
final class AdmConnectionsRenderTests: XCTestCase {
    static let header = "IPVS connection entries\n"
        + "pro expire state       source             virtual            destination\n"

    func address(_ text: String) -> IPAddressBits { IPAddressBits(text: text)! }

    func record(_ state: FlowState, proto: UInt8 = IPProtocol.tcp, client: String = "198.51.100.7",
                _ clientPort: UInt16 = 51234, virtual: String = "198.18.0.100", _ virtualPort: UInt16 = 80,
                real: String = "198.18.0.11", _ realPort: UInt16 = 80, flags: UInt8 = 0, ms: UInt32) -> FlowRecord {
        FlowRecord(client: address(client), virtual: address(virtual), real: address(real), clientPort: clientPort,
                   virtualPort: virtualPort, realPort: realPort, proto: proto, state: state, flags: flags,
                   origin: FlowRecord.walkList, expiresIn: ms)
    }

    func testEmptyTableIsTheHeaderAlone() {
        XCTAssertEqual(AdmConnections.render([]), Self.header)
    }

    func testTCPEstablished() {
        // Kernel: "TCP C6336407 C822 C6120064 0050 C612000B 0050 ESTABLISHED     899"
        XCTAssertEqual(AdmConnections.render([record(.established, ms: 899_999)]), Self.header
            + "TCP 14:59  ESTABLISHED 198.51.100.7:51234 198.18.0.100:80    198.18.0.11:80\n")
    }

    /// IPVS names a NAT flow's closing states from the real server's side, a DR flow's from the
    /// client's (SyncStates): the same FlowState reads differently by forwarding method.
    func testTCPClosingStates() {
        let nat = FlowFlags.nat
        let records = [
            record(.synRecv, client: "198.51.100.1", ms: 59_000),
            record(.finWait, client: "198.51.100.2", ms: 119_500),
            record(.finWait, client: "198.51.100.3", flags: nat, ms: 119_500),
            record(.closeWait, client: "198.51.100.4", ms: 60_000),
            record(.closeWait, client: "198.51.100.5", flags: nat, ms: 60_000),
            record(.lastAck, client: "198.51.100.6", ms: 30_000),
            record(.timeWait, client: "198.51.100.7", ms: 119_999),
            record(.close, client: "198.51.100.8", ms: 9_999),
        ]
        XCTAssertEqual(AdmConnections.render(records), Self.header
            + "TCP 00:59  SYN_RECV    198.51.100.1:51234 198.18.0.100:80    198.18.0.11:80\n"
            + "TCP 01:59  FIN_WAIT    198.51.100.2:51234 198.18.0.100:80    198.18.0.11:80\n"
            + "TCP 01:59  CLOSE_WAIT  198.51.100.3:51234 198.18.0.100:80    198.18.0.11:80\n"
            + "TCP 01:00  CLOSE_WAIT  198.51.100.4:51234 198.18.0.100:80    198.18.0.11:80\n"
            + "TCP 01:00  FIN_WAIT    198.51.100.5:51234 198.18.0.100:80    198.18.0.11:80\n"
            + "TCP 00:30  LAST_ACK    198.51.100.6:51234 198.18.0.100:80    198.18.0.11:80\n"
            + "TCP 01:59  TIME_WAIT   198.51.100.7:51234 198.18.0.100:80    198.18.0.11:80\n"
            + "TCP 00:09  CLOSE       198.51.100.8:51234 198.18.0.100:80    198.18.0.11:80\n")
    }

    func testUDP() {
        // Kernel: "UDP C6336409 D431 C6120064 0035 C612000C 14E9 UDP              59"
        let r = record(.udp, proto: IPProtocol.udp, client: "198.51.100.9", 54321, 53, real: "198.18.0.12", 5353,
                       flags: FlowFlags.nat, ms: 59_000)
        XCTAssertEqual(AdmConnections.render([r]), Self.header
            + "UDP 00:59  UDP         198.51.100.9:54321 198.18.0.100:53    198.18.0.12:5353\n")
    }

    /// A persistence template: client network, port 0, the service's port, the real server, the
    /// template's protocol, and the kernel's template state name (NONE until assured).
    func testTemplate() {
        // Kernel: "TCP C6336400 0000 C6120064 01BB C612000C 01BB NONE          10800"
        let t = record(.other, client: "198.51.100.0", 0, 443, real: "198.18.0.12", 443, flags: FlowFlags.template,
                       ms: 10_800_000)
        let u = record(.other, proto: IPProtocol.udp, client: "198.51.100.0", 0, 53, real: "198.18.0.12", 53,
                       flags: FlowFlags.template | FlowFlags.synced, ms: 299_001)
        XCTAssertEqual(AdmConnections.render([t, u]), Self.header
            + "UDP 04:59  NONE        198.51.100.0:0     198.18.0.100:53    198.18.0.12:53\n"
            + "TCP 180:00 NONE        198.51.100.0:0     198.18.0.100:443   198.18.0.12:443\n")
    }

    /// Whole seconds, truncated; minutes never carried into hours; a column too narrow widens.
    func testExpireColumn() {
        let cases: [(UInt32, String)] = [
            (899_999, "14:59"), (59_000, "00:59"), (0, "00:00"), (999, "00:00"), (3_599_999, "59:59"),
            (3_600_000, "60:00"), (5_400_000, "90:00"), (86_400_000, "1440:00"),
            (UInt32.max, "71582:47"),
        ]
        for (ms, text) in cases { XCTAssertEqual(AdmConnections.expire(milliseconds: ms), text, "\(ms) ms") }
        XCTAssertEqual(AdmConnections.render([record(.established, ms: 86_400_000)]), Self.header
            + "TCP 1440:00 ESTABLISHED 198.51.100.7:51234 198.18.0.100:80    198.18.0.11:80\n")
    }

    /// `%-18s` pads, never cuts: a long address and port push the next columns right.
    func testWideAddresses() {
        let r = record(.established, client: "203.113.200.201", 65535, virtual: "203.113.200.100", 8443,
                       real: "192.168.100.200", 65000, flags: FlowFlags.nat, ms: 900_000)
        XCTAssertEqual(AdmConnections.render([r]), Self.header
            + "TCP 15:00  ESTABLISHED 203.113.200.201:65535 203.113.200.100:8443 192.168.100.200:65000\n")
    }

    /// --persistent-conn widens the header only: no entry here has persistence-engine data.
    func testPersistenceEngineColumns() {
        var options = AdmCommand.ConnectionListOptions()
        options.persistenceEngineColumns = true
        XCTAssertEqual(AdmConnections.render([record(.established, ms: 60_000)], options),
                       "IPVS connection entries\n"
                           + "pro expire state       source             virtual            destination        "
                           + "pe name          pe_data\n"
                           + "TCP 01:00  ESTABLISHED 198.51.100.7:51234 198.18.0.100:80    198.18.0.11:80\n")
    }

    /// Sorted by virtual, then client (a template, port 0, before its client's connections);
    /// the same entry from two workers once, with the later expiry; walk markers left out.
    func testOrderDuplicatesAndMarkers() {
        let records = [
            record(.established, client: "198.51.100.20", 40000, virtual: "198.18.0.101", ms: 5_000),
            record(.established, client: "198.51.100.20", 40001, ms: 5_000),
            FlowRecord.done(walk: 7),
            record(.other, client: "198.51.100.0", 0, flags: FlowFlags.template, ms: 200_000),
            record(.established, client: "198.51.100.10", 40000, ms: 5_000),
            record(.other, client: "198.51.100.0", 0, flags: FlowFlags.template, ms: 250_000),
        ]
        XCTAssertEqual(AdmConnections.render(records), Self.header
            + "TCP 04:10  NONE        198.51.100.0:0     198.18.0.100:80    198.18.0.11:80\n"
            + "TCP 00:05  ESTABLISHED 198.51.100.10:40000 198.18.0.100:80    198.18.0.11:80\n"
            + "TCP 00:05  ESTABLISHED 198.51.100.20:40001 198.18.0.100:80    198.18.0.11:80\n"
            + "TCP 00:05  ESTABLISHED 198.51.100.20:40000 198.18.0.101:80    198.18.0.11:80\n")
    }
}
