// Between a worker's FlowRecord and the sync protocol's SyncEntry: the master's records as the
// entries a kernel master would send for the same connections, and a received entry as the
// record a backup's worker installs, resolved against the backup's own table (SyncDirectory).
// Pure.
import SwitchyardCore
import SwitchyardIO

/// What a backup needs to place a received entry: its real servers by address (and the ID its
/// snapshot gives each), the engine's interface number for each VIP, and how the workers split
/// clients (FanoutProgram). Built by the control plane from its table.
public struct SyncDirectory: Sendable, Equatable {
    /// A real server of a virtual service, as an entry names it.
    public struct RealKey: Hashable, Sendable {
        public var proto: UInt8
        public var virtual: UInt32
        public var virtualPort: UInt16
        public var real: UInt32
        public var realPort: UInt16
        public init(proto: UInt8, virtual: UInt32, virtualPort: UInt16, real: UInt32, realPort: UInt16) {
            self.proto = proto
            self.virtual = virtual
            self.virtualPort = virtualPort
            self.real = real
            self.realPort = realPort
        }
    }

    public struct Real: Sendable, Equatable {
        public var id: UInt32
        public var nat: Bool
        public init(id: UInt32, nat: Bool) {
            self.id = id
            self.nat = nat
        }
    }

    public var reals: [RealKey: Real] = [:]
    public var vipInterface: [UInt32: UInt8] = [:]
    public var clientMask: UInt32 = .max
    public var workers = 1

    public init() {}
}

/// Why a received entry is not installed (counted by the receiver, never an error: the next
/// entry goes on).
public enum SyncRefusal: Error, Hashable, Sendable {
    /// An IPv6 entry: the engine forwards IPv4 only.
    case ipv6
    /// Tunnel, local node or bypass: a method the engine does not forward by.
    case method
    /// No such virtual service and real server here, or forwarded by the other method.
    case unknownReal
    /// A state the entry's protocol does not have.
    case state
}

public enum SyncTranslate {
    /// The entry a kernel master would send for `record`: NAT as masquerade, everything else
    /// as direct routing; the timeout in whole seconds, rounded up; a NAT connection's peer MAC
    /// in Switchyard's own option.
    /// nil for an IPv6 record: connection sync carries IPv4 flows only (VRRP, which decides who
    /// owns a VIP, takes IPv4 VIPs only).
    public static func entry(_ r: FlowRecord) -> SyncEntry? {
        guard let client = r.client.ipv4, let virtual = r.virtual.ipv4, let real = r.real.ipv4 else { return nil }
        let method: SyncForwarding = r.isNAT ? .masquerade : .directRoute
        let seconds = r.expiresIn / 1_000 + (r.expiresIn % 1_000 == 0 ? 0 : 1)
        let addresses = SyncAddresses.v4(client: client, virtual: virtual, destination: real)
        if r.isTemplate {
            return SyncEntry(protocolNumber: r.proto, flags: .connection(method, established: false, template: true),
                             state: IPVSTemplateState.none.rawValue, addresses: addresses, clientPort: 0,
                             virtualPort: r.virtualPort, destinationPort: r.realPort, timeout: seconds)
        }
        var entry = SyncEntry.flow(protocolNumber: r.proto, state: r.state, method: method, addresses: addresses,
                                   clientPort: r.clientPort, virtualPort: r.virtualPort,
                                   destinationPort: r.realPort, timeout: seconds)
        if r.isNAT && r.peerMAC != .zero { entry.peerMAC = r.peerMAC }
        return entry
    }

    /// The record a backup's worker installs for `entry`, and which worker owns it; or why not.
    public static func record(_ entry: SyncEntry, in directory: SyncDirectory)
        -> Result<(record: FlowRecord, worker: Int), SyncRefusal> {
        guard case .v4(let client, let virtual, let destination) = entry.addresses else { return .failure(.ipv6) }
        guard let method = entry.flags.forwarding, method == .masquerade || method == .directRoute else {
            return .failure(.method)
        }
        let key = SyncDirectory.RealKey(proto: entry.protocolNumber, virtual: virtual.value,
                                        virtualPort: entry.virtualPort, real: destination.value,
                                        realPort: entry.destinationPort)
        guard let real = directory.reals[key], real.nat == (method == .masquerade) else {
            return .failure(.unknownReal)
        }
        var flags: UInt8 = real.nat ? FlowFlags.nat : 0
        let state: FlowState
        if entry.isTemplate {
            flags |= FlowFlags.template
            state = .other
        } else {
            guard let s = entry.flowState else { return .failure(.state) }
            state = s
        }
        let record = FlowRecord(client: IPAddressBits(client), virtual: IPAddressBits(virtual),
                                real: IPAddressBits(destination),
                                clientPort: entry.isTemplate ? 0 : entry.clientPort, virtualPort: entry.virtualPort,
                                realPort: entry.destinationPort, proto: entry.protocolNumber, state: state, flags: flags,
                                interface: directory.vipInterface[virtual.value] ?? 0, peerMAC: entry.peerMAC ?? .zero,
                                expiresIn: entry.timeout &* 1_000, realID: real.id)
        let worker = directory.workers > 1
            ? FanoutProgram.worker(for: client.value, workers: directory.workers, clientMask: directory.clientMask) : 0
        return .success((record, worker))
    }
}
