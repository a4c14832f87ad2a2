// The daemon's SyncTransport: SyncSocket's sender and receiver on the lvs_sync_daemon's
// interface, group and port. Drops what is not a peer's whole datagram (our own, looped back;
// one cut short by the buffer) before the service sees it.
import SwitchyardCore
import SwitchyardIO

final class SyncSocketTransport: SyncTransport, @unchecked Sendable {
    let sender: SyncSender
    let receiver: SyncReceiver
    /// One datagram at a time (the service's thread is the only reader).
    private var buffer = [UInt8](repeating: 0, count: 65_536)
    private var sendErrorLogged = false

    /// A master's catch-up walk comes as a burst: room for a few thousand messages in the kernel.
    static let receiveBufferBytes: Int32 = 8 << 20

    init(config: SyncDaemonConfig, interface: InterfaceInfo) throws {
        sender = try SyncSender(interface: interface.name, index: interface.index, destination: config.group,
                                port: config.port, ttl: config.ttl)
        receiver = try SyncReceiver(interface: interface.name, index: interface.index,
                                    group: config.group.value >> 28 == 0xE ? config.group : nil, port: config.port,
                                    receiveBufferBytes: Self.receiveBufferBytes)
    }

    func send(_ datagram: [UInt8]) -> Bool {
        do {
            return try sender.send(datagram)
        } catch {
            // Logged once: a master whose sync interface is down would log every 10 ms.
            if !sendErrorLogged { Log.warning("sync: \(error) (further send errors are counted, not logged)") }
            sendErrorLogged = true
            return false
        }
    }

    func receive() -> (bytes: [UInt8], source: IPv4Address)? {
        while true {
            let got = buffer.withUnsafeMutableBytes { raw in try? receiver.receive(into: raw) }
            guard let received = got ?? nil else { return nil }
            if received.truncated || receiver.isOwn(received.source) { continue }
            return (Array(buffer[0..<received.length]), received.source)
        }
    }

    func wait(milliseconds: Int32) { _ = receiver.wait(milliseconds: milliseconds) }
}
