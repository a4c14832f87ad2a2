// The status site as a function of a request: `/` (the page), `/status.json`, `/metrics`, the
// page's script and style, and POST `/action`, with the checks each one needs (Basic
// credentials, a role, the Origin, the session's CSRF token) in that order.
import SwitchyardControl

public final class StatusSite: Sendable {
    let backend: any StatusBackend
    let credentials = Credentials()
    let sessions = Sessions()
    let desk = ActionDesk()
    /// Largest POST body read (an action form is under 200 bytes).
    public static let bodyLimit = 4_096
    static let realm = "Switchyard"
    static let securityHeaders: [(name: String, value: String)] = [
        ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ]
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    public init(backend: any StatusBackend) {
        self.backend = backend
    }

    public func handle(_ request: SiteRequest) -> SiteResponse {
        var response = route(request)
        response.headers += Self.securityHeaders
        if request.method == "HEAD" { response.body = [] }
        return response
    }

    func route(_ request: SiteRequest) -> SiteResponse {
        let reading = request.method == "GET" || request.method == "HEAD"
        switch request.path {
        case "/", "/index.html", "/status.json", "/metrics", "/status.js", "/status.css":
            guard reading else { return Self.notAllowed("GET, HEAD") }
        case "/action":
            guard request.method == "POST" else { return Self.notAllowed("POST") }
        default:
            return Self.plain(404, "not found: \(request.path)\n")
        }
        switch request.path {
        case "/status.js":
            return SiteResponse(status: 200, contentType: "text/javascript; charset=utf-8", text: StatusAssets.script)
        case "/status.css":
            return SiteResponse(status: 200, contentType: "text/css; charset=utf-8", text: StatusAssets.css)
        case "/metrics":
            let settings = backend.httpSettings
            if settings.metricsAuth, credentials.check(request.header("authorization"), users: settings.users) == nil {
                return Self.challenge()
            }
            return SiteResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", text: backend.metricsText())
        default:
            break
        }
        let settings = backend.httpSettings
        guard let user = credentials.check(request.header("authorization"), users: settings.users) else {
            return Self.challenge()
        }
        switch request.path {
        case "/status.json":
            var model = backend.status()
            model.user = StatusModel.User(name: user.name, role: user.role.rawValue)
            model.actions = desk.actions
            return SiteResponse(status: 200, headers: [("Content-Type", "application/json")], body: StatusJSON.encode(model))
        case "/action":
            return act(request, user)
        default:
            sessions.keepOnly(users: Set(settings.users.map(\.name)))
            let (id, session, isNew) = sessions.open(cookie: request.cookie(Sessions.cookieName), user: user.name,
                                                      now: backend.now())
            var headers: [(name: String, value: String)] = [("Content-Security-Policy", Self.contentSecurityPolicy)]
            if isNew {
                headers.append(("Set-Cookie", "\(Sessions.cookieName)=\(id); Path=/; HttpOnly; SameSite=Strict"))
            }
            return SiteResponse(status: 200, contentType: "text/html; charset=utf-8",
                                text: StatusAssets.page(user: user.name, role: user.role.rawValue, csrf: session.csrf),
                                headers: headers)
        }
    }

    /// POST /action: an operator's, from this site's own page (Origin), in a session of theirs
    /// (cookie) with its CSRF token.
    func act(_ request: SiteRequest, _ user: SignedIn) -> SiteResponse {
        guard user.role == .operator else { return Self.answer(403, false, "\(user.name) is a viewer: only operators can act") }
        guard Self.sameOrigin(request) else {
            return Self.answer(403, false, "the request does not come from this page (its Origin is not this site's)")
        }
        guard sessions.admits(cookie: request.cookie(Sessions.cookieName), user: user.name,
                              csrf: request.header("x-csrf-token"), now: backend.now()) else {
            return Self.answer(403, false, "the CSRF token is missing or wrong, or the session expired: reload the page")
        }
        guard request.body.count <= Self.bodyLimit else { return Self.answer(413, false, "the form is too large") }
        switch StatusAction.parse(form: request.body) {
        case .failure(let refusal):
            return Self.answer(400, false, refusal.message)
        case .success(let action):
            let (ok, message) = desk.perform(action, by: user.name, backend: backend)
            return Self.answer(ok ? 200 : 400, ok, message)
        }
    }

    /// The Origin (or, without one, the Referer) names the host the request was sent to.
    static func sameOrigin(_ request: SiteRequest) -> Bool {
        guard let host = request.header("host"), !host.isEmpty else { return false }
        let allowed = ["http://\(host)", "https://\(host)"]
        if let origin = request.header("origin") { return allowed.contains(origin) }
        if let referer = request.header("referer") { return allowed.contains { referer == $0 || referer.hasPrefix($0 + "/") } }
        return false
    }

    static func challenge() -> SiteResponse {
        plain(401, "sign in: this page needs a switchyard_http_user's name and password\n",
              headers: [("WWW-Authenticate", "Basic realm=\"\(realm)\", charset=\"UTF-8\"")])
    }

    static func notAllowed(_ allow: String) -> SiteResponse {
        plain(405, "method not allowed\n", headers: [("Allow", allow)])
    }

    static func plain(_ status: Int, _ text: String, headers: [(name: String, value: String)] = []) -> SiteResponse {
        SiteResponse(status: status, contentType: "text/plain; charset=utf-8", text: text, headers: headers)
    }

    /// The JSON answer to an action: {"ok": …, "message": …}.
    static func answer(_ status: Int, _ ok: Bool, _ message: String) -> SiteResponse {
        SiteResponse(status: status, contentType: "application/json", text: "{\"ok\":\(ok),\"message\":\(jsonString(message))}")
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
