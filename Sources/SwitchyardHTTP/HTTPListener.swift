// The HTTP listener: Hummingbird serving StatusSite on the address `switchyard_http` names,
// started when the engine starts (a taken port stops the start) and stopped gracefully
// (in-flight requests finish, within a bound) when it stops. The daemon owns the signals.
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import SwitchyardControl
import SwitchyardIO
import SwitchyardWeb

public final class HTTPListener: EngineAttachment, @unchecked Sendable {
    let address: String
    let port: UInt16
    let site: StatusSite
    /// Seconds a start may take to bind, and a stop to finish the requests in flight.
    static let startSeconds = 10.0
    static let stopSeconds = 5.0

    private let group = Locked<ServiceGroup?>(nil)
    private let stopped = Semaphore()
    private let failure = Locked<(any Error)?>(nil)

    public init(address: String, port: UInt16, site: StatusSite) {
        self.address = address
        self.port = port
        self.site = site
    }

    public func start() throws {
        let running = Semaphore()
        let site = self.site
        var logger = Logger(label: "switchyard.http")
        logger.logLevel = .warning
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            await Self.respond(site, request)
        }
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(address, port: Int(port)), serverName: nil),
            onServerRunning: { [address, port] channel in
                let host = address.contains(":") ? "[\(address)]" : address
                Log.info("status page on http://\(host):\(channel.localAddress?.port ?? Int(port))/ (/status.json, /metrics)")
                running.signal()
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        self.group.withLock { $0 = group }
        Task.detached { [self] in
            do {
                try await group.run()
            } catch {
                failure.withLock { $0 = error }
                running.signal()
            }
            stopped.signal()
        }
        guard running.wait(seconds: Self.startSeconds) else {
            throw SetupError("switchyard_http \(address) \(port): the listener did not start within \(Int(Self.startSeconds)) s")
        }
        if let error = failure.withLock({ $0 }) {
            throw SetupError("switchyard_http \(address) \(port): cannot listen: \(error)")
        }
    }

    public func stop() {
        guard let group = self.group.withLock({ $0 }) else { return }
        Task.detached { await group.triggerGracefulShutdown() }
        if !stopped.wait(seconds: Self.stopSeconds) {
            Log.warning("the status page's listener did not stop within \(Int(Self.stopSeconds)) s")
        }
    }

    /// One request through the site: Hummingbird's types in, ours through, Hummingbird's out.
    static func respond(_ site: StatusSite, _ request: Request) async -> Response {
        var body: [UInt8] = []
        if request.method == .post {
            var request = request
            guard let buffer = try? await request.body.collect(upTo: StatusSite.bodyLimit) else {
                return Response(status: .contentTooLarge)
            }
            body = Array(buffer.readableBytesView)
        }
        var headers: [(name: String, value: String)] = []
        for field in request.headers { headers.append((field.name.canonicalName, field.value)) }
        // HTTP/1.1's Host is the :authority pseudo-header in HTTPTypes.
        if let authority = request.head.authority { headers.append(("host", authority)) }
        let answer = site.handle(SiteRequest(method: request.method.rawValue, path: request.uri.path,
                                             query: request.uri.query ?? "", headers: headers, body: body))
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        return Response(status: .init(code: answer.status), headers: fields,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
