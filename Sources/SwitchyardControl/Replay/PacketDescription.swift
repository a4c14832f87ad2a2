// switchyard explain's packet: protocol, addresses, ports, TCP flags and TTL as an operator
// writes them on the command line, built into the Ethernet frame the balancer would receive.

import SwitchyardCore

public struct PacketDescription: Sendable, Equatable {
    public var proto: UInt8
    public var source: IPv4Address
    public var sourcePort: UInt16
    public var destination: IPv4Address
    public var destinationPort: UInt16
    /// TCP flags (TCPFlags bits); ignored for UDP and ICMP.
    public var tcpFlags: UInt8 = TCPFlags.syn
    public var ttl: UInt8 = 64
    /// Bytes of payload (zeros) after the TCP or UDP header, or in the ICMP echo request.
    public var payloadLength = 0
    /// The MAC the frame comes from (the client's, or its router's).
    public var sourceMAC = MACAddress("02:00:00:00:00:fe")!

    public init(proto: UInt8, source: IPv4Address, sourcePort: UInt16, destination: IPv4Address,
                destinationPort: UInt16) {
        self.proto = proto
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
    }

    /// "tcp", "udp" or "icmp" (an echo request).
    public static func proto(named name: String) -> UInt8? {
        switch name.lowercased() {
        case "tcp": IPProtocol.tcp
        case "udp": IPProtocol.udp
        case "icmp": IPProtocol.icmp
        default: nil
        }
    }

    /// tcpdump's letters: S (SYN), A (ACK), F (FIN), R (RST), P (PSH), U (URG), E (ECE), W (CWR),
    /// or "." for a bare ACK. Nil for any other letter.
    public static func tcpFlags(_ letters: String) -> UInt8? {
        var flags: UInt8 = 0
        for letter in letters.uppercased() {
            switch letter {
            case "F": flags |= 0x01
            case "S": flags |= 0x02
            case "R": flags |= 0x04
            case "P": flags |= 0x08
            case "A", ".": flags |= 0x10
            case "U": flags |= 0x20
            case "E": flags |= 0x40
            case "W": flags |= 0x80
            default: return nil
            }
        }
        return flags
    }

    /// "198.18.0.10:40000" or, for ICMP, "198.18.0.10"; nil if it is neither.
    public static func endpoint(_ text: String, needsPort: Bool) -> (IPv4Address, UInt16)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard let address = IPv4Address(String(parts[0])) else { return nil }
        if parts.count == 1 { return needsPort ? nil : (address, 0) }
        guard parts.count == 2, let port = UInt16(parts[1]), port > 0 else { return nil }
        return (address, port)
    }

    /// The frame, addressed to `mac` (the balancer's interface), with every checksum complete.
    public func frame(to mac: MACAddress) -> [UInt8] {
        let l4Header = proto == IPProtocol.tcp ? 20 : 8
        let ipLength = 20 + l4Header + payloadLength
        var frame = [UInt8](repeating: 0, count: 14 + ipLength)
        frame.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            mac.store(to: p, at: 0)
            sourceMAC.store(to: p, at: 6)
            store16(p, 12, 0x0800)
            // IPv4: no options, DF, as a TCP stack sends.
            store32(p, 14, 0x4500_0000 | UInt32(ipLength))
            store32(p, 18, 0x0001_4000)
            p.storeBytes(of: ttl, toByteOffset: 22, as: UInt8.self)
            p.storeBytes(of: proto, toByteOffset: 23, as: UInt8.self)
            store32(p, 26, source.value)
            store32(p, 30, destination.value)
            store16(p, 24, InternetChecksum.checksum(p + 14, 20))
            let l4 = 34
            switch proto {
            case IPProtocol.tcp:
                store16(p, l4, sourcePort)
                store16(p, l4 + 2, destinationPort)
                store32(p, l4 + 4, 1)
                store32(p, l4 + 8, tcpFlags & 0x10 != 0 ? 1 : 0)
                store16(p, l4 + 12, 0x5000 | UInt16(tcpFlags))
                store16(p, l4 + 14, 64_240)
            case IPProtocol.udp:
                store16(p, l4, sourcePort)
                store16(p, l4 + 2, destinationPort)
                store16(p, l4 + 4, UInt16(8 + payloadLength))
            default:
                // ICMP echo request, identifier 1, sequence 1.
                store32(p, l4, 0x0800_0000)
                store32(p, l4 + 4, 0x0001_0001)
            }
            if proto == IPProtocol.icmp {
                store16(p, l4 + 2, InternetChecksum.checksum(p + l4, 8 + payloadLength))
            } else {
                var sum = InternetChecksum.sum(p + 26, 8)
                sum &+= UInt64(proto) &+ UInt64(l4Header + payloadLength)
                sum &+= InternetChecksum.sum(p + l4, l4Header + payloadLength)
                let checksum = ~InternetChecksum.fold(sum)
                store16(p, l4 + (proto == IPProtocol.tcp ? 16 : 6),
                        proto == IPProtocol.udp && checksum == 0 ? 0xFFFF : checksum)
            }
        }
        return frame
    }
}
