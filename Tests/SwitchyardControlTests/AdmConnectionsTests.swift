// `switchyard adm -L -c`: how its arguments are read and refused.
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
                     ["-L", "-n", "-c"], ["-c", "-L"], ["-n", "-Lc"], ["--list", "--numeric", "--connection"],
                     ["-Lnc", "--exact"], ["-Lnc", "--sort"], ["-Lnc", "--nosort"]] {
            XCTAssertEqual(try AdmCommand.parse(args), plain, "\(args)")
        }
        var pe = AdmCommand.ConnectionListOptions()
        pe.persistenceEngineColumns = true
        XCTAssertEqual(try AdmCommand.parse(["-Lnc", "--persistent-conn"]), .listConnections(pe))
        XCTAssertEqual(try AdmCommand.parse(["--persistent-conn", "-L", "-c"]), .listConnections(pe))
    }

    func testTheServiceListingIsUnchanged() throws {
        XCTAssertEqual(try AdmCommand.parse(["-Ln"]), .list(.init()))
        XCTAssertEqual(try AdmCommand.parse(["-L", "--exact", "-n"]), .list(.init()))
        var one = AdmCommand.ListOptions()
        one.service = ServiceKey(proto: IPProtocol.tcp, vip: IPv4Address("198.18.0.100")!, port: 80)
        XCTAssertEqual(try AdmCommand.parse(["-Ln", "-t", "198.18.0.100:80"]), .list(one))
    }

    /// What ipvsadm refuses (its commands_v_options LIST row marks -c and the service '1',
    /// exclusive, and every other command's -c 'x'; process_options refuses -c with --stats or
    /// --rate), refused here in the parser's own words.
    func testRefusals() {
        XCTAssertEqual(error(["-Lnc", "-t", "198.18.0.100:80"]),
                       "-L -c lists every connection and takes no -t or -u, as in ipvsadm "
                           + "(filter its output instead, e.g. with grep)")
        XCTAssertEqual(error(["-Lc", "-u", "198.18.0.100:53"]),
                       "-L -c lists every connection and takes no -t or -u, as in ipvsadm "
                           + "(filter its output instead, e.g. with grep)")
        XCTAssertEqual(error(["-Lnc", "--stats"]), "-L -c conflicts with --stats: list either the connections or the services")
        XCTAssertEqual(error(["-Lc", "--rate"]), "-L -c conflicts with --rate: list either the connections or the services")
        XCTAssertEqual(error(["-Lc", "--timeout"]), "-L -c conflicts with --timeout: list either the connections or the services")
        XCTAssertEqual(error(["-Lc", "--json"]), "-L -c has no --json form (--json lists the services)")
        XCTAssertEqual(error(["-Lc", "-r", "198.18.0.11"]), "-L -c takes no -r, -s, -p, -M, -g, -m or -w")
        XCTAssertEqual(error(["-Lc", "-w", "1"]), "-L -c takes no -r, -s, -p, -M, -g, -m or -w")
        XCTAssertEqual(error(["-A", "-t", "198.18.0.100:80", "-c"]), "-A takes no -c (that is for -L: list the connections)")
        XCTAssertEqual(error(["-Zc"]), "-Z takes no -c (that is for -L: list the connections)")
        XCTAssertEqual(error(["-S", "--connection"]), "-S takes no -c (that is for -L: list the connections)")
        XCTAssertEqual(error(["--set", "900", "0", "300", "-c"]), "--set takes no -c (that is for -L: list the connections)")
        XCTAssertEqual(error(["-C", "--nosort"]), "-C takes no --nosort (that is for -L -c)")
        XCTAssertEqual(error(["-L", "--persistent-conn"]), "--persistent-conn goes with -L -c here (list the connections)")
        XCTAssertEqual(error(["-Ln", "--sort"]), "--sort goes with -L -c here (list the connections)")
        XCTAssertEqual(error(["-c"]), "no command given: -A -E -D -a -e -d -L -Z -C -S -R --set or --reload")
        XCTAssertEqual(error(["-Lc", "--thresholds"]), "unknown option \"--thresholds\" (see switchyard adm --help)")
    }

    /// Until the engine answers it, a daemon that reaches the table with it says so.
    func testATableEditRefusesIt() {
        var table = ServiceTable()
        XCTAssertThrowsError(try table.execute(.listConnections(.init()))) {
            XCTAssertEqual("\($0)", "this switchyard cannot list connections (-L -c) yet")
        }
    }
}
