// The AF_PACKET transmit sockets on one interface: frames queued into a TX ring (or gathered
// for sendmmsg) and flushed a batch at a time, and TCP super-packets sent whole on a second
// socket, each after a virtio_net_hdr asking the kernel to segment it (GSO.swift).

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
    /// The socket for super-packets (PACKET_VNET_HDR, no ring: a socket with a TX ring sends
    /// only from its ring), or -1 if it could not be made (the worker then segments them).
    public let gsoFD: Int32
    /// Where a super-packet's virtio_net_hdr is written before it is sent.
    let vnetHeader: UnsafeMutableRawPointer

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
        gsoFD = Self.openGSOSocket(interface)
        vnetHeader = .allocate(byteCount: 16, alignment: 8)
        self.fd = fd
        self.mode = mode
        self.batch = batch
        self.ring = ring
    }

    deinit {
        sy_tx_ring_destroy(ring)
        sy_tx_batch_destroy(batch)
        close(fd)
        if gsoFD >= 0 { close(gsoFD) }
        vnetHeader.deallocate()
    }

    /// A send-only packet socket with PACKET_VNET_HDR on `interface`, bypassing the qdisc; -1
    /// if any step fails.
    static func openGSOSocket(_ interface: InterfaceInfo) -> Int32 {
        let s = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { return -1 }
        guard sy_packet_vnet_hdr(s) == 0, sy_packet_bind(s, interface.index, 0) == 0 else {
            close(s)
            return -1
        }
        _ = sy_qdisc_bypass(s)
        return s
    }

    /// Sends a super-packet whole after `header`; false if the kernel refused it (the caller
    /// segments it instead). Frames queued before it must be flushed first, to keep the order.
    @inline(__always)
    public func sendWhole(_ frame: UnsafeMutableRawPointer, length: Int, header: VirtioNetHeader) -> Bool {
        header.store(to: vnetHeader)
        return sy_send_vnet(gsoFD, vnetHeader, frame, length) == 0
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
