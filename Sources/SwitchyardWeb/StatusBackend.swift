// What the status site needs from the balancer, as a protocol (tests give a fake), and the
// control plane's answer to it: the same calls `switchyard adm` makes.
import SwitchyardControl

public protocol StatusBackend: Sendable {
    /// The running config's HTTP settings (users, metrics auth): a reload applies at once.
    var httpSettings: HTTPSettings { get }
    func status() -> StatusModel
    func metricsText() -> String
    /// One `switchyard adm` command, as the control socket runs it.
    func control(_ arguments: [String], _ input: String) -> (ok: Bool, text: String, status: Int32)
    /// Unix seconds now.
    func now() -> Double
}

extension ControlPlane: StatusBackend {
    public var httpSettings: HTTPSettings { config.http }
    public func now() -> Double { wallClock() }
}
