// global_defs' HTTP keywords: the listener, its users (bcrypt hashes in double quotes, which
// keepalived's $ definitions leave alone) and metrics auth; each mistake with its line and column.
import XCTest
@testable import SwitchyardControl

final class ConfigHTTPTests: XCTestCase {
    let hash = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
    let service = "\nvirtual_server 198.18.0.100 80 {\n    lb_kind DR\n    real_server 198.18.0.2 80 {\n    }\n}\n"

    func parse(_ globals: String) throws(ConfigDiagnostic) -> Config {
        try Config.parse("global_defs {\n" + globals + "\n}" + service, path: "test.conf")
    }

    func error(_ globals: String) -> String {
        configError("global_defs {\n" + globals + "\n}" + service, path: "test.conf")
    }

    func testListenerUsersAndMetricsAuth() throws {
        let c = try parse("""
            switchyard_http 198.18.0.1 8080
            switchyard_http_user alice "\(hash)" operator
            switchyard_http_user vic "\(hash)" viewer
            switchyard_http_metrics_auth
        """)
        XCTAssertEqual(c.http.address, "198.18.0.1")
        XCTAssertEqual(c.http.port, 8080)
        XCTAssertEqual(c.http.users.map(\.name), ["alice", "vic"])
        XCTAssertEqual(c.http.users.map(\.role), [.operator, .viewer])
        XCTAssertEqual(c.http.users[0].hash, hash)
        XCTAssertTrue(c.http.metricsAuth)
        XCTAssertTrue(c.warnings.isEmpty, "\(c.warnings)")
        XCTAssertEqual(try parse("switchyard_http :: 9100").http.address, "::")
        XCTAssertFalse(try parse("").http.isOn, "off unless configured")
    }

    func testAHashInQuotesIsLeftAloneByDefinitions() throws {
        // $N9qo… would be a use of a definition were one of that name defined; none is, and
        // inside quotes keepalived's undefined uses are not warned about either.
        let c = try Config.parse("$PORT=8080\nglobal_defs {\n    switchyard_http 0.0.0.0 $PORT\n"
            + "    switchyard_http_user alice \"\(hash)\" operator\n}" + service, path: "test.conf")
        XCTAssertEqual(c.http.port, 8080)
        XCTAssertEqual(c.http.users.first?.hash, hash)
        XCTAssertTrue(c.warnings.isEmpty, "\(c.warnings)")
    }

    func testMistakesAreReportedWithTheirPlace() {
        XCTAssertEqual(error("    switchyard_http 198.18.0.1"),
                       "test.conf:2:5: switchyard_http takes an address and a port: switchyard_http 198.18.0.1 8080")
        XCTAssertEqual(error("    switchyard_http lb1 8080"),
                       "test.conf:2:21: switchyard_http: \"lb1\" is not an IPv4 or IPv6 address (0.0.0.0 or :: for all)")
        XCTAssertEqual(error("    switchyard_http 198.18.0.1 0"),
                       "test.conf:2:32: switchyard_http: the port must be from 1 to 65535, not \"0\"")
        XCTAssertEqual(error("    switchyard_http_user alice secret operator"),
                       "test.conf:2:32: switchyard_http_user: the password must be a bcrypt hash such as \"$2b$10$…\" "
                       + "(60 characters; `switchyard passwd` prints one), in double quotes")
        XCTAssertEqual(error("    switchyard_http_user alice \"\(hash)\" admin"),
                       "test.conf:2:95: switchyard_http_user: the role is viewer or operator, not \"admin\"")
        XCTAssertEqual(error("    switchyard_http_user a:b \"\(hash)\" viewer"),
                       "test.conf:2:26: switchyard_http_user: a user name is 1 to 64 printable characters without \":\"")
        XCTAssertEqual(error("    switchyard_http_user alice \"\(hash)\" viewer\n    switchyard_http_user alice \"\(hash)\" operator"),
                       "test.conf:3:26: switchyard_http_user: alice is already defined")
        XCTAssertEqual(error("    switchyard_http_user alice \"\(hash)\""),
                       "test.conf:2:5: switchyard_http_user takes a name, a bcrypt hash in double quotes and a role: "
                       + "switchyard_http_user alice \"$2b$10$…\" operator (switchyard passwd prints the hash)")
        XCTAssertEqual(error("    switchyard_http_metrics_auth yes"), "test.conf:2:5: switchyard_http_metrics_auth takes no value")
    }

    func testUsersWithoutAListenerAreWarnedAbout() throws {
        let c = try parse("    switchyard_http_user alice \"\(hash)\" operator")
        XCTAssertEqual(c.warnings.map(\.description),
                       ["test.conf:2:5: warning: switchyard_http_user without switchyard_http: no HTTP listener runs"])
    }

    func testBcryptShapes() {
        XCTAssertTrue(HTTPSettings.isBcryptHash(hash))
        XCTAssertTrue(HTTPSettings.isBcryptHash(hash.replacing("$2b$", with: "$2y$")))
        XCTAssertFalse(HTTPSettings.isBcryptHash(hash.replacing("$2b$", with: "$2c$")))
        XCTAssertFalse(HTTPSettings.isBcryptHash(String(hash.dropLast())))
        XCTAssertFalse(HTTPSettings.isBcryptHash(hash.replacing("$10$", with: "$99$")))
        XCTAssertFalse(HTTPSettings.isBcryptHash(String(hash.dropLast()) + "!"))
    }
}
