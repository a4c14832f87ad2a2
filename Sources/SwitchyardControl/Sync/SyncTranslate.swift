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
        public var virtual: IPAddressBits
        public var virtualPort: UInt16
        public var real: IPAddressBits
        public var realPort: UInt16
        public init(proto: UInt8, virtual: IPAddressBits, virtualPort: UInt16, real: IPAddressBits, realPort: UInt16) {
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
    public var vipInterface: [IPAddressBits: UInt8] = [:]
    public var clientMask: UInt32 = .max
    /// The fanout program's IPv6 prefix (the shortest persistence prefix of the IPv6 services).
    public var clientPrefix6 = 128
    public var workers = 1

    public init() {}
}

/// Why a received entry is not installed (counted by the receiver, never an error: the next
/// entry goes on).
public enum SyncRefusal: Error, Hashable, Sendable {
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
    /// in Switchyard's own option. IPv6 records as IPv6 entries (`STYPE_F_INET6`); nil for one
    /// whose addresses are of both families, which the wire cannot say (the engine makes none).
    public static func entry(_ r: FlowRecord) -> SyncEntry? {
        let addresses: SyncAddresses
        if let client = r.client.ipv4, let virtual = r.virtual.ipv4, let real = r.real.ipv4 {
            addresses = .v4(client: client, virtual: virtual, destination: real)
        } else if !r.client.isV4 && !r.virtual.isV4 && !r.real.isV4 {
            addresses = .v6(client: SyncIPv6Address(r.client), virtual: SyncIPv6Address(r.virtual),
                            destination: SyncIPv6Address(r.real))
        } else {
            return nil
        }
        let method: SyncForwarding = r.isNAT ? .masquerade : .directRoute
        let seconds = r.expiresIn / 1_000 + (r.expiresIn % 1_000 == 0 ? 0 : 1)
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
        let (client, virtual, destination) = entry.addresses.bits
        // An IPv6 entry in ::/64 (mapped or compatible forms) names no address the engine
        // forwards: the packet parser drops such packets, and a mapped one would pass for IPv4.
        if case .v6 = entry.addresses, [client, virtual, destination].contains(where: { $0.high == 0 }) {
            return .failure(.unknownReal)
        }
        guard let method = entry.flags.forwarding, method == .masquerade || method == .directRoute else {
            return .failure(.method)
        }
        let key = SyncDirectory.RealKey(proto: entry.protocolNumber, virtual: virtual,
                                        virtualPort: entry.virtualPort, real: destination,
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
        let record = FlowRecord(client: client, virtual: virtual, real: destination,
                                clientPort: entry.isTemplate ? 0 : entry.clientPort, virtualPort: entry.virtualPort,
                                realPort: entry.destinationPort, proto: entry.protocolNumber, state: state, flags: flags,
                                interface: directory.vipInterface[virtual] ?? 0, peerMAC: entry.peerMAC ?? .zero,
                                expiresIn: entry.timeout &* 1_000, realID: real.id)
        let worker = directory.workers <= 1 ? 0
            : client.isV4 ? FanoutProgram.worker(for: client.v4, workers: directory.workers, clientMask: directory.clientMask)
            : FanoutProgram.worker(for6: client, workers: directory.workers, clientPrefix6: directory.clientPrefix6)
        return .success((record, worker))
    }
}

extension SyncIPv6Address {
    public init(_ address: IPAddressBits) { self.init(high: address.high, low: address.low) }
    public var bits: IPAddressBits { IPAddressBits(high: high, low: low) }
}

extension SyncAddresses {
    /// Client, virtual and destination addresses as the engine holds them (IPv4 ones mapped).
    public var bits: (client: IPAddressBits, virtual: IPAddressBits, destination: IPAddressBits) {
        switch self {
        case .v4(let client, let virtual, let destination):
            (IPAddressBits(client), IPAddressBits(virtual), IPAddressBits(destination))
        case .v6(let client, let virtual, let destination):
            (client.bits, virtual.bits, destination.bits)
        }
    }
}
