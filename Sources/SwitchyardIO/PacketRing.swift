import CSwitchyard
import Glibc
import SwitchyardCore

/// Ring geometry. A TPACKET_V3 block is handed to user space when it is full or when
/// `retireTimeoutMilliseconds` pass, so a lone packet waits at most that long.
public struct RingGeometry: Sendable {
    public var blockSize: UInt32 = 1 << 18
    public var blockCount: UInt32 = 32
    public var frameSize: UInt32 = 2048
    public var retireTimeoutMilliseconds: UInt32 = 1
    public init() {}
}

/// An AF_PACKET TPACKET_V3 receive ring on one interface, filtered, in a fanout group.
public final class PacketRing: @unchecked Sendable {
    public let fd: Int32
    let map: UnsafeMutableRawPointer
    public let geometry: RingGeometry
    private var blockIndex: UInt32 = 0

    /// Opens the socket, attaches `filter` before binding (so no unfiltered frame slips in),
    /// maps the ring, binds to `interface` and joins fanout group `fanoutGroup`, which spreads
    /// frames with `fanoutProgram` (see FanoutProgram).
    public init(interface: InterfaceInfo, filter: PacketFilter, fanoutGroup: UInt16, fanoutProgram: [BPFInstruction],
                geometry: RingGeometry = RingGeometry()) throws {
        // Protocol 0: receive nothing until bind.
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket(AF_PACKET)") }
        do {
            try filter.attach(to: fd)
            guard let map = sy_rx_ring_setup(fd, geometry.blockSize, geometry.blockCount, geometry.frameSize,
                                             geometry.retireTimeoutMilliseconds) else {
                throw SystemError("PACKET_RX_RING (TPACKET_V3)")
            }
            self.map = map
            guard sy_packet_bind(fd, interface.index, SY_ETH_P_ALL) == 0 else {
                munmap(map, Int(geometry.blockSize) * Int(geometry.blockCount))
                throw SystemError("bind(AF_PACKET, \(interface.name))")
            }
            let joined = fanoutProgram.withUnsafeBytes {
                sy_fanout_join_cbpf(fd, fanoutGroup, $0.baseAddress, UInt32(fanoutProgram.count))
            }
            guard joined == 0 else {
                munmap(map, Int(geometry.blockSize) * Int(geometry.blockCount))
                throw SystemError("PACKET_FANOUT")
            }
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        self.geometry = geometry
    }

    deinit {
        munmap(map, Int(geometry.blockSize) * Int(geometry.blockCount))
        close(fd)
    }

    /// The next block if the kernel has handed it over, else nil.
    @inline(__always)
    public func nextBlock() -> UnsafeMutableRawPointer? {
        let block = map + Int(blockIndex) * Int(geometry.blockSize)
        return sy_block_status(block) & SY_TP_STATUS_USER != 0 ? block : nil
    }

    /// Gives the current block back to the kernel and moves on.
    @inline(__always)
    public func releaseBlock(_ block: UnsafeMutableRawPointer) {
        sy_block_release(block)
        blockIndex = (blockIndex + 1) % geometry.blockCount
    }

    /// Frames the kernel dropped because the ring was full, since the last call.
    public func takeDrops() -> UInt64 {
        var packets: UInt32 = 0
        var drops: UInt32 = 0
        return sy_packet_drops(fd, &packets, &drops) == 0 ? UInt64(drops) : 0
    }
}

/// A packet socket that only sends, bound to one interface, bypassing the qdisc layer; frames
/// go out with sendmmsg in batches that are flushed at the end of every RX block, so a lone
/// packet is never held back.
public final class PacketSender: @unchecked Sendable {
    public let fd: Int32
    let batch: UnsafeMutablePointer<sy_tx_batch>

    public init(interface: InterfaceInfo, batchCapacity: UInt32 = 256) throws {
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket(AF_PACKET) for TX") }
        // Protocol 0 in bind: this socket receives nothing.
        guard sy_packet_bind(fd, interface.index, 0) == 0 else {
            close(fd)
            throw SystemError("bind(AF_PACKET TX, \(interface.name))")
        }
        // Bypassing the qdisc also keeps our own frames from being looped back to packet taps.
        _ = sy_qdisc_bypass(fd)
        guard let batch = sy_tx_batch_create(batchCapacity) else {
            close(fd)
            throw SystemError("allocating the TX batch", errno: ENOMEM)
        }
        self.fd = fd
        self.batch = batch
    }

    deinit {
        sy_tx_batch_destroy(batch)
        close(fd)
    }

    /// Queues a frame; returns how many failed if this filled the batch and flushed it.
    @inline(__always)
    public func enqueue(_ frame: UnsafeMutableRawPointer, length: Int) -> UInt64 {
        sy_tx_batch_add(batch, frame, length)
        return batch.pointee.count == batch.pointee.capacity ? flush() : 0
    }

    /// Sends what is queued; returns how many frames could not be sent.
    @inline(__always)
    public func flush() -> UInt64 {
        let queued = batch.pointee.count
        guard queued > 0 else { return 0 }
        let sent = sy_tx_batch_flush(fd, batch)
        return UInt64(queued) - UInt64(max(sent, 0))
    }
}
