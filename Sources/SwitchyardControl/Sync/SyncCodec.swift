// Connection-sync messages to bytes and back, in IPVS's sync protocol version 1 as
// net/netfilter/ipvs/ip_vs_sync.c lays it out, so that a kernel LVS master can feed a Switchyard
// backup and the other way round. Pure: no sockets, no clock; the sender and receiver own those.
//
// A message (`struct ip_vs_sync_mesg`, 8 bytes, multi-byte fields big-endian):
//   0 reserved (0; version 0 put nr_conns here, so a version 0 backup drops us)
//   1 sync ID   2–3 size of the whole message, header included
//   4 nr_conns  5 version (1)   6–7 spare (0)
// then nr_conns entries, each starting on a 4-byte boundary (zero padding between entries, none
// after the last). An entry (`struct ip_vs_sync_v4`, 36 bytes; `ip_vs_sync_v6`, 72):
//   0 type (0 IPv4, 1 IPv6)   1 protocol   2–3 version (top 4 bits, 0) and size (low 12 bits,
//   options included, padding not)   4–7 flags   8–9 state   10 cport   12 vport   14 dport
//   16 fwmark   20 timeout in seconds   24 caddr, vaddr, daddr (4 or 16 bytes each)
// then options, each type (1 byte), length (1 byte, never 0), data: 1 sequence adjustment
// (24 bytes), 2 persistence engine data, 3 engine name; and Switchyard's own 0x50, the client's
// peer MAC (6 bytes). Type bit 0x40 marks an option a backup may ignore; an unknown one without
// it makes the backup skip the entry (so a kernel backup skips 0x50 and keeps the entry).
//
// Version 1 authenticates nothing: whoever can reach the sync port can install connections on a
// backup. Until an authenticated envelope wraps these bytes, a receiver must take messages only
// from its configured peer, on the sync interface.
import SwitchyardCore

/// Why a datagram was refused as a whole (a kernel backup drops the rest of such a buffer too;
/// see SyncSkipReason for entries skipped one at a time).
public enum SyncDecodeError: Error, Hashable, Sendable {
    /// Shorter than the 8-byte header.
    case short(length: Int)
    /// The header's size is not the datagram's length (truncated, or more than one message).
    case sizeMismatch(declared: Int, received: Int)
    /// Not a version 1 header: version byte not 1, or reserved or spare not zero. A kernel backup
    /// reads such a datagram as version 0, which we do not speak.
    case wrongVersion(version: UInt8, reserved: UInt8, spare: UInt16)
    /// nr_conns promises an entry where fewer bytes than an IPv4 entry are left.
    case entryTruncated(index: Int)
    /// The entry's size field runs past the end of the datagram.
    case entryOverrun(index: Int, size: Int)
    /// The entry's version nibble is not 0.
    case unknownEntryVersion(index: Int, version: UInt8)
    /// A type byte other than 0 (IPv4) or 1 (IPv6).
    case unknownEntryType(index: Int, type: UInt8)
    /// The entry's size is smaller than its fixed part.
    case entryTooShort(index: Int, size: Int)
    /// An option is malformed.
    case badOption(index: Int, problem: SyncOptionProblem)
    /// Bytes after the last entry (beyond the padding to a 4-byte boundary).
    case trailingBytes(count: Int)
}

public enum SyncOptionProblem: Hashable, Sendable {
    /// One byte left where an option's type and length should be.
    case truncatedHeader
    /// A zero length, or data running past the entry's size.
    case badLength(type: UInt8, length: Int)
    /// A sequence option whose length is not 24.
    case wrongSequenceLength(length: Int)
    /// The same option twice in one entry.
    case repeated(type: UInt8)
    /// An engine name longer than IP_VS_PENAME_MAXLEN.
    case tooLong(type: UInt8, length: Int)
}

public enum SyncCodec {
    public static let headerLength = 8
    /// Fixed parts of an entry: `sizeof(struct ip_vs_sync_v4)` and `sizeof(struct ip_vs_sync_v6)`.
    public static let ipv4EntryLength = 36
    public static let ipv6EntryLength = 72
    /// What a kernel master sends at most when no sync_maxlen is set: a 1500-byte MTU less the
    /// IPv4 and UDP headers (start_sync_thread).
    public static let defaultMaxLength = 1500 - 20 - 8
    /// The same when the sync group is IPv6 (its header is 40 bytes).
    public static let defaultMaxLengthOverIPv6 = 1500 - 40 - 8
    /// nr_conns is one byte.
    public static let maxEntriesPerMessage = 255

    static let optionSequence: UInt8 = 1       // IPVS_OPT_SEQ_DATA
    static let optionPersistenceData: UInt8 = 2 // IPVS_OPT_PE_DATA
    static let optionPersistenceName: UInt8 = 3 // IPVS_OPT_PE_NAME
    static let optionMayIgnore: UInt8 = 0x40    // IPVS_OPT_F_PARAM
    static let optionPeerMAC: UInt8 = 0x10      // Switchyard's, always sent with optionMayIgnore
    static let sequenceDataLength = 24          // two struct ip_vs_seq

    /// An entry's length on the wire, options included, padding not (its size field).
    public static func entryLength(_ entry: SyncEntry) -> Int {
        var length = entry.addresses.isIPv6 ? ipv6EntryLength : ipv4EntryLength
        if entry.sequence != nil { length += 2 + sequenceDataLength }
        if let pe = entry.persistence { length += 2 + pe.data.count + 2 + pe.engine.count }
        if entry.peerMAC != nil { length += 2 + 6 }
        return length
    }

    /// Packs entries into messages in order, as a kernel master fills its sync buffers: an entry
    /// goes into the current message if the message, its padding and the entry stay within
    /// `maxLength` (and nr_conns within 255), else it starts a new message. An entry larger than
    /// `maxLength` on its own still goes, alone. No entries, no messages.
    public static func encode(_ entries: some Sequence<SyncEntry>, syncID: UInt8,
                              maxLength: Int = defaultMaxLength) -> [[UInt8]] {
        let limit = min(maxLength, Int(UInt16.max))
        var messages: [[UInt8]] = []
        var current: [UInt8] = []
        var count = 0
        for entry in entries {
            let length = entryLength(entry)
            if count > 0 {
                let pad = (4 - current.count & 3) & 3
                if current.count + pad + length > limit || count == maxEntriesPerMessage {
                    messages.append(finish(current, count: count))
                    current = []
                    count = 0
                } else {
                    current.append(contentsOf: repeatElement(0, count: pad))
                }
            }
            if count == 0 {
                current.reserveCapacity(max(limit, headerLength + length))
                current += [0, syncID, 0, 0, 0, SyncProtocol.version, 0, 0]
            }
            append(entry, length: length, to: &current)
            count += 1
        }
        if count > 0 { messages.append(finish(current, count: count)) }
        return messages
    }

    /// Reads one datagram. Throws for what makes a kernel backup drop the datagram; lists in
    /// `skipped` the entries it would skip one by one. Stricter than the kernel in two places,
    /// both things a kernel master never sends: a type byte other than 0 or 1 is refused (the
    /// kernel reads any odd type as IPv6), and so are bytes after the last entry. And all or
    /// nothing: where the kernel installs the entries before a bad one, this refuses them all.
    public static func decode(_ bytes: [UInt8]) throws(SyncDecodeError) -> SyncMessage {
        guard bytes.count >= headerLength else { throw .short(length: bytes.count) }
        let declared = Int(be16(bytes, 2))
        guard declared == bytes.count else { throw .sizeMismatch(declared: declared, received: bytes.count) }
        let spare = be16(bytes, 6)
        guard bytes[0] == 0, bytes[5] == SyncProtocol.version, spare == 0 else {
            throw .wrongVersion(version: bytes[5], reserved: bytes[0], spare: spare)
        }
        var message = SyncMessage(syncID: bytes[1], entries: [])
        let count = Int(bytes[4])
        message.entries.reserveCapacity(count)
        var next = headerLength
        for index in 0..<count {
            let start = next
            guard start + ipv4EntryLength <= bytes.count else { throw .entryTruncated(index: index) }
            let versionSize = be16(bytes, start + 2)
            let size = Int(versionSize & 0x0FFF)
            guard start + size <= bytes.count else { throw .entryOverrun(index: index, size: size) }
            guard versionSize >> 12 == 0 else {
                throw .unknownEntryVersion(index: index, version: UInt8(versionSize >> 12))
            }
            switch try readEntry(bytes, at: start, size: size, index: index) {
            case .entry(let entry): message.entries.append(entry)
            case .skip(let reason): message.skipped.append(SyncSkippedEntry(index: index, reason: reason))
            }
            next = start + (size + 3) & ~3
        }
        if bytes.count > next { throw .trailingBytes(count: bytes.count - next) }
        return message
    }

    /// The same, from a buffer a socket filled.
    public static func decode(_ buffer: UnsafeRawBufferPointer) throws(SyncDecodeError) -> SyncMessage {
        try decode([UInt8](buffer))
    }

    // MARK: - Encoding

    private static func finish(_ message: [UInt8], count: Int) -> [UInt8] {
        var message = message
        message[2] = UInt8(truncatingIfNeeded: message.count >> 8)
        message[3] = UInt8(truncatingIfNeeded: message.count)
        message[4] = UInt8(count)
        return message
    }

    private static func append(_ entry: SyncEntry, length: Int, to out: inout [UInt8]) {
        out.append(entry.addresses.isIPv6 ? 1 : 0)
        out.append(entry.protocolNumber)
        put16(UInt16(length & 0x0FFF), &out)   // version 0 in the top four bits
        put32(entry.flags.rawValue, &out)
        put16(entry.state, &out)
        put16(entry.clientPort, &out)
        put16(entry.virtualPort, &out)
        put16(entry.destinationPort, &out)
        put32(entry.fwmark, &out)
        put32(entry.timeout, &out)
        switch entry.addresses {
        case .v4(let client, let virtual, let destination):
            for address in [client, virtual, destination] { put32(address.value, &out) }
        case .v6(let client, let virtual, let destination):
            for address in [client, virtual, destination] {
                put32(UInt32(truncatingIfNeeded: address.high >> 32), &out)
                put32(UInt32(truncatingIfNeeded: address.high), &out)
                put32(UInt32(truncatingIfNeeded: address.low >> 32), &out)
                put32(UInt32(truncatingIfNeeded: address.low), &out)
            }
        }
        if let sequence = entry.sequence {
            out += [optionSequence, UInt8(sequenceDataLength)]
            for adjustment in [sequence.incoming, sequence.outgoing] {
                put32(adjustment.initial, &out)
                put32(adjustment.delta, &out)
                put32(adjustment.previousDelta, &out)
            }
        }
        // Data before name, as the kernel sends them; SyncPersistenceData keeps both lengths in 1…255.
        if let pe = entry.persistence {
            out += [optionPersistenceData, UInt8(pe.data.count)] + pe.data
            out += [optionPersistenceName, UInt8(pe.engine.count)] + pe.engine
        }
        if let mac = entry.peerMAC {
            out += [optionPeerMAC | optionMayIgnore, 6]
            for shift in stride(from: 40, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: mac.bits >> UInt64(shift))) }
        }
    }

    // MARK: - Decoding

    private enum EntryOutcome {
        case entry(SyncEntry)
        case skip(SyncSkipReason)
    }

    /// One entry whose size the caller has checked to lie within the datagram.
    private static func readEntry(_ b: [UInt8], at start: Int, size: Int,
                                  index: Int) throws(SyncDecodeError) -> EntryOutcome {
        let type = b[start]
        guard type <= 1 else { throw .unknownEntryType(index: index, type: type) }
        let isIPv6 = type == 1
        let fixed = isIPv6 ? ipv6EntryLength : ipv4EntryLength
        guard size >= fixed else { throw .entryTooShort(index: index, size: size) }

        // Options first, as ip_vs_proc_sync_conn reads them: a malformed one drops the datagram,
        // an unknown mandatory one skips the entry without reading further.
        var sequence: SyncSequence?
        var peData: [UInt8]?
        var peName: [UInt8]?
        var peerMAC: MACAddress?
        let end = start + size
        var p = start + fixed
        while p < end {
            guard p + 2 <= end else { throw .badOption(index: index, problem: .truncatedHeader) }
            let optionType = b[p]
            let length = Int(b[p + 1])
            p += 2
            guard length > 0, p + length <= end else {
                throw .badOption(index: index, problem: .badLength(type: optionType, length: length))
            }
            switch optionType & ~optionMayIgnore {
            case optionSequence:
                guard length == sequenceDataLength else {
                    throw .badOption(index: index, problem: .wrongSequenceLength(length: length))
                }
                guard sequence == nil else { throw .badOption(index: index, problem: .repeated(type: optionType)) }
                sequence = SyncSequence(incoming: adjustment(b, p), outgoing: adjustment(b, p + 12))
            case optionPersistenceData:
                guard peData == nil else { throw .badOption(index: index, problem: .repeated(type: optionType)) }
                peData = Array(b[p..<p + length])
            case optionPersistenceName:
                guard length <= SyncProtocol.persistenceEngineMaxLength else {
                    throw .badOption(index: index, problem: .tooLong(type: optionType, length: length))
                }
                guard peName == nil else { throw .badOption(index: index, problem: .repeated(type: optionType)) }
                peName = Array(b[p..<p + length])
            case optionPeerMAC where length == 6 && optionType & optionMayIgnore != 0:
                guard peerMAC == nil else { throw .badOption(index: index, problem: .repeated(type: optionType)) }
                peerMAC = MACAddress(bits: b[p..<p + 6].reduce(0) { $0 << 8 | UInt64($1) })
            default:
                if optionType & optionMayIgnore == 0 { return .skip(.unknownMandatoryOption(type: optionType)) }
            }
            p += length
        }

        let flags = SyncFlags(rawValue: be32(b, start + 4))
        let state = be16(b, start + 8)
        let protocolNumber = b[start + 1]
        // A template's state is not checked (the kernel only logs a bad one); a connection's is,
        // for the protocols whose state count we know.
        if !flags.contains(.template) {
            let states = protocolNumber == SyncProtocol.tcp ? IPVSTCPState.count
                : protocolNumber == SyncProtocol.udp ? 1 : Int.max
            if Int(state) >= states { return .skip(.invalidState(protocolNumber: protocolNumber, state: state)) }
        }
        var persistence: SyncPersistenceData?
        if let data = peData {
            // Both lengths were checked above, so the initialiser cannot fail once a name is there.
            guard let name = peName, let pe = SyncPersistenceData(engine: name, data: data) else {
                return .skip(.persistenceDataWithoutEngine)
            }
            persistence = pe
        }
        let a = start + 24
        let addresses: SyncAddresses = isIPv6
            ? .v6(client: ipv6(b, a), virtual: ipv6(b, a + 16), destination: ipv6(b, a + 32))
            : .v4(client: IPv4Address(be32(b, a)), virtual: IPv4Address(be32(b, a + 4)),
                  destination: IPv4Address(be32(b, a + 8)))
        return .entry(SyncEntry(
            protocolNumber: protocolNumber, flags: flags, state: state, addresses: addresses,
            clientPort: be16(b, start + 10), virtualPort: be16(b, start + 12), destinationPort: be16(b, start + 14),
            fwmark: be32(b, start + 16), timeout: be32(b, start + 20), sequence: sequence, persistence: persistence,
            peerMAC: peerMAC))
    }

    private static func adjustment(_ b: [UInt8], _ at: Int) -> SyncSequenceAdjustment {
        SyncSequenceAdjustment(initial: be32(b, at), delta: be32(b, at + 4), previousDelta: be32(b, at + 8))
    }

    private static func ipv6(_ b: [UInt8], _ at: Int) -> SyncIPv6Address {
        SyncIPv6Address(high: UInt64(be32(b, at)) << 32 | UInt64(be32(b, at + 4)),
                        low: UInt64(be32(b, at + 8)) << 32 | UInt64(be32(b, at + 12)))
    }

    // MARK: - Big-endian fields

    private static func be16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) << 8 | UInt16(b[at + 1]) }

    private static func be32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    private static func put16(_ v: UInt16, _ out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }

    private static func put32(_ v: UInt32, _ out: inout [UInt8]) {
        put16(UInt16(truncatingIfNeeded: v >> 16), &out)
        put16(UInt16(truncatingIfNeeded: v), &out)
    }
}

extension SyncAddresses {
    var isIPv6: Bool {
        if case .v6 = self { return true }
        return false
    }
}
