// Neighbour discovery for the VIPs (RFC 4861), as bytes: a solicitation checked as §7.1.1
// asks, the advertisement that answers it (§7.2.4), and the one that announces a VIP unasked
// (§7.2.6), as ARP's request, reply and gratuitous ARP are for IPv4; and for real servers, the
// solicitation that asks for one and the advertisement that answers. Pure: the I/O layer
// captures and sends.
//
//  Ethernet | IPv6 (hop limit 255, next header 58) | ICMPv6 135/136
//  ICMPv6 NS/NA:  type(1) code(1) checksum(2) | flags(4: NA's R S O in the top bits) |
//                 target address(16) | options: type(1) length(1, in 8 bytes) data
//                 (1: source link-layer address, 2: target link-layer address)

public enum NeighborDiscovery {
    static let solicitationType: UInt8 = 135
    static let advertisementType: UInt8 = 136
    static let sourceLinkLayerOption: UInt8 = 1
    static let targetLinkLayerOption: UInt8 = 2
    /// The advertisement's flags word: S (solicited) and O (override); R (router) stays 0.
    static let solicitedFlag: UInt32 = 0x4000_0000
    static let overrideFlag: UInt32 = 0x2000_0000
    static let routerFlag: UInt32 = 0x8000_0000
    /// ff02::1, all nodes on the link, and its MAC 33:33:00:00:00:01 (RFC 2464 §7).
    public static let allNodes = IPAddressBits(high: 0xFF02_0000_0000_0000, low: 1)
    /// The length of every advertisement built here: Ethernet, IPv6 and a 32-byte NA.
    public static let advertisementLength = 14 + 40 + 32

    /// A neighbour solicitation that passed RFC 4861 §7.1.1's checks.
    public struct Solicitation: Equatable, Sendable {
        /// The address asked for.
        public var target: IPAddressBits
        /// The asker's address; :: for duplicate address detection.
        public var source: IPAddressBits
        /// Where an answer goes: the source link-layer option's address, else the frame's.
        public var replyMAC: MACAddress

        public var isDuplicateAddressDetection: Bool { source == .zero }
    }

    /// The solicitation in an untagged Ethernet frame of `length` bytes, or nil if it is none or
    /// fails a check: hop limit 255, ICMPv6 checksum, code 0, at least 24 bytes, a target that is
    /// not multicast, no option of length 0, and from :: only to a solicited-node multicast
    /// address and without a source link-layer option.
    public static func solicitation(_ frame: UnsafeMutableRawPointer, length: Int) -> Solicitation? {
        guard let l4 = icmpMessage(frame, length: length, type: solicitationType) else { return nil }
        let icmpLength = Int(load16(frame, 18))
        let source = IPAddressBits.load(frame, 22)
        let destination = IPAddressBits.load(frame, 38)
        let target = IPAddressBits.load(frame, l4 + 8)
        guard target.high >> 56 != 0xFF else { return nil }
        var replyMAC = MACAddress(bits: load48(frame, 6))
        var sawSourceOption = false
        var option = l4 + 24
        while option + 2 <= l4 + icmpLength {
            let units = Int(frame.load(fromByteOffset: option + 1, as: UInt8.self))
            guard units > 0, option + units * 8 <= l4 + icmpLength else { return nil }
            if frame.load(fromByteOffset: option, as: UInt8.self) == sourceLinkLayerOption && units == 1 {
                replyMAC = MACAddress(bits: load48(frame, option + 2))
                sawSourceOption = true
            }
            option += units * 8
        }
        if source == .zero {
            // ff02::1:ffXX:XXXX, the solicited-node address (RFC 4291 §2.7.1).
            let solicitedNode = destination.high == 0xFF02_0000_0000_0000
                && destination.low >> 24 == 0x0000_0001_FF
            guard solicitedNode, !sawSourceOption else { return nil }
        }
        return Solicitation(target: target, source: source, replyMAC: replyMAC)
    }

    /// What a neighbour's advertisement says: `target` is at `mac`.
    public struct Advertisement: Equatable, Sendable {
        public var target: IPAddressBits
        public var mac: MACAddress
    }

    /// The advertisement in an untagged Ethernet frame of `length` bytes, or nil if it is none,
    /// fails §7.1.2's checks (hop limit 255, checksum, code 0, at least 24 bytes, a target that
    /// is not multicast, no option of length 0) or carries no target link-layer option (there is
    /// then nothing to learn).
    public static func advertisement(_ frame: UnsafeMutableRawPointer, length: Int) -> Advertisement? {
        guard let l4 = icmpMessage(frame, length: length, type: advertisementType) else { return nil }
        let target = IPAddressBits.load(frame, l4 + 8)
        guard target.high >> 56 != 0xFF else { return nil }
        var mac: MACAddress?
        let end = l4 + Int(load16(frame, 18))
        var option = l4 + 24
        while option + 2 <= end {
            let units = Int(frame.load(fromByteOffset: option + 1, as: UInt8.self))
            guard units > 0, option + units * 8 <= end else { return nil }
            if frame.load(fromByteOffset: option, as: UInt8.self) == targetLinkLayerOption && units == 1 {
                mac = MACAddress(bits: load48(frame, option + 2))
            }
            option += units * 8
        }
        return mac.map { Advertisement(target: target, mac: $0) }
    }

    /// The offset of a valid ICMPv6 message of `type` (hop limit 255, code 0, checksum right,
    /// 24 bytes at least) in an untagged Ethernet frame, or nil.
    static func icmpMessage(_ frame: UnsafeMutableRawPointer, length: Int, type: UInt8) -> Int? {
        guard length >= 14 + 40 + 24, load16(frame, 12) == PacketParser.etherTypeIPv6,
              frame.load(fromByteOffset: 14, as: UInt8.self) >> 4 == 6,
              frame.load(fromByteOffset: 20, as: UInt8.self) == IPv6Header.icmpv6,
              frame.load(fromByteOffset: 21, as: UInt8.self) == 255
        else { return nil }
        let icmpLength = Int(load16(frame, 18))
        let l4 = 14 + 40
        guard icmpLength >= 24, l4 + icmpLength <= length,
              frame.load(fromByteOffset: l4, as: UInt8.self) == type,
              frame.load(fromByteOffset: l4 + 1, as: UInt8.self) == 0
        else { return nil }
        let pseudo = InternetChecksum.pseudoHeaderSum6(source: IPAddressBits.load(frame, 22),
                                                       destination: IPAddressBits.load(frame, 38),
                                                       nextHeader: IPv6Header.icmpv6, length: icmpLength)
        guard InternetChecksum.fold(InternetChecksum.sum(frame + l4, icmpLength, initial: pseudo)) == 0xFFFF
        else { return nil }
        return l4
    }

    /// ff02::1:ffXX:XXXX, the solicited-node multicast address of `address` (RFC 4291 §2.7.1).
    public static func solicitedNode(_ address: IPAddressBits) -> IPAddressBits {
        IPAddressBits(high: 0xFF02_0000_0000_0000, low: 0x0000_0001_FF00_0000 | (address.low & 0xFF_FFFF))
    }

    /// The Ethernet multicast address of an IPv6 multicast address: 33:33 and its last 32 bits
    /// (RFC 2464 §7).
    public static func multicastMAC(_ group: IPAddressBits) -> MACAddress {
        MACAddress(bits: 0x3333_0000_0000 | (group.low & 0xFFFF_FFFF))
    }

    /// Writes into `out` (`advertisementLength` bytes: a solicitation is as long) a solicitation
    /// for `target` from `source` (the interface's link-local address) at `mac`, to the target's
    /// solicited-node address, with a source link-layer option (§7.2.2).
    public static func solicit(target: IPAddressBits, source: IPAddressBits, mac: MACAddress,
                               into out: UnsafeMutableRawPointer) {
        let group = solicitedNode(target)
        write(into: out, type: solicitationType, from: source, to: group, toMAC: multicastMAC(group),
              target: target, mac: mac, flags: 0, option: sourceLinkLayerOption)
    }

    /// Writes into `out` (`advertisementLength` bytes) the advertisement of `target` at `mac`
    /// that answers `s`: to the asker, solicited and override set; to all nodes, solicited clear,
    /// when the asker was doing duplicate address detection (§7.2.4).
    public static func answer(_ s: Solicitation, target: IPAddressBits, mac: MACAddress,
                              into out: UnsafeMutableRawPointer) {
        if s.isDuplicateAddressDetection {
            write(into: out, type: advertisementType, from: target, to: allNodes, toMAC: allNodesMAC,
                  target: target, mac: mac, flags: overrideFlag, option: targetLinkLayerOption)
        } else {
            write(into: out, type: advertisementType, from: target, to: s.source, toMAC: s.replyMAC,
                  target: target, mac: mac, flags: solicitedFlag | overrideFlag, option: targetLinkLayerOption)
        }
    }

    /// Writes into `out` (`advertisementLength` bytes) an unsolicited advertisement of `target`
    /// at `mac` to all nodes, override set, as a VIP coming up or moving here sends (§7.2.6).
    /// `router`: the router flag too, for an address hosts route through (a VRRP gateway address
    /// on an interface that forwards, as keepalived sets it): a host that sees it clear takes the
    /// address off its default router list (§7.2.5).
    public static func announcement(target: IPAddressBits, mac: MACAddress, router: Bool = false, into out: UnsafeMutableRawPointer) {
        write(into: out, type: advertisementType, from: target, to: allNodes, toMAC: allNodesMAC,
              target: target, mac: mac, flags: overrideFlag | (router ? routerFlag : 0), option: targetLinkLayerOption)
    }

    static let allNodesMAC = MACAddress(bits: 0x3333_0000_0001)

    /// An NS or NA of 32 bytes: header, flags, target and one link-layer option (`mac`).
    private static func write(into out: UnsafeMutableRawPointer, type: UInt8, from source: IPAddressBits,
                              to destination: IPAddressBits, toMAC: MACAddress,
                              target: IPAddressBits, mac: MACAddress, flags: UInt32, option: UInt8) {
        toMAC.store(to: out, at: 0)
        mac.store(to: out, at: 6)
        store16(out, 12, PacketParser.etherTypeIPv6)
        store32(out, 14, 0x6000_0000)
        store16(out, 18, 32)
        out.storeBytes(of: IPv6Header.icmpv6, toByteOffset: 20, as: UInt8.self)
        out.storeBytes(of: 255, toByteOffset: 21, as: UInt8.self)
        source.store(out, 22)
        destination.store(out, 38)
        let l4 = 54
        store32(out, l4, UInt32(type) << 24)
        store32(out, l4 + 4, flags)
        target.store(out, l4 + 8)
        out.storeBytes(of: option, toByteOffset: l4 + 24, as: UInt8.self)
        out.storeBytes(of: 1, toByteOffset: l4 + 25, as: UInt8.self)
        mac.store(to: out, at: l4 + 26)
        let pseudo = InternetChecksum.pseudoHeaderSum6(source: source, destination: destination,
                                                       nextHeader: IPv6Header.icmpv6, length: 32)
        store16(out, l4 + 2, InternetChecksum.checksum(out + l4, 32, initial: pseudo))
    }
}
