// Whether `run` starts the HTTP listener: the config's switchyard_http, and a build that has it
// (the HTTP trait, on by default; the sanitizer builds leave it out).
import SwitchyardControl
import SwitchyardIO
import SwitchyardWeb
#if HTTP
import SwitchyardHTTP
#endif

/// What makes the listener for the engine, or nil when the config asks for none.
func statusListener(_ config: Config) throws -> ((ControlPlane) throws -> (any EngineAttachment)?)? {
    guard let address = config.http.address else { return nil }
    #if HTTP
    if config.http.users.isEmpty {
        Log.warning("switchyard_http without any switchyard_http_user: the status page answers 401 to everyone"
            + (config.http.metricsAuth ? ", /metrics too" : "; /metrics is open"))
    }
    let port = config.http.port
    return { plane in HTTPListener(address: address, port: port, site: StatusSite(backend: plane)) }
    #else
    throw SetupError("switchyard_http: this build of switchyard has no HTTP listener (built without its HTTP trait)")
    #endif
}
