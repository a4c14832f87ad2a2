// The status site with a fake balancer behind it: who gets in (401, wrong password, a viewer's
// POST), what a POST must carry (Origin, session cookie, CSRF token), what an action becomes
// (the adm command), /metrics' optional auth, methods and paths.
import Foundation
import XCTest
import HummingbirdBcrypt
@testable import SwitchyardControl
@testable import SwitchyardWeb

/// Answers like a balancer with one service of two real servers and records the adm commands.
final class FakeBackend: StatusBackend, @unchecked Sendable {
    let lock = NSLock()
    var settings = HTTPSettings()
    var commands: [[String]] = []
    var weights = ["198.18.0.2:80": 3, "198.18.0.3:80": 1]
    var refuse = false

    var httpSettings: HTTPSettings { lock.withLock { settings } }
    func now() -> Double { 1_764_700_000 }
    func metricsText() -> String { "# TYPE switchyard_flow_table_entries gauge\nswitchyard_flow_table_entries 3\n" }

    func control(_ arguments: [String], _ input: String) -> (ok: Bool, text: String, status: Int32) {
        lock.withLock {
            commands.append(arguments)
            if refuse { return (false, "Memory allocation problem\n", 255) }
            if let r = arguments.firstIndex(of: "-r"), let w = arguments.firstIndex(of: "-w") {
                weights[arguments[r + 1]] = Int(arguments[w + 1])
            }
            return (true, "", 0)
        }
    }

    func status() -> StatusModel {
        let weights = lock.withLock { self.weights }
        var model = StatusModel()
        model.version = "switchyard test"
        let reals = ["198.18.0.2:80", "198.18.0.3:80"].map { id -> StatusModel.RealServer in
            let w = weights[id] ?? 0
            return StatusModel.RealServer(
                id: id, address: String(id.prefix { $0 != ":" }), port: 80, state: w == 0 ? "drain" : "up",
                weightConfigured: id == "198.18.0.2:80" ? 3 : 1, weight: w, weightEffective: w, active: 1, inactive: 2,
                connectionsTotal: 10, incomingBytesTotal: 1000, outgoingBytesTotal: 0, rates: StatusModel.Rates(),
                lastCheck: id == "198.18.0.2:80" ? StatusModel.Check(result: "success", reason: "HTTP_GET succeeded", durationMs: 1.5, at: 1)
                    : nil,
                lastChange: nil, drainPreview: "VS TCP 198.18.0.100:80 keeps 1 of 2 servers up")
        }
        model.services = [StatusModel.Service(
            id: "TCP 198.18.0.100:80", protocol: "TCP", address: "198.18.0.100", port: 80, scheduler: "mh", forwarding: "dr",
            state: "up", serversUp: 2, serversTotal: 2, connectionsTotal: 20, active: 2, inactive: 4, rates: StatusModel.Rates(),
            realServers: reals)]
        return model
    }
}

final class StatusSiteTests: XCTestCase {
    // Cost 4: the lowest bcrypt takes, so the tests stay quick.
    static let aliceHash = Bcrypt.hash("alice-secret", cost: 4)
    static let vicHash = Bcrypt.hash("vic-secret", cost: 4)
    var backend = FakeBackend()
    var site: StatusSite!

    override func setUp() {
        backend = FakeBackend()
        backend.settings.address = "198.18.0.1"
        backend.settings.port = 8080
        backend.settings.users = [HTTPUser(name: "alice", hash: Self.aliceHash, role: .operator),
                                  HTTPUser(name: "vic", hash: Self.vicHash, role: .viewer)]
        site = StatusSite(backend: backend)
    }

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + base64(Array("\(user):\(password)".utf8))
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var v = UInt32(bytes[i]) << 16
            if n > 1 { v |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { v |= UInt32(bytes[i + 2]) }
            for k in 0..<4 { out.append(k <= n ? alphabet[Int(v >> UInt32(18 - 6 * k) & 63)] : "=") }
            i += 3
        }
        return out
    }

    func get(_ path: String, _ auth: String? = nil, cookie: String? = nil) -> SiteResponse {
        var headers: [(name: String, value: String)] = [("Host", "198.18.0.1:8080")]
        if let auth { headers.append(("Authorization", auth)) }
        if let cookie { headers.append(("Cookie", cookie)) }
        return site.handle(SiteRequest(method: "GET", path: path, headers: headers))
    }

    /// Opens the page as `user` and returns its session cookie and CSRF token.
    func session(_ user: String, _ password: String) throws -> (cookie: String, csrf: String) {
        let page = get("/", Self.basic(user, password))
        XCTAssertEqual(page.status, 200)
        let setCookie = try XCTUnwrap(page.header("Set-Cookie"))
        XCTAssertTrue(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"), setCookie)
        let cookie = String(setCookie.prefix { $0 != ";" })
        let text = page.text
        let marker = "name=\"csrf-token\" content=\""
        let start = try XCTUnwrap(text.range(of: marker)).upperBound
        let csrf = String(text[start...].prefix { $0 != "\"" })
        XCTAssertEqual(csrf.count, 64)
        return (cookie, csrf)
    }

    func post(_ body: String, auth: String?, cookie: String?, csrf: String?, origin: String? = "http://198.18.0.1:8080") -> SiteResponse {
        var headers: [(name: String, value: String)] = [("Host", "198.18.0.1:8080"),
                                                        ("Content-Type", "application/x-www-form-urlencoded")]
        if let auth { headers.append(("Authorization", auth)) }
        if let cookie { headers.append(("Cookie", cookie)) }
        if let csrf { headers.append(("X-CSRF-Token", csrf)) }
        if let origin { headers.append(("Origin", origin)) }
        return site.handle(SiteRequest(method: "POST", path: "/action", headers: headers, body: Array(body.utf8)))
    }

    let drain = "action=drain&service=TCP+198.18.0.100%3A80&real=198.18.0.2%3A80"

    func testThePageAndItsDataAskForCredentials() {
        for path in ["/", "/status.json"] {
            let r = get(path)
            XCTAssertEqual(r.status, 401, path)
            XCTAssertEqual(r.header("WWW-Authenticate"), "Basic realm=\"Switchyard\", charset=\"UTF-8\"")
            XCTAssertEqual(get(path, Self.basic("alice", "wrong")).status, 401, "a wrong password")
            XCTAssertEqual(get(path, Self.basic("mallory", "alice-secret")).status, 401, "an unknown user")
            XCTAssertEqual(get(path, "Basic !!!").status, 401, "a header that is not base64")
            XCTAssertEqual(get(path, "Bearer abc").status, 401, "another scheme")
            XCTAssertEqual(get(path, Self.basic("alice", "alice-secret")).status, 200)
            XCTAssertEqual(get(path, Self.basic("vic", "vic-secret")).status, 200)
        }
    }

    func testAPasswordThatPassedIsRememberedOnlyForTheHashItPassedAgainst() {
        XCTAssertEqual(get("/status.json", Self.basic("alice", "alice-secret")).status, 200)
        backend.lock.withLock { backend.settings.users[0].hash = Bcrypt.hash("new-secret", cost: 4) }
        XCTAssertEqual(get("/status.json", Self.basic("alice", "alice-secret")).status, 401, "the old password after a reload")
        XCTAssertEqual(get("/status.json", Self.basic("alice", "new-secret")).status, 200)
        backend.lock.withLock { backend.settings.users.removeAll() }
        XCTAssertEqual(get("/status.json", Self.basic("alice", "new-secret")).status, 401, "a user the reload removed")
    }

    func testMetricsAreOpenUnlessMetricsAuthIsSet() {
        let open = get("/metrics")
        XCTAssertEqual(open.status, 200)
        XCTAssertEqual(open.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        XCTAssertTrue(open.text.contains("switchyard_flow_table_entries 3"))
        backend.lock.withLock { backend.settings.metricsAuth = true }
        XCTAssertEqual(get("/metrics").status, 401)
        XCTAssertEqual(get("/metrics", Self.basic("vic", "wrong")).status, 401)
        XCTAssertEqual(get("/metrics", Self.basic("vic", "vic-secret")).status, 200)
    }

    func testThePageCarriesItsSessionTokenAndAStrictPolicy() throws {
        let page = get("/", Self.basic("alice", "alice-secret"))
        XCTAssertEqual(page.header("Content-Type"), "text/html; charset=utf-8")
        let csp = try XCTUnwrap(page.header("Content-Security-Policy"))
        XCTAssertTrue(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), csp)
        XCTAssertEqual(page.header("Cache-Control"), "no-store")
        XCTAssertEqual(page.header("X-Frame-Options"), "DENY")
        XCTAssertTrue(page.text.contains("<meta name=\"switchyard-role\" content=\"operator\">"))
        XCTAssertTrue(page.text.contains("/status.js"))
        // The same session again with its cookie: no new cookie, the same token.
        let (cookie, csrf) = try session("alice", "alice-secret")
        let again = get("/", Self.basic("alice", "alice-secret"), cookie: cookie)
        XCTAssertNil(again.header("Set-Cookie"))
        XCTAssertTrue(again.text.contains(csrf))
        // Another user's cookie is not theirs: a new session.
        XCTAssertNotNil(get("/", Self.basic("vic", "vic-secret"), cookie: cookie).header("Set-Cookie"))
    }

    func testAViewerCannotAct() throws {
        let (cookie, csrf) = try session("vic", "vic-secret")
        let r = post(drain, auth: Self.basic("vic", "vic-secret"), cookie: cookie, csrf: csrf)
        XCTAssertEqual(r.status, 403)
        XCTAssertTrue(r.text.contains("viewer"), r.text)
        XCTAssertTrue(backend.commands.isEmpty)
    }

    func testAPostNeedsCredentialsOriginSessionAndToken() throws {
        let (cookie, csrf) = try session("alice", "alice-secret")
        let auth = Self.basic("alice", "alice-secret")
        XCTAssertEqual(post(drain, auth: nil, cookie: cookie, csrf: csrf).status, 401)
        XCTAssertEqual(post(drain, auth: Self.basic("alice", "nope"), cookie: cookie, csrf: csrf).status, 401)
        XCTAssertEqual(post(drain, auth: auth, cookie: cookie, csrf: nil).status, 403, "no token")
        XCTAssertEqual(post(drain, auth: auth, cookie: cookie, csrf: String(repeating: "0", count: 64)).status, 403, "a wrong token")
        XCTAssertEqual(post(drain, auth: auth, cookie: nil, csrf: csrf).status, 403, "no session cookie")
        XCTAssertEqual(post(drain, auth: auth, cookie: "switchyard_session=feed", csrf: csrf).status, 403, "an unknown session")
        XCTAssertEqual(post(drain, auth: auth, cookie: cookie, csrf: csrf, origin: "http://evil.example").status, 403, "a foreign Origin")
        XCTAssertEqual(post(drain, auth: auth, cookie: cookie, csrf: csrf, origin: nil).status, 403, "no Origin")
        XCTAssertEqual(post(drain, auth: Self.basic("vic", "vic-secret"), cookie: cookie, csrf: csrf).status, 403,
                       "a viewer with an operator's session")
        XCTAssertTrue(backend.commands.isEmpty, "nothing refused reached the balancer")
        let ok = post(drain, auth: auth, cookie: cookie, csrf: csrf)
        XCTAssertEqual(ok.status, 200, ok.text)
        XCTAssertTrue(ok.text.hasPrefix("{\"ok\":true,"), ok.text)
    }

    func testActionsAreAdmCommandsAndAreListedWithWhoDidThem() throws {
        let (cookie, csrf) = try session("alice", "alice-secret")
        let auth = Self.basic("alice", "alice-secret")
        XCTAssertEqual(post(drain, auth: auth, cookie: cookie, csrf: csrf).status, 200)
        XCTAssertEqual(backend.commands.last, ["-e", "-t", "198.18.0.100:80", "-r", "198.18.0.2:80", "-g", "-w", "0"])
        // Ready puts back the weight the server had before the drain (3), not 1.
        XCTAssertEqual(post("action=ready&service=TCP+198.18.0.100%3A80&real=198.18.0.2%3A80", auth: auth, cookie: cookie,
                            csrf: csrf).status, 200)
        XCTAssertEqual(backend.commands.last, ["-e", "-t", "198.18.0.100:80", "-r", "198.18.0.2:80", "-g", "-w", "3"])
        XCTAssertEqual(post("action=weight&service=TCP+198.18.0.100%3A80&real=198.18.0.3%3A80&weight=7", auth: auth,
                            cookie: cookie, csrf: csrf).status, 200)
        XCTAssertEqual(backend.commands.last, ["-e", "-t", "198.18.0.100:80", "-r", "198.18.0.3:80", "-g", "-w", "7"])
        // Bad forms are refused before anything runs.
        let count = backend.commands.count
        for bad in ["action=explode&service=TCP+198.18.0.100%3A80&real=198.18.0.2%3A80",
                    "action=weight&service=TCP+198.18.0.100%3A80&real=198.18.0.2%3A80&weight=-1",
                    "action=weight&service=TCP+198.18.0.100%3A80&real=198.18.0.2%3A80&weight=70000",
                    "action=drain&service=TCP+198.18.0.100%3A80", "action=drain&service=%ZZ&real=x"] {
            XCTAssertEqual(post(bad, auth: auth, cookie: cookie, csrf: csrf).status, 400, bad)
        }
        let unknown = post("action=drain&service=TCP+198.18.0.100%3A80&real=198.18.0.9%3A80", auth: auth, cookie: cookie, csrf: csrf)
        XCTAssertEqual(unknown.status, 400)
        XCTAssertEqual(backend.commands.count, count)
        // What the balancer refuses is said, and listed as failed.
        backend.lock.withLock { backend.refuse = true }
        let refused = post(drain, auth: auth, cookie: cookie, csrf: csrf)
        XCTAssertEqual(refused.status, 400)
        XCTAssertTrue(refused.text.contains("Memory allocation problem"), refused.text)

        let json = get("/status.json", auth)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.body)) as? [String: Any])
        let actions = try XCTUnwrap(object["actions"] as? [[String: Any]])
        XCTAssertEqual(actions.count, 5)
        XCTAssertEqual(actions.first?["user"] as? String, "alice")
        XCTAssertEqual(actions.first?["ok"] as? Bool, false)
        XCTAssertEqual(actions.last?["action"] as? String, "drain 198.18.0.2:80 in TCP 198.18.0.100:80")
        XCTAssertEqual(actions.last?["ok"] as? Bool, true)
    }

    func testStatusJSONHasTheModelsShape() throws {
        let r = get("/status.json", Self.basic("vic", "vic-secret"))
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["version", "host", "generated_at", "refresh_seconds", "user", "engine", "vrrp",
                                          "services", "actions"])
        XCTAssertEqual((object["user"] as? [String: Any])?["role"] as? String, "viewer")
        XCTAssertEqual(Set((object["engine"] as? [String: Any] ?? [:]).keys),
                       ["flow_table_entries", "flow_table_capacity", "packets_dropped_total", "config_last_reload_successful"])
        let service = try XCTUnwrap((object["services"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(service.keys), ["id", "protocol", "address", "port", "scheduler", "forwarding", "state", "servers_up",
                                           "servers_total", "connections_total", "active", "inactive", "rates", "real_servers",
                                           "sorry_server"])
        XCTAssertTrue(service["sorry_server"] is NSNull, "no sorry server is null, not absent")
        XCTAssertEqual(Set((service["rates"] as? [String: Any] ?? [:]).keys),
                       ["connections_per_second", "incoming_packets_per_second", "outgoing_packets_per_second",
                        "incoming_bytes_per_second", "outgoing_bytes_per_second"])
        let reals = try XCTUnwrap(service["real_servers"] as? [[String: Any]])
        XCTAssertEqual(Set(reals[0].keys), ["id", "address", "port", "state", "weight_configured", "weight", "weight_effective",
                                            "active", "inactive", "connections_total", "incoming_bytes_total",
                                            "outgoing_bytes_total", "rates", "last_check", "last_change", "drain_preview"])
        XCTAssertEqual(Set((reals[0]["last_check"] as? [String: Any] ?? [:]).keys), ["result", "reason", "duration_ms", "at"])
        XCTAssertTrue(reals[1]["last_check"] is NSNull, "no check is null, not absent")
        XCTAssertTrue(reals[0]["last_change"] is NSNull)
    }

    func testMethodsAndPaths() {
        let auth = Self.basic("alice", "alice-secret")
        let delete = site.handle(SiteRequest(method: "DELETE", path: "/", headers: [("Authorization", auth)]))
        XCTAssertEqual(delete.status, 405)
        XCTAssertEqual(delete.header("Allow"), "GET, HEAD")
        XCTAssertEqual(get("/action", auth).status, 405)
        XCTAssertEqual(get("/etc/passwd", auth).status, 404)
        let head = site.handle(SiteRequest(method: "HEAD", path: "/status.json", headers: [("Authorization", auth)]))
        XCTAssertEqual(head.status, 200)
        XCTAssertTrue(head.body.isEmpty)
        XCTAssertEqual(get("/status.js").status, 200, "the page's script needs no sign-in")
        XCTAssertEqual(get("/status.css").header("Content-Type"), "text/css; charset=utf-8")
    }

    func testBasicHeadersAndBase64() {
        XCTAssertEqual(Credentials.basic("Basic YWxpY2U6czpl").map { "\($0.0)|\($0.1)" }, "alice|s:e", "a colon in the password")
        XCTAssertEqual(Credentials.basic("basic YWxpY2U6").map { "\($0.0)|\($0.1)" }, "alice|", "an empty password")
        XCTAssertNil(Credentials.basic("Basic YWxpY2U"), "no padding where it is due")
        XCTAssertNil(Credentials.basic("Basic YWxpY2U="), "no colon")
        XCTAssertNil(Credentials.basic("Basic"))
        XCTAssertEqual(Credentials.base64Decode("aGk="), Array("hi".utf8))
        XCTAssertNil(Credentials.base64Decode("a=Gk"))
    }
}

extension StatusSiteTests {
    /// Random methods, paths, headers and bodies, signed in or not: every one is answered with
    /// a status the site uses, and only a well-formed operator's POST reaches the balancer.
    func testRandomRequestsAreAnsweredAndNeverActUnlessWellFormed() throws {
        var g = SystemRandomNumberGenerator()
        func junk(_ n: Int) -> String {
            let alphabet = Array("abc=&%+:;/ \"'<>\\0123456789ABCDEF\u{0}\u{7f}é%ZZ%2")
            return String((0..<Int.random(in: 0...n, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
        }
        let (cookie, csrf) = try session("alice", "alice-secret")
        let auths = [nil, Self.basic("alice", "alice-secret"), Self.basic("vic", "vic-secret"), "Basic " + junk(20), junk(30)]
        for _ in 0..<1_500 {
            let method = ["GET", "POST", "HEAD", "PUT", junk(5)].randomElement(using: &g)!
            let path = ["/", "/action", "/status.json", "/metrics", "/" + junk(10)].randomElement(using: &g)!
            var headers: [(name: String, value: String)] = [("Host", Bool.random(using: &g) ? "198.18.0.1:8080" : junk(10))]
            if let a = auths.randomElement(using: &g)! { headers.append(("Authorization", a)) }
            if Bool.random(using: &g) { headers.append(("Cookie", Bool.random(using: &g) ? cookie : junk(40))) }
            if Bool.random(using: &g) { headers.append(("X-CSRF-Token", Bool.random(using: &g) ? csrf : junk(64))) }
            if Bool.random(using: &g) { headers.append(("Origin", Bool.random(using: &g) ? "http://198.18.0.1:8080" : junk(20))) }
            let body = Bool.random(using: &g) ? junk(120) : "action=drain&service=TCP+198.18.0.100%3A80&real=" + junk(20)
            let r = site.handle(SiteRequest(method: method, path: path, headers: headers, body: Array(body.utf8)))
            XCTAssertTrue([200, 400, 401, 403, 404, 405, 413].contains(r.status), "\(method) \(path): \(r.status)")
        }
        for command in backend.commands {
            XCTAssertEqual(Array(command.prefix(3)), ["-e", "-t", "198.18.0.100:80"])
            XCTAssertTrue(["198.18.0.2:80", "198.18.0.3:80"].contains(command[4]), "\(command)")
        }
    }

    /// An action on an IPv6 service names it in brackets, as adm reads it.
    func testAnActionOnAnIPv6ServiceBracketsItsAddress() {
        let real = backend.status().services[0].realServers[0]
        var service = backend.status().services[0]
        service.address = "2001:db8::100"
        let action = StatusAction(kind: .drain, service: "TCP [2001:db8::100]:80", real: real.id, weight: nil)
        XCTAssertEqual(Array(action.admArguments(service, real, readyWeight: 1).prefix(3)), ["-e", "-t", "[2001:db8::100]:80"])
    }
}
