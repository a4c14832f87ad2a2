// The bytes of a VRRP advert to send: the VRRP message alone (what an IPv6 raw socket sends), or
// the whole IPv4 packet for a raw socket with IP_HDRINCL, checksums included. The IP header is keepalived's, field for field, so
// that a capture of ours and of keepalived's differ only where the config does.
import SwitchyardCore

extension VRRPAdvert {
    /// The VRRP message, the IP payload. `source` and `destination` are the IP header's: version
    /// 3's pseudo-header names them, so with unicast peers each peer's copy has its own checksum.
    /// Version 2 always uses `.messageOnly`, whatever `form` says; over IPv6 (the addresses'
    /// family) it is always IPv6's pseudo-header.
    ///
    /// More than 255 addresses cannot be counted; the config reader refuses them, and the encoder
    /// sends the first 255 rather than stop the daemon.
    public func encodeMessage(source: IPv4Address, destination: IPv4Address, checksum form: VRRPChecksumForm) -> [UInt8] {
        encodeMessage(source: IPAddressBits(source), destination: IPAddressBits(destination), checksum: form)
    }

    public func encodeMessage(source: IPAddressBits, destination: IPAddressBits, checksum form: VRRPChecksumForm) -> [UInt8] {
        let sent = addresses.prefix(VRRP.maxAddresses)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.messageLength(version: version, addressCount: sent.count, ipv6: !destination.isV4))
        bytes.append(version << 4 | VRRP.advertisementType)
        bytes.append(virtualRouterID)
        bytes.append(priority)
        bytes.append(UInt8(sent.count))
        let interval = wireInterval
        if version == 2 {
            bytes.append(authentication.wireType)
            bytes.append(UInt8(truncatingIfNeeded: interval))
        } else {
            // The top 4 bits are reserved and sent as zero.
            bytes.append(UInt8(truncatingIfNeeded: interval >> 8))
            bytes.append(UInt8(truncatingIfNeeded: interval))
        }
        bytes += [0, 0]  // the checksum, computed with the field zero
        // Each address in the IP header's family (a mapped IPv4 address in an IPv6 advert is sent whole).
        for address in sent {
            if destination.isV4 {
                bytes.appendBigEndian(address.v4)
            } else {
                bytes.appendBigEndian(address.high)
                bytes.appendBigEndian(address.low)
            }
        }
        if version == 2 { bytes += authentication.wireBytes }

        let initial = destination.isV4 && version == 2 ? 0
            : VRRPChecksum.initialSum(destination.isV4 ? form : .pseudoHeader, source: source, destination: destination,
                                      length: bytes.count)
        let checksum = VRRPChecksum.checksum(bytes[...], initial: initial)
        bytes[6] = UInt8(checksum >> 8)
        bytes[7] = UInt8(checksum & 0xFF)
        return bytes
    }

    /// The whole IPv4 packet as keepalived builds it: IHL 5, TOS 0xC0 (internetwork control),
    /// no DF and no fragment offset, TTL 255, protocol 112, then the message. The kernel would fill
    /// the header checksum for an IP_HDRINCL socket anyway; we fill it so the bytes are complete.
    ///
    /// `identification`: keepalived counts it up per advert from 1 and skips 0 (the kernel would
    /// replace a 0 with its own); `VRRPAdvert.nextIdentification` does the same.
    public func encodePacket(source: IPv4Address, destination: IPv4Address, identification: UInt16,
                             checksum form: VRRPChecksumForm) -> [UInt8] {
        let message = encodeMessage(source: IPAddressBits(source), destination: IPAddressBits(destination), checksum: form)
        let total = 20 + message.count
        var header: [UInt8] = [0x45, VRRP.typeOfService, UInt8(total >> 8), UInt8(total & 0xFF),
                               UInt8(identification >> 8), UInt8(identification & 0xFF), 0, 0,
                               VRRP.ttl, VRRP.ipProtocol, 0, 0]
        header.appendBigEndian(source.value)
        header.appendBigEndian(destination.value)
        let checksum = VRRPChecksum.checksum(header[...], initial: 0)
        header[10] = UInt8(checksum >> 8)
        header[11] = UInt8(checksum & 0xFF)
        return header + message
    }

    /// The same, for addresses held as IPAddressBits (both IPv4).
    public func encodePacket(source: IPAddressBits, destination: IPAddressBits, identification: UInt16,
                             checksum form: VRRPChecksumForm) -> [UInt8] {
        encodePacket(source: IPv4Address(source.v4), destination: IPv4Address(destination.v4), identification: identification,
                     checksum: form)
    }

    /// The IP identification after `previous`: one more, skipping 0 as keepalived does.
    public static func nextIdentification(after previous: UInt16) -> UInt16 {
        previous == 0xFFFF ? 1 : previous + 1
    }
}

/// The Internet checksum (RFC 1071) as VRRP uses it, on byte arrays: SwitchyardCore's sum does the
/// arithmetic, this adds the pseudo-header choice.
enum VRRPChecksum {
    /// The sum the message's checksum starts from: nothing, or the pseudo-header of `form`.
    static func initialSum(_ form: VRRPChecksumForm, source: IPAddressBits, destination: IPAddressBits, length: Int) -> UInt64 {
        if !destination.isV4 {
            return InternetChecksum.pseudoHeaderSum6(source: source, destination: destination, nextHeader: VRRP.ipProtocol,
                                                     length: length)
        }
        switch form {
        case .messageOnly:
            return 0
        case .pseudoHeader:
            return InternetChecksum.pseudoHeaderSum(source: source.v4, destination: destination.v4,
                                                    protocol: VRRP.ipProtocol, length: length)
        case .pseudoHeaderToGroup:
            return InternetChecksum.pseudoHeaderSum(source: source.v4, destination: VRRP.multicastGroup.value,
                                                    protocol: VRRP.ipProtocol, length: length)
        }
    }

    /// The complement of the folded sum of `bytes` plus `initial`. Over bytes whose checksum field
    /// holds a correct checksum, this is 0.
    static func checksum(_ bytes: ArraySlice<UInt8>, initial: UInt64) -> UInt16 {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return ~InternetChecksum.fold(initial) }
            return InternetChecksum.checksum(base, raw.count, initial: initial)
        }
    }
}

extension [UInt8] {
    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8(value >> 16 & 0xFF))
        append(UInt8(value >> 8 & 0xFF))
        append(UInt8(value & 0xFF))
    }

    mutating func appendBigEndian(_ value: UInt64) {
        appendBigEndian(UInt32(value >> 32))
        appendBigEndian(UInt32(value & 0xFFFF_FFFF))
    }
}
