// `switchyard adm`'s arguments read as ipvsadm 1.31's popt table reads them, and refused with
// ipvsadm's words and exit statuses (ipvsadm.c parse_options, generic_opt_check, fail, and
// libipvs.c ipvs_strerror).
@testable import SwitchyardControl
import SwitchyardCore
import XCTest

final class AdmOptionsTests: XCTestCase {
    let key = ServiceKey(proto: IPProtocol.tcp, vip: IPAddressBits(text: "1.2.3.4")!, port: 80)

    func refusal(_ a: [String]) -> String {
        do { return "no error: \(try AdmCommand.parse(a))" } catch { return "\(error.exitStatus) \(error)" }
    }

    func testPoptSpellings() throws {
        let rr = AdmCommand.addService(key, scheduler: .roundRobin, persistence: nil, mask: nil)
        for args in [["-A", "-t", "1.2.3.4:80", "-s", "rr"], ["-A", "-t1.2.3.4:80", "-srr"], ["-At1.2.3.4:80", "-srr"],
                     ["--add-service", "--tcp-service=1.2.3.4:80", "--scheduler=rr"],
                     ["--add-service", "--tcp-service", "1.2.3.4:80", "--scheduler", "rr"],
                     ["-A", "-s", "rr", "-t", "1.2.3.4:80"]] {
            XCTAssertEqual(try AdmCommand.parse(args), rr, "\(args)")
        }
        let five = AdmCommand.addReal(key, IPAddressBits(text: "10.0.0.1")!, nil, method: .dr, weight: 5)
        for args in [["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-g", "-w", "5"], ["-a", "-t1.2.3.4:80", "-r10.0.0.1", "-gw5"],
                     ["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-g", "--weight=5"], ["-at", "1.2.3.4:80", "-gr", "10.0.0.1", "-w5"]] {
            XCTAssertEqual(try AdmCommand.parse(args), five, "\(args)")
        }
        // -p takes a value only when the next word is no option (POPT_ARGFLAG_OPTIONAL).
        XCTAssertEqual(try AdmCommand.parse(["-A", "-t", "1.2.3.4:80", "-p", "60"]),
                       .addService(key, scheduler: nil, persistence: 60, mask: nil))
        XCTAssertEqual(try AdmCommand.parse(["-A", "-t", "1.2.3.4:80", "-p", "-s", "rr"]),
                       .addService(key, scheduler: .roundRobin, persistence: 300, mask: nil))
        XCTAssertEqual(try AdmCommand.parse(["-A", "-t", "1.2.3.4:80", "-p120"]),
                       .addService(key, scheduler: nil, persistence: 120, mask: nil))
        XCTAssertEqual(try AdmCommand.parse(["--set", "900", "0", "300"]), .setTimeouts(tcp: 900, tcpfin: 0, udp: 300))
        XCTAssertEqual(try AdmCommand.parse([]), .list(.init()), "a bare adm lists, as ipvsadm")
        XCTAssertEqual(try AdmCommand.parse(["-h"]), .help)
        XCTAssertEqual(try AdmCommand.parse(["--help"]), .help)
        XCTAssertEqual(try AdmCommand.parse(["-v"]), .version)
        XCTAssertEqual(try AdmCommand.parse(["--engine"]), .engine)
    }

    /// What ipvsadm's edits send: -E every service field (left out: wlc, not persistent), -e the
    /// weight (left out: 1), and a DR real server's port is the service's.
    func testEditsSendWhatIpvsadmSends() throws {
        XCTAssertEqual(try AdmCommand.parse(["-E", "-t", "1.2.3.4:80"]),
                       .editService(key, scheduler: .weightedLeastConnection, persistence: 0, mask: 0xFFFF_FFFF))
        XCTAssertEqual(try AdmCommand.parse(["-e", "-t", "1.2.3.4:80", "-r", "10.0.0.1"]),
                       .editReal(key, IPAddressBits(text: "10.0.0.1")!, nil, method: nil, weight: 1))
        XCTAssertEqual(try AdmCommand.parse(["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1:8080", "-g"]),
                       .addReal(key, IPAddressBits(text: "10.0.0.1")!, nil, method: .dr, weight: nil), "DR: the service's port")
        XCTAssertEqual(try AdmCommand.parse(["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1:8080", "-m"]),
                       .addReal(key, IPAddressBits(text: "10.0.0.1")!, 8080, method: .nat, weight: nil))
        XCTAssertEqual(try AdmCommand.parse(["-d", "-t", "1.2.3.4:80", "-r", "10.0.0.1:8080"]),
                       .deleteReal(key, IPAddressBits(text: "10.0.0.1")!, 8080))
    }

    func testRefusalsInIpvsadmsWordsAndStatuses() {
        let cases: [([String], String)] = [
            (["-C", "-t", "1.2.3.4:80"], "2 Illegal 'service-address' option with the 'flush' command"),
            (["-A", "-t", "1.2.3.4:80", "-w", "1"], "2 Illegal 'weight' option with the 'add-service' command"),
            (["-A", "-t", "1.2.3.4:80", "-n"], "2 Illegal 'numeric' option with the 'add-service' command"),
            (["-D", "-t", "1.2.3.4:80", "-s", "rr"], "2 Illegal 'scheduler' option with the 'delete-service' command"),
            (["-d", "-t", "1.2.3.4:80"], "2 You need to supply the 'real-server' option for the 'delete-server' command"),
            (["-L", "--timeout", "-t", "1.2.3.4:80"],
             "2 The option 'timeout' conflicts with the 'service-address' option in the 'list' command"),
            (["-L", "--timeout", "--stats"], "2 options conflicts in the list command"),
            (["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-w", "1", "-w", "2"], "2 multiple 'weight' options specified"),
            (["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-g", "-m"], "2 multiple 'forwarding-method' options specified"),
            (["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-w", "x"], "2 illegal weight specified"),
            (["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-w", "65536"], "2 illegal weight specified"),
            (["-A", "-t", "1.2.3.4:99999"], "2 illegal virtual server address[:port] specified"),
            (["-A", "-t", "nowhere:80"], "2 illegal virtual server address[:port] specified"),
            (["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.256"], "2 illegal real server address[:port] specified"),
            (["-A", "-t", "1.2.3.4:80", "-p", "0"], "2 invalid timeout value `0' specified"),
            (["-A", "-t", "1.2.3.4:80", "-M", "255.0.255.0"], "2 illegal virtual server persistent mask specified"),
            (["-A", "-t", "1.2.3.4"], "2 Zero port specified for non-persistent service"),
            (["--set", "1", "2"], "2 --set option requires 3 timeout values"),
            (["--set", "1", "2", "x"], "2 invalid timeout value `x' specified"),
            (["-L", "extra"], "2 unexpected argument extra"),
            (["-L", "-A"], "2 invalid option `-A'"),
            (["-L", "-h"], "2 invalid option `-h'"),
            (["-L", "--bogus"], "255 --bogus: unknown option"),
            (["-L", "-q"], "255 -q: unknown option"),
            (["-A", "-t"], "255 -t: missing argument"),
            (["-n", "-L"], "255 " + AdmCommand.tryHelp),
            (["1.2.3.4"], "255 " + AdmCommand.tryHelp),
            (["-A", "-t", "1.2.3.4:80", "-s", "dh"], "255 Scheduler or persistence engine not found"),
        ]
        for (args, expected) in cases { XCTAssertEqual(refusal(args), expected, "\(args)") }
    }

    /// The kernel's refusals, as ipvs_strerror words them, with ipvsadm's status 255.
    func testKernelRefusals() throws {
        var t = ServiceTable()
        func run(_ line: String) -> String {
            do {
                _ = try t.execute(AdmCommand.parse(line.split(separator: " ").map(String.init)))
                return "ok"
            } catch {
                return "\(error.exitStatus) \(error)"
            }
        }
        XCTAssertEqual(run("-A -t 1.2.3.4:80"), "ok")
        XCTAssertEqual(run("-A -t 1.2.3.4:80"), "255 Service already exists")
        XCTAssertEqual(run("-E -t 1.2.3.4:81"), "255 No such service")
        XCTAssertEqual(run("-D -t 1.2.3.4:81"), "255 No such service")
        XCTAssertEqual(run("-a -t 1.2.3.4:81 -r 10.0.0.1"), "255 Service not defined")
        XCTAssertEqual(run("-a -t 1.2.3.4:80 -r 10.0.0.1"), "ok")
        XCTAssertEqual(run("-a -t 1.2.3.4:80 -r 10.0.0.1:8080 -g"), "255 Destination already exists")
        XCTAssertEqual(run("-e -t 1.2.3.4:80 -r 10.0.0.2 -w 0"), "255 No such destination")
        XCTAssertEqual(run("-d -t 1.2.3.4:80 -r 10.0.0.2"), "255 No such destination")
        XCTAssertEqual(run("-d -t 1.2.3.4:81 -r 10.0.0.1"), "255 Service not defined")
    }

    /// Names as ipvsadm -S writes them without -n: host names and /etc/services names (for the
    /// service's protocol).
    func testHostAndServiceNames() throws {
        guard AdmCommand.servicePort("http", protocolNumber: IPProtocol.tcp) == 80,
              AdmCommand.hostAddress("localhost") == IPv4Address("127.0.0.1") else {
            throw XCTSkip("this machine has no http in /etc/services or no localhost")
        }
        let local = ServiceKey(proto: IPProtocol.tcp, vip: IPAddressBits(text: "127.0.0.1")!, port: 80)
        XCTAssertEqual(try AdmCommand.parse(["-A", "-t", "localhost:http", "-s", "rr"]),
                       .addService(local, scheduler: .roundRobin, persistence: nil, mask: nil))
        XCTAssertEqual(try AdmCommand.parse(["-a", "-u", "1.2.3.4:domain", "-r", "localhost:domain", "-m"]),
                       .addReal(ServiceKey(proto: IPProtocol.udp, vip: IPAddressBits(text: "1.2.3.4")!, port: 53),
                                IPAddressBits(text: "127.0.0.1")!, 53, method: .nat, weight: nil))
        XCTAssertEqual(refusal(["-A", "-t", "1.2.3.4:no-such-service-name"]), "2 illegal virtual server address[:port] specified")
        XCTAssertEqual(refusal(["-A", "-t", "80"]), "2 illegal virtual server address[:port] specified", "a number is no address")
    }

    /// -R's input as config_stream_read reads it: words at blanks, "ipvsadm" dropped, empty
    /// lines skipped, `#` an ordinary word.
    func testRestoreLines() {
        XCTAssertEqual(AdmRestore.commandLines("ipvsadm -A -t 1.2.3.4:80\r\n\n \t\n-a\t-t 1.2.3.4:80  -r 10.0.0.1 # web\n"),
                       [["-A", "-t", "1.2.3.4:80"], ["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "#", "web"]])
        XCTAssertEqual(AdmRestore.commandLines(""), [])
        XCTAssertThrowsError(try AdmRestore.command(["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "#", "web"])) {
            XCTAssertEqual("\($0)", "unexpected argument #")
        }
        XCTAssertThrowsError(try AdmRestore.command(["#", "saved"])) { XCTAssertEqual("\($0)", AdmCommand.tryHelp) }
        XCTAssertThrowsError(try AdmRestore.command(["-R"])) { XCTAssertEqual("\($0)", AdmCommand.tryHelp) }
    }
}
