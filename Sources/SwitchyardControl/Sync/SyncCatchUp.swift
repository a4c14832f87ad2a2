// The catch-up request: a backup that starts late asks the master for every flow it has (the
// master then walks its flow table and sends it as ordinary sync messages, then says the walk is
// sent with the same datagram flagged "answered"). Our own tiny datagram, on the same group and
// port as the sync messages, and told apart from them by its first byte. Pure: bytes in, bytes
// out.
//
// A request or its answer (12 bytes, multi-byte fields big-endian):
//   0–3  magic "SYR1"   4 version (1)   5 sync ID   6–7 flags (0: a request; 1: answered)
//   8–11 request number (a backup counts up from a random start; a master ignores a number it
//        has answered, and its answer carries the number back)
// It may be sealed with SyncAuth's trailer like a sync message. Until a backup hears the answer
// to its request, its VRRP instances do not preempt (SyncService.holdsPreemption).
//
// Never mistaken for an IPVS version 1 message, nor the other way round: a version 1 message
// starts with its reserved byte 0 and has 1 at offset 5; a request starts with "S" (0x53). A
// kernel IPVS backup that hears a request reads it as version 0 (first byte not 0) and drops it
// because bytes 2–3 ("R1", 21041) are not the datagram's length.

/// A backup's request for the master's whole flow table, or the master's answer that it is sent.
public struct SyncCatchUpRequest: Hashable, Sendable {
    /// The request's magic, "SYR1".
    public static let magic: [UInt8] = [0x53, 0x59, 0x52, 0x31]
    /// The format's version byte.
    public static let version: UInt8 = 1
    /// Bytes of a request (without an authentication trailer).
    public static let length = 12

    /// The sync ID of the lvs_sync_daemon both ends share; a master ignores another.
    public var syncID: UInt8
    /// Which request this is, counting up from the backup's start; a master answers a number
    /// once.
    public var requestNumber: UInt32
    /// false: a backup's request; true: the master's answer (every flow of the walk it started
    /// for request `requestNumber` has been sent).
    public var answered: Bool

    /// A request (or with `answered`, its answer) for sync ID `syncID`, numbered `requestNumber`.
    public init(syncID: UInt8, requestNumber: UInt32, answered: Bool = false) {
        self.syncID = syncID
        self.requestNumber = requestNumber
        self.answered = answered
    }

    /// The datagram's 12 bytes.
    public func encode() -> [UInt8] {
        Self.magic + [Self.version, syncID, 0, answered ? 1 : 0,
                      UInt8(truncatingIfNeeded: requestNumber >> 24), UInt8(truncatingIfNeeded: requestNumber >> 16),
                      UInt8(truncatingIfNeeded: requestNumber >> 8), UInt8(truncatingIfNeeded: requestNumber)]
    }

    /// The request or answer in `bytes` (an opened datagram when authenticated); nil for
    /// anything but exactly 12 bytes with the magic, version 1 and flags 0 or 1 (a flag we do
    /// not know could ask for something we would not do).
    public static func decode(_ bytes: [UInt8]) -> SyncCatchUpRequest? {
        guard bytes.count == length, bytes.starts(with: magic), bytes[4] == version, bytes[6] == 0, bytes[7] <= 1 else {
            return nil
        }
        let number = bytes[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return SyncCatchUpRequest(syncID: bytes[5], requestNumber: number, answered: bytes[7] == 1)
    }
}

/// What a datagram on the sync port is, from its first bytes, before it is opened or decoded.
/// An authentication trailer comes after the message, so a sealed datagram is classified as its
/// message is.
public enum SyncDatagramKind: Hashable, Sendable {
    /// An IPVS sync protocol version 1 message (SyncCodec decodes it).
    case ipvs
    /// A catch-up request or its answer (SyncCatchUpRequest decodes it).
    case catchUp
    /// Anything else: a version 0 message, noise; dropped.
    case unknown

    /// The kind of `bytes`, by the header alone: reserved byte 0 and version 1 at offset 5 for
    /// IPVS, the magic "SYR1" and version 1 for a catch-up request.
    public static func classify(_ bytes: [UInt8]) -> SyncDatagramKind {
        if bytes.count >= SyncCodec.headerLength, bytes[0] == 0, bytes[5] == SyncProtocol.version { return .ipvs }
        if bytes.count >= 5, bytes.starts(with: SyncCatchUpRequest.magic), bytes[4] == SyncCatchUpRequest.version {
            return .catchUp
        }
        return .unknown
    }
}
