// The AF_PACKET receive ring on one interface (TPACKET_V2 frames or TPACKET_V3 blocks): its
// geometry, its setup (filtered, bound, in a fanout group) and reading it.

import CSwitchyard
import Glibc
import SwitchyardCore

/// How an AF_PACKET receive ring hands frames to user space.
public enum RingFormat: String, Sendable, CaseIterable {
    /// TPACKET_V2: every frame is handed over as soon as the kernel has written it, so none
    /// waits for others. Its slots are fixed-size (sized for the MTU); a rare larger frame (a
    /// GSO super-packet from a local sender) takes its slot cut short, marked TP_STATUS_COPY,
    /// and waits whole on the socket's queue, where the worker reads it in its turn.
    case frames
    /// TPACKET_V3: frames are handed over a block at a time, when the block is full or its
    /// retire timer (1 ms) runs out, so at a low rate each frame can wait up to that long.
    case blocks
}

/// Ring geometry: 32 blocks of 256 KiB; TPACKET_V2 cuts them into fixed frames.
public struct RingGeometry: Sendable {
    public var format = RingFormat.frames
    public var blockSize: UInt32 = 1 << 18
    public var blockCount: UInt32 = 32
    public var frameSize: UInt32 = 2048
    public var retireTimeoutMilliseconds: UInt32 = 1
    public init(format: RingFormat = .frames) { self.format = format }

    /// TPACKET_V2 slots for frames of up to `maxFrame` bytes: header and frame in a power of
    /// two of at least 2 KiB (2 KiB for a 1500-byte MTU), in blocks that hold whole frames.
    public static func frames(upTo maxFrame: Int) -> RingGeometry {
        var g = RingGeometry(format: .frames)
        var size: UInt32 = 2048
        while Int(size) < maxFrame + 128 { size <<= 1 }
        g.frameSize = size
        g.blockSize = max(g.blockSize, size)
        return g
    }

    var frameCount: Int { Int(blockSize / frameSize) * Int(blockCount) }
}

/// An AF_PACKET receive ring (TPACKET_V2 frames or TPACKET_V3 blocks) on one interface,
/// filtered, in a fanout group.
public final class PacketRing: @unchecked Sendable {
    public let fd: Int32
    let map: UnsafeMutableRawPointer
    public let geometry: RingGeometry
    private var blockIndex: UInt32 = 0
    /// TPACKET_V2: the next frame to read.
    private var frameIndex = 0
    /// The engine's number of the interface it is bound to (a frame's ingress).
    public let interfaceNumber: Int

    /// Whether the ring is in a fanout group (a lone worker's ring is not: the kernel then
    /// skips the group's demultiplexing and program for every frame).
    public let inFanoutGroup: Bool

    /// Opens the socket, attaches `filter` before binding (so no unfiltered frame slips in),
    /// maps the ring, binds to `interface` and joins fanout group `fanoutGroup` (nil: none),
    /// which spreads frames with `fanoutProgram` (see FanoutProgram).
    public init(interface: InterfaceInfo, interfaceNumber: Int = 0, filter: PacketFilter,
                fanoutGroup: UInt16?, fanoutProgram: [BPFInstruction], geometry: RingGeometry = RingGeometry()) throws {
        self.interfaceNumber = interfaceNumber
        // Protocol 0: receive nothing until bind.
        let fd = try systemCall("socket(AF_PACKET)", valueOrErrno {
            socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        let mapLength = Int(geometry.blockSize) * Int(geometry.blockCount)
        // Every step's error is made (errno read) before the steps already done are undone.
        do {
            try filter.attach(to: fd)
            // The engine's own frames leave through its TX sockets, which bypass the taps; the
            // kernel's (ARP, health checks) need not be copied and filtered here either.
            _ = sy_packet_ignore_outgoing(fd)
            // A virtio_net_hdr before each frame: a super-packet's says its segment size, which
            // it keeps when it is sent on whole (GSO.swift). Set before the ring, as it must be.
            _ = try systemCall("PACKET_VNET_HDR", valueOrErrno { sy_packet_vnet_hdr(fd) })
            // Room on the socket's queue for a few whole super-packets (their slots say COPY).
            if geometry.format == .frames {
                _ = try systemCall("PACKET_COPY_THRESH", valueOrErrno { sy_packet_copy_large(fd, Self.largeFrameQueueBytes) })
            }
            let map = try systemCall("PACKET_RX_RING (\(geometry.format == .blocks ? "TPACKET_V3" : "TPACKET_V2"))",
                                     valueOrErrno {
                geometry.format == .blocks
                    ? sy_rx_ring_setup(fd, geometry.blockSize, geometry.blockCount, geometry.frameSize,
                                       geometry.retireTimeoutMilliseconds)
                    : sy_rx_ring_setup_v2(fd, geometry.blockSize, geometry.blockCount, geometry.frameSize)
            })
            self.map = map
            do {
                _ = try systemCall("bind(AF_PACKET, \(interface.name))",
                                   valueOrErrno { sy_packet_bind(fd, interface.index, SY_ETH_P_ALL) })
                if let group = fanoutGroup {
                    _ = try systemCall("PACKET_FANOUT", valueOrErrno {
                        fanoutProgram.withUnsafeBytes { sy_fanout_join_cbpf(fd, group, $0.baseAddress, UInt32(fanoutProgram.count)) }
                    })
                }
            } catch {
                munmap(map, mapLength)
                throw error
            }
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        self.geometry = geometry
        inFanoutGroup = fanoutGroup != nil
    }

    deinit {
        munmap(map, Int(geometry.blockSize) * Int(geometry.blockCount))
        close(fd)
    }

    /// The socket's receive buffer for whole frames larger than a slot (TPACKET_V2).
    /// 16 MiB (the kernel doubles it): some hundred 64 KiB super-packets, so that a burst of
    /// bulk uploads the worker takes a moment to catch up with is not lost (a frame that finds
    /// the queue full is cut to its slot and counted in drop_rx_ring_full).
    static let largeFrameQueueBytes: Int32 = 16 << 20

    /// Replaces the ring's filter; the kernel swaps it atomically.
    public func update(filter: PacketFilter) throws { try filter.attach(to: fd) }

    /// Replaces the fanout group's program (the ring must be in a group); the kernel swaps it
    /// atomically.
    func update(fanoutProgram: [BPFInstruction]) throws {
        _ = try systemCall("PACKET_FANOUT_DATA", valueOrErrno {
            fanoutProgram.withUnsafeBytes { sy_fanout_set_program(fd, $0.baseAddress, UInt32(fanoutProgram.count)) }
        })
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

    /// TPACKET_V2: how many frames, at most `limit`, are ready in a row from the next one.
    @inline(__always)
    public func readyFrames(limit: Int) -> Int {
        var n = 0
        while n < limit && sy_v2_status(frame(n)) & SY_TP_STATUS_USER != 0 { n += 1 }
        return n
    }

    /// TPACKET_V2: the frame `offset` places after the next one.
    @inline(__always)
    public func frame(_ offset: Int) -> UnsafeMutableRawPointer {
        map + ((frameIndex + offset) % geometry.frameCount) * Int(geometry.frameSize)
    }

    /// TPACKET_V2: gives the next `count` frames back to the kernel and moves past them.
    @inline(__always)
    public func releaseFrames(_ count: Int) {
        for i in 0..<count { sy_v2_release(frame(i)) }
        frameIndex = (frameIndex + count) % geometry.frameCount
    }

    /// TPACKET_V2: reads the whole frame behind a slot marked TP_STATUS_COPY into `buffer`,
    /// its virtio_net_hdr first (the frame is at `buffer + VirtioNetHeader.size`). Returns the
    /// length of both, or nil if the queue had none or it is longer than `capacity`.
    @inline(__always)
    public func receiveCopied(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        let n = sy_packet_recv(fd, buffer, capacity)
        return n > 0 && n <= capacity ? n : nil
    }

    /// Frames the kernel dropped because the ring was full, since the last call.
    public func takeDrops() -> UInt64 {
        var packets: UInt32 = 0
        var drops: UInt32 = 0
        return sy_packet_drops(fd, &packets, &drops) == 0 ? UInt64(drops) : 0
    }
}
