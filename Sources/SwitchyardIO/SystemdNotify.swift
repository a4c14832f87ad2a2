// systemd's notification protocol (sd_notify(3)) without libsystemd: datagrams such as
// "READY=1" or "STATUS=…" to the AF_UNIX socket NOTIFY_SOCKET names (a path, or an abstract
// name after "@"), and the watchdog interval WATCHDOG_USEC asks for. Nothing is sent when the
// daemon was not started by systemd (no NOTIFY_SOCKET).
import CSwitchyard
import Glibc

public final class SystemdNotify: @unchecked Sendable {
    private let fd: Int32
    /// Read-only after init: the main loop and the control socket's thread send at once.
    private let address: sockaddr_un
    private let length: socklen_t
    /// Seconds between the watchdog's deadlines (WATCHDOG_USEC), if it is on for this process.
    public let watchdogSeconds: Double?

    /// The notifier for this process's environment; nil without NOTIFY_SOCKET.
    public static let shared: SystemdNotify? = SystemdNotify(environment: { getenv($0).map { String(cString: $0) } })

    init?(environment: (String) -> String?) {
        let pid = environment("WATCHDOG_PID").flatMap { Int32($0) }
        if let usec = environment("WATCHDOG_USEC").flatMap({ UInt64($0) }), usec > 0, pid == nil || pid == getpid() {
            watchdogSeconds = Double(usec) / 1e6
        } else {
            watchdogSeconds = nil
        }
        guard let path = environment("NOTIFY_SOCKET"), path.hasPrefix("/") || path.hasPrefix("@") else { return nil }
        var bytes = Array(path.utf8)
        // An abstract socket's name starts with a NUL byte where the "@" stands.
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        var address = sockaddr_un()
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        self.address = address
        length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
    }

    deinit { close(fd) }

    /// Sends one message ("READY=1\nSTATUS=…"); false if it could not be sent.
    @discardableResult
    public func send(_ message: String) -> Bool {
        let bytes = Array(message.utf8)
        return withUnsafePointer(to: address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) == bytes.count }
            }
        }
    }
}
