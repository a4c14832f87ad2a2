// Balancers behind one ECMP router must agree on every flow's real server: the same config in
// another order, or the same real servers added by adm in another order, builds the same
// Maglev table, and `adm --fingerprint` prints the same text; another weight does not.
import Glibc
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

final class MaglevConsistencyTests: XCTestCase {
    let servers = [11, 12, 13, 14]
    var paths: [String] = []

    override func tearDown() { paths.forEach { unlink($0) } }

    func service(vip: String, reals: [Int], weight: (Int) -> Int = { _ in 1 }) -> String {
        "virtual_server \(vip) 80 {\n    lb_algo mh\n    lb_kind DR\n"
            + reals.map { "    real_server 198.18.0.\($0) 80 {\n        weight \(weight($0))\n    }\n" }.joined() + "}\n"
    }

    func plane(_ text: String) throws -> ControlPlane {
        let path = "/tmp/switchyard-maglev-\(getpid())-\(paths.count).conf"
        paths.append(path)
        let fake = FakeParts()
        for host in servers { fake.kernel[IPAddressBits(text: "198.18.0.\(host)")!] = MACAddress(bits: UInt64(host)) }
        return try startedPlane(text, path: path, fake: fake)
    }

    /// Each slot of the service on `vip`, as the address of the real server it names.
    func slots(_ plane: ControlPlane, vip: String) -> [String] {
        let snapshot = plane.state.withLock { $0.snapshot }!
        let index = snapshot.services.firstIndex { $0.vip == IPAddressBits(text: vip)! }!
        let entry = snapshot.view.services[index]
        return (0..<Int(entry.tableSize)).map { slot in
            let id = snapshot.view.tables[Int(entry.tableStart) + slot]
            return id < 0 ? "-" : "\(snapshot.view.reals[Int(id)].address)"
        }
    }

    func fingerprint(_ plane: ControlPlane) -> String { plane.control(["--fingerprint"], "").text }

    func testTheSameRealServersInAnotherOrderBuildTheSameTable() throws {
        // b lists its services and real servers the other way round, so every id differs.
        let a = try plane(service(vip: "198.18.0.100", reals: servers) + service(vip: "198.18.0.101", reals: servers))
        let b = try plane(service(vip: "198.18.0.101", reals: servers.reversed())
            + service(vip: "198.18.0.100", reals: servers.reversed()))
        XCTAssertEqual(slots(a, vip: "198.18.0.100"), slots(b, vip: "198.18.0.100"))
        XCTAssertEqual(Set(slots(a, vip: "198.18.0.100")).count, 4)
        XCTAssertEqual(fingerprint(a), fingerprint(b))

        // c starts with none and gets them from adm, in yet another order.
        let c = try plane(service(vip: "198.18.0.101", reals: servers) + service(vip: "198.18.0.100", reals: []))
        for host in [13, 11, 14, 12] {
            XCTAssertTrue(c.control(["-a", "-t", "198.18.0.100:80", "-r", "198.18.0.\(host):80", "-g", "-w", "1"], "").ok)
        }
        XCTAssertEqual(slots(a, vip: "198.18.0.100"), slots(c, vip: "198.18.0.100"))
        XCTAssertEqual(fingerprint(a), fingerprint(c))

        let text = fingerprint(a)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "Prot LocalAddress:Port Scheduler Fingerprint      Slots")
        XCTAssertTrue(lines[2].hasPrefix("TCP  198.18.0.100:80 mh "), lines[2])
        XCTAssertTrue(lines[2].hasSuffix(" 1009") || lines[2].hasSuffix(" 65537"), lines[2])
        XCTAssertTrue(lines[3].hasPrefix("  -> 198.18.0.11:80"), lines[3])
        let shares = lines[3...6].map { Int($0.split(separator: " ").last!)! }
        XCTAssertEqual(shares.reduce(0, +), 65537)
        XCTAssertLessThan(shares.max()! - shares.min()!, 65537 / 100, "equal weights, near-equal shares: \(shares)")
    }

    /// IPv6 real servers are named by a hash of their address: the order holds there too.
    func testIPv6RealServersInAnotherOrderBuildTheSameTable() throws {
        let six = [11, 12, 13]
        func config(_ order: [Int]) -> String {
            "virtual_server 2001:db8::100 80 {\n    lb_algo mh\n    lb_kind DR\n"
                + order.map { "    real_server 2001:db8::\($0) 80 {\n    }\n" }.joined() + "}\n"
        }
        func plane6(_ order: [Int]) throws -> ControlPlane {
            let path = "/tmp/switchyard-maglev-\(getpid())-\(paths.count).conf"
            paths.append(path)
            let fake = FakeParts()
            for host in six { fake.kernel[IPAddressBits(text: "2001:db8::\(host)")!] = MACAddress(bits: UInt64(host)) }
            return try startedPlane(config(order), path: path, fake: fake)
        }
        let a = try plane6(six)
        let b = try plane6(six.reversed())
        XCTAssertEqual(slots(a, vip: "2001:db8::100"), slots(b, vip: "2001:db8::100"))
        XCTAssertEqual(Set(slots(a, vip: "2001:db8::100")).count, 3)
        XCTAssertEqual(fingerprint(a), fingerprint(b))
    }

    func testAnotherWeightOrKeyGivesAnotherFingerprint() throws {
        let a = try plane(service(vip: "198.18.0.100", reals: servers))
        let b = try plane(service(vip: "198.18.0.100", reals: servers, weight: { $0 == 12 ? 2 : 1 }))
        let c = try plane("global_defs {\n    switchyard_hash_key 0x0123456789abcdef0123456789abcdef\n}\n"
            + service(vip: "198.18.0.100", reals: servers))
        let d = try plane(service(vip: "198.18.0.100", reals: servers).replacingOccurrences(of: "lb_algo mh", with: "lb_algo sh"))
        let fingerprints = [a, b, c, d].map { $0.control(["--fingerprint"], "").text.split(separator: "\n")[2].split(separator: " ")[3] }
        XCTAssertEqual(Set(fingerprints).count, 4, "another weight, key or scheduler: \(fingerprints)")
    }

    func testAServiceWithoutATableSaysSo() throws {
        let a = try plane("virtual_server 198.18.0.100 80 {\n    lb_algo rr\n    real_server 198.18.0.11 80 {\n    }\n}\n")
        XCTAssertEqual(a.control(["--fingerprint"], "").text.split(separator: "\n").last,
                       "TCP  198.18.0.100:80 rr (no table: only mh and sh keep one)")
    }
}
