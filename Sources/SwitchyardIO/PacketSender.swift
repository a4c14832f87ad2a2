// The AF_PACKET transmit socket on one interface: frames queued into a TX ring (or gathered
// for sendmmsg) and flushed a batch at a time.

import CSwitchyard
import Glibc
import SwitchyardCore

/// How workers hand frames to the kernel.
public enum TXMode: String, Sendable, CaseIterable {
    /// A mapped PACKET_TX_RING: frames are copied into the ring and one send() per batch
    /// tells the kernel to take them.
    case ring
    /// sendmmsg with one message per frame (the first design; kept to measure against).
    case sendmmsg
}

/// A packet socket that only sends, bound to one interface, bypassing the qdisc layer. Frames
/// are queued (copied into the TX ring, or gathered for sendmmsg) and the queue is flushed at
/// the end of every RX block, so a lone packet is never held back.
public final class PacketSender: @unchecked Sendable {
    public let fd: Int32
    public let mode: TXMode
    let batch: UnsafeMutablePointer<sy_tx_batch>?
    let ring: UnsafeMutablePointer<sy_tx_ring>?

    public init(interface: InterfaceInfo, mode: TXMode = .ring, capacity: UInt32 = 256) throws {
        let fd = try systemCall("socket(AF_PACKET) for TX", valueOrErrno {
            socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        var batch: UnsafeMutablePointer<sy_tx_batch>?
        var ring: UnsafeMutablePointer<sy_tx_ring>?
        // Every step's error is made (errno read) before the steps already done are undone.
        do {
            switch mode {
            case .ring:
                // The ring must be set up before bind. A slot holds its header, the virtio_net_hdr
                // and a frame of the interface's MTU with Ethernet and 802.1Q headers (larger frames
                // are segmented first): 2 KiB for a 1500-byte MTU.
                var slot: UInt32 = 2048
                while slot < UInt32(max(interface.mtu, 0)) + 18 + 64 { slot <<= 1 }
                ring = try systemCall("PACKET_TX_RING (TPACKET_V2)", valueOrErrno { sy_tx_ring_create(fd, slot, capacity * 2) })
            case .sendmmsg:
                guard let b = sy_tx_batch_create(capacity) else {
                    throw SystemError("allocating the TX batch", errno: ENOMEM)
                }
                batch = b
            }
            // Protocol 0 in bind: this socket receives nothing.
            _ = try systemCall("bind(AF_PACKET TX, \(interface.name))", valueOrErrno { sy_packet_bind(fd, interface.index, 0) })
        } catch {
            sy_tx_ring_destroy(ring)
            sy_tx_batch_destroy(batch)
            close(fd)
            throw error
        }
        // Bypassing the qdisc also keeps our own frames from being looped back to packet taps.
        _ = sy_qdisc_bypass(fd)
        self.fd = fd
        self.mode = mode
        self.batch = batch
        self.ring = ring
    }

    deinit {
        sy_tx_ring_destroy(ring)
        sy_tx_batch_destroy(batch)
        close(fd)
    }

    /// Queues a frame; returns how many frames failed (the ring stayed full, or a batch that
    /// this frame filled could not all be sent).
    @inline(__always)
    public func enqueue(_ frame: UnsafeMutableRawPointer, length: Int) -> UInt64 {
        if let ring {
            if sy_tx_ring_put(ring, frame, UInt32(length)) == 0 { return 0 }
            // Full: the kernel still owns the next slot. Kick it and retry a bounded number of times.
            for _ in 0..<16 {
                _ = sy_tx_ring_kick(fd, ring)
                if sy_tx_ring_put(ring, frame, UInt32(length)) == 0 { return 0 }
            }
            return 1
        }
        let batch = batch.unsafelyUnwrapped
        sy_tx_batch_add(batch, frame, length)
        return batch.pointee.count == batch.pointee.capacity ? flush() : 0
    }

    /// Sends what is queued; returns how many frames could not be sent.
    @inline(__always)
    public func flush() -> UInt64 {
        if let ring {
            // A failed kick leaves the frames marked; the next kick sends them, and a ring that
            // stays full shows up as failures in enqueue.
            if ring.pointee.pending > 0 { _ = sy_tx_ring_kick(fd, ring) }
            return 0
        }
        let batch = batch.unsafelyUnwrapped
        let queued = batch.pointee.count
        guard queued > 0 else { return 0 }
        let sent = sy_tx_batch_flush(fd, batch)
        return UInt64(queued) - UInt64(max(sent, 0))
    }
}
