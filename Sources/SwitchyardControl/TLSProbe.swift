// SSL_GET: HTTP_GET over TLS, as a nonblocking state machine on the checkers' event loop, with
// OpenSSL's client (keepalived's check_ssl.c: any TLS version, the server's certificate not
// verified, the SSL block's client certificate presented, SNI with enable_sni). Each URL is
// its own connection and handshake, judged as HTTP_GET judges it (HealthProbes.evaluateHTTP).
import CTLS
import Glibc
import SwitchyardCore
import SwitchyardIO

/// One OpenSSL client context per SSL block, made on first use and kept for the process's life
/// (a reload with the same block reuses it; there are as many as distinct blocks seen).
enum TLSContexts {
    private static let made = Locked<[TLSClientSettings: OpaquePointer]>([:])

    /// The context for these settings, or why none could be made (a file OpenSSL cannot load).
    static func context(_ settings: TLSClientSettings) -> Result<OpaquePointer, TLSFailure> {
        made.withLock { contexts in
            if let ctx = contexts[settings] { return .success(ctx) }
            ERR_clear_error()
            guard let ctx = switchyard_tls_client_context() else { return .failure(TLSFailure("cannot make a TLS context")) }
            if let password = settings.password { switchyard_tls_set_password(ctx, password) }
            if let file = settings.certificate, SSL_CTX_use_certificate_chain_file(ctx, file) != 1 {
                SSL_CTX_free(ctx)
                return .failure(TLSFailure("SSL certificate \(file): \(lastError())"))
            }
            if let file = settings.key, SSL_CTX_use_PrivateKey_file(ctx, file, SSL_FILETYPE_PEM) != 1 {
                SSL_CTX_free(ctx)
                return .failure(TLSFailure("SSL key \(file): \(lastError())"))
            }
            if let file = settings.ca, SSL_CTX_load_verify_locations(ctx, file, nil) != 1 {
                SSL_CTX_free(ctx)
                return .failure(TLSFailure("SSL ca \(file): \(lastError())"))
            }
            contexts[settings] = ctx
            return .success(ctx)
        }
    }

    /// OpenSSL's words for the oldest error on this thread's queue, which is then cleared.
    static func lastError() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return "no further detail from OpenSSL" }
        var text = [UInt8](repeating: 0, count: 256)
        text.withUnsafeMutableBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { ERR_error_string_n(code, $0.baseAddress, $0.count) }
        }
        return String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
    }
}

struct TLSFailure: Error, Equatable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

final class TLSProbe: OneSocketProbe {
    private enum Phase { case connecting, handshaking, sending, reading }
    let address: IPAddressBits, port: UInt16, urls: [URLCheck], host: String, sni: String?, tls: TLSClientSettings
    let timeout: Double
    private(set) var deadline = 0.0
    var fd: Int32 = -1
    private var ssl: OpaquePointer?
    private var phase = Phase.connecting
    private var urlIndex = 0
    private var request: [UInt8] = []
    private var response: [UInt8] = []

    init(_ address: IPAddressBits, _ port: UInt16, urls: [URLCheck], host: String, sni: String?, tls: TLSClientSettings,
         timeout: Double) {
        (self.address, self.port, self.urls, self.host) = (address, port, urls, host)
        (self.sni, self.tls, self.timeout) = (sni, tls, timeout)
    }

    private var path: String { urls[urlIndex].path }

    func start(now: Double) -> ProbeStep {
        guard urlIndex < urls.count else { return .done(.up) }
        deadline = now + timeout
        let (started, reason) = HealthProbes.beginConnect(address, port)
        guard let s = started else { return .done(.down("SSL_GET \(path): \(reason)")) }
        (fd, phase, response) = (s, .connecting, [])
        request = HealthProbes.httpRequest(urls[urlIndex], host: host)
        return .wait(fd: s, events: SocketProbes.writable)
    }

    func ready(events: UInt32, now: Double, scratch: UnsafeMutableRawBufferPointer) -> ProbeStep {
        switch phase {
        case .connecting:
            if let failed = HealthProbes.connectOutcome(fd, address, port) { return finish(.down("SSL_GET \(path): \(failed)")) }
            switch TLSContexts.context(tls) {
            case .failure(let f): return finish(.down("SSL_GET \(path): \(f.reason)"))
            case .success(let ctx):
                ssl = SSL_new(ctx)
                guard let ssl, SSL_set_fd(ssl, fd) == 1 else { return finish(.down("SSL_GET \(path): \(TLSContexts.lastError())")) }
                if let sni { _ = switchyard_tls_set_server_name(ssl, sni) }
            }
            phase = .handshaking
            return handshake()
        case .handshaking: return handshake()
        case .sending: return send()
        case .reading: return read(now: now, scratch: scratch)
        }
    }

    private func handshake() -> ProbeStep {
        ERR_clear_error()
        let r = SSL_connect(ssl)
        if r == 1 {
            phase = .sending
            return send()
        }
        return retry(r) ?? finish(.down("SSL_GET \(path): TLS handshake with \(address.withPort(port)) failed: \(failure(r))"))
    }

    private func send() -> ProbeStep {
        ERR_clear_error()
        // Without partial writes OpenSSL writes all or nothing; a retry passes the same bytes.
        let r = request.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        if r > 0 {
            phase = .reading
            return .wait(fd: fd, events: SocketProbes.readable)
        }
        return retry(r) ?? finish(.down("SSL_GET \(path): sending the request failed: \(failure(r))"))
    }

    private func read(now: Double, scratch: UnsafeMutableRawBufferPointer) -> ProbeStep {
        // OpenSSL may hold decrypted bytes the socket no longer signals: read until it wants more.
        while true {
            ERR_clear_error()
            let n = SSL_read(ssl, scratch.baseAddress, Int32(min(scratch.count, Int(Int32.max))))
            if n > 0 {
                response.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<Int(n)]))
                if response.count > HealthProbes.maxHTTPAnswer { return finish(.down("SSL_GET \(path): answer larger than 8 MiB")) }
                continue
            }
            if SSL_get_error(ssl, n) != SSL_ERROR_ZERO_RETURN {
                return retry(n) ?? finish(.down("SSL_GET \(path): reading the answer failed: \(failure(n))"))
            }
            // The server closed: the answer is complete.
            let verdict = HealthProbes.evaluateHTTP(response, url: urls[urlIndex], checker: "SSL_GET")
            cancel()
            guard verdict.isUp else { return .done(verdict) }
            urlIndex += 1
            return start(now: now)
        }
    }

    /// What OpenSSL waits for, if it only waits.
    private func retry(_ r: Int32) -> ProbeStep? {
        switch SSL_get_error(ssl, r) {
        case SSL_ERROR_WANT_READ: .wait(fd: fd, events: SocketProbes.readable)
        case SSL_ERROR_WANT_WRITE: .wait(fd: fd, events: SocketProbes.writable)
        default: nil
        }
    }

    private func failure(_ r: Int32) -> String {
        let code = SSL_get_error(ssl, r)
        if code == SSL_ERROR_SYSCALL && errno != 0 { return String(cString: strerror(errno)) }
        if code == SSL_ERROR_SYSCALL || code == SSL_ERROR_ZERO_RETURN { return "the server closed the connection" }
        return TLSContexts.lastError()
    }


    func expired() -> ProbeResult {
        let stage = phase
        cancel()
        switch stage {
        case .connecting: return .down("SSL_GET \(path): \(HealthProbes.connectTimedOut(address, port, timeout))")
        case .handshaking: return .down("SSL_GET \(path): no TLS handshake within \(timeout) s")
        case .sending: return .down("SSL_GET \(path): sending the request failed")
        case .reading: return .down("SSL_GET \(path): no complete answer within \(timeout) s")
        }
    }

    /// Frees the TLS state without a close_notify (keepalived's quiet shutdown) and closes.
    func cancel() {
        if let ssl { SSL_free(ssl) }
        ssl = nil
        if fd >= 0 { close(fd) }
        fd = -1
    }
}
