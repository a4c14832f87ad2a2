// The classic BPF program that spreads frames over the workers' fanout group, so that both
// directions of a flow meet the same worker.

import SwitchyardCore

/// One classic BPF instruction, laid out as the kernel's struct sock_filter.
public struct BPFInstruction: Equatable, Sendable {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32
}

/// The program that spreads packets over the workers (PACKET_FANOUT_CBPF).
///
/// A NAT flow's two directions carry different 5-tuples (client → VIP, RIP → client), so the
/// kernel's flow hash would hand them to different workers, whose flow tables do not know each
/// other. This program hashes what both directions share, the client's address (masked for
/// persistence, so a client network stays on one worker and its templates apply; for IPv6, one
/// 32-bit word of it: the last, or the one a persistence prefix ends in):
///   - to a VIP: the source, or for an ICMP error the quoted packet's destination;
///   - anything else (a real server's reply, or its ICMP error): the destination.
public enum FanoutProgram {
    // Classic BPF opcodes (linux/filter.h).
    static let ldH: UInt16 = 0x28, ldW: UInt16 = 0x20, ldB: UInt16 = 0x30, ldIndW: UInt16 = 0x40
    static let ldxMSH: UInt16 = 0xB1, jeq: UInt16 = 0x15, ja: UInt16 = 0x05
    static let andK: UInt16 = 0x54, mulK: UInt16 = 0x24, rshK: UInt16 = 0x74, modK: UInt16 = 0x94
    static let retA: UInt16 = 0x16, retK: UInt16 = 0x06

    /// skb->protocol as an ancillary load (SKF_AD_OFF + SKF_AD_PROTOCOL): the ethertype.
    static let protocolLoad: UInt32 = 0xFFFF_F000

    /// The program for `workers` workers, these VIPs (of either family) and a client mask. The
    /// kernel runs a fanout program on the packet as the stack holds it on receive: from the IP
    /// header on (the Ethernet header is already pulled, unlike for a socket filter), so offsets
    /// count from the IP header and the ethertype comes from skb->protocol. An IPv6 client is
    /// hashed by one 32-bit word of its address: the last within `clientPrefix6` (the shortest
    /// persistence prefix of the IPv6 services, 128 without), masked to the prefix, so a
    /// persistent client network stays on one worker as an IPv4 one does by `clientMask`.
    public static func build(vips: [IPAddressBits], workers: Int, clientMask: UInt32 = 0xFFFF_FFFF,
                             clientPrefix6: Int = 128) -> [BPFInstruction] {
        let v4 = Array(Set(vips.compactMap(\.ipv4).map(\.value))).sorted()
        let v6 = Array(Set(vips.filter { !$0.isV4 })).sorted()
        precondition(workers > 0 && limitError(v4: v4.count, v6: v6.count) == nil, "fanout program limits")
        func op(_ code: UInt16, _ k: UInt32 = 0, _ jt: Int = 0, _ jf: Int = 0) -> BPFInstruction {
            BPFInstruction(code: code, jt: UInt8(jt), jf: UInt8(jf), k: k)
        }
        // Layout (n = IPv4 VIPs, m = IPv6 VIPs); a jump's offset counts instructions after it.
        //  0        ldh [proto]              ethertype (skb->protocol)
        //  1        jeq 0x0800 ? 2 : V6
        //  2        ld [16]                  destination
        //  3..3+n-1 jeq VIP_i ? TO_VIP : next
        //  3+n      ja HASH                  not to a VIP: hash the destination
        //  TO_VIP   ldb [9]; jeq 1 ? ICMP : SRC
        //  SRC      ld [12]; ja HASH
        //  ICMP     ldx 4*([0]&0xf); ld [x+24]; ja HASH   quoted destination (IHL + 8 + 16)
        //  V6       jeq 0x86DD ? next : RET0
        //           per VIP: ld [24]; jeq w0; ld [28]; jeq w1; ld [32]; jeq w2; ld [36]; jeq w3 ? TO_VIP6
        //           (each jeq on a mismatch to the next VIP's first load)
        //           ld [24+4w]; ja AND6        not to a VIP: the destination's word w
        //  TO_VIP6  ldb [6]; jeq 58 ? ICMP6 : SRC6
        //  SRC6     ld [8+4w]; ja AND6         the source's word w
        //  ICMP6    ld [72+4w]                 the quoted destination's word w (40 + 8 + 24)
        //  AND6     and mask6; ja MUL
        //  HASH     and mask
        //  MUL      mul; rsh 16; mod workers; ret a
        //  RET0     ret 0
        let n = v4.count, m = v6.count
        let (word, mask6) = word6(clientPrefix6)
        let w = UInt32(word)
        let toVIP = 3 + n + 1
        let icmp = toVIP + 4
        let ipv6 = icmp + 3
        let miss6 = ipv6 + 1 + 8 * m
        let toVIP6 = miss6 + 2
        let icmp6 = toVIP6 + 4
        let and6 = icmp6 + 1
        let hash = and6 + 2
        let mul = hash + 1
        let ret0 = hash + 5
        var p: [BPFInstruction] = []
        func jumpTo(_ target: Int) -> Int { target - p.count - 1 }
        p.append(op(ldH, protocolLoad))
        p.append(op(jeq, 0x0800, 0, jumpTo(ipv6)))
        p.append(op(ldW, 16))
        for v in v4 { p.append(op(jeq, v, jumpTo(toVIP), 0)) }
        p.append(op(ja, UInt32(jumpTo(hash))))
        p.append(op(ldB, 9))
        p.append(op(jeq, UInt32(IPProtocol.icmp), jumpTo(icmp), 0))
        p.append(op(ldW, 12))
        p.append(op(ja, UInt32(jumpTo(hash))))
        p.append(op(ldxMSH, 0))
        p.append(op(ldIndW, 24))
        p.append(op(ja, UInt32(jumpTo(hash))))
        precondition(p.count == ipv6)
        p.append(op(jeq, 0x86DD, 0, jumpTo(ret0)))
        for v in v6 {
            let next = p.count + 8
            let words = [UInt32(v.high >> 32), UInt32(truncatingIfNeeded: v.high), UInt32(v.low >> 32),
                         UInt32(truncatingIfNeeded: v.low)]
            for (i, w) in words.enumerated() {
                p.append(op(ldW, UInt32(24 + 4 * i)))
                p.append(op(jeq, w, i == 3 ? jumpTo(toVIP6) : 0, jumpTo(next)))
            }
        }
        precondition(p.count == miss6)
        p.append(op(ldW, 24 + 4 * w))
        p.append(op(ja, UInt32(jumpTo(and6))))
        p.append(op(ldB, 6))
        p.append(op(jeq, 58, jumpTo(icmp6), 0))  // ICMPv6
        p.append(op(ldW, 8 + 4 * w))
        p.append(op(ja, UInt32(jumpTo(and6))))
        p.append(op(ldW, 72 + 4 * w))
        p.append(op(andK, mask6))
        p.append(op(ja, UInt32(jumpTo(mul))))
        precondition(p.count == hash)
        p.append(op(andK, clientMask))
        p.append(op(mulK, 0x9E37_79B1))
        p.append(op(rshK, 16))
        p.append(op(modK, UInt32(workers)))
        p.append(op(retA))
        p.append(op(retK, 0))
        precondition(p.count == ret0 + 1)
        return p
    }

    /// Why the program cannot hold this many VIPs (its conditional jumps reach 255 instructions
    /// at most), or nil if it can: the engine refuses such a config rather than build it.
    public static func limitError(v4: Int, v6: Int) -> String? {
        guard v4 >= 200 || v6 >= 30 else { return nil }
        return "\(v4) IPv4 and \(v6) IPv6 VIPs: the fanout program holds at most 199 IPv4 and 29 IPv6 VIPs"
    }

    /// The worker the program sends a client's packets to (its HASH step, in Swift): where
    /// connection sync installs a flow, so that the flow's packets find it.
    public static func worker(for client: UInt32, workers: Int, clientMask: UInt32 = 0xFFFF_FFFF) -> Int {
        precondition(workers > 0)
        return Int((((client & clientMask) &* 0x9E37_79B1) >> 16) % UInt32(workers))
    }

    /// The same for an IPv6 client (SRC6, AND6 and MUL): the word of its address that
    /// `clientPrefix6` ends in, masked to the prefix.
    public static func worker(for6 client: IPAddressBits, workers: Int, clientPrefix6: Int = 128) -> Int {
        let (w, mask) = word6(clientPrefix6)
        let word = UInt32(truncatingIfNeeded: (w < 2 ? client.high : client.low) >> (w % 2 == 0 ? 32 : 0))
        return worker(for: word, workers: workers, clientMask: mask)
    }

    /// Which 32-bit word of an IPv6 address the program hashes for a prefix, and its mask.
    static func word6(_ clientPrefix6: Int) -> (word: Int, mask: UInt32) {
        let prefix = min(max(clientPrefix6, 1), 128)
        let w = (prefix - 1) / 32
        let bits = prefix - 32 * w
        return (w, bits == 32 ? UInt32.max : ~(UInt32.max >> UInt32(bits)))
    }

    /// Runs the program on an Ethernet frame as the kernel's fanout would (for tests; supports
    /// only the opcodes `build` emits): the packet seen from the IP header on, the ethertype as
    /// skb->protocol. Out-of-bounds loads end the program with 0, like the kernel's.
    public static func run(_ program: [BPFInstruction], on frame: [UInt8]) -> UInt32 {
        guard frame.count >= 14 else { return 0 }
        let packet = Array(frame[14...])
        let ethertype = UInt32(frame[12]) << 8 | UInt32(frame[13])
        var a: UInt32 = 0
        var x: UInt32 = 0
        var pc = 0
        func word(_ o: Int, _ size: Int) -> UInt32? {
            if o == Int(protocolLoad) && size == 2 { return ethertype }
            guard o >= 0, o + size <= packet.count else { return nil }
            return packet[o..<(o + size)].reduce(0) { $0 << 8 | UInt32($1) }
        }
        while pc < program.count {
            let i = program[pc]
            pc += 1
            switch i.code {
            case ldH: guard let v = word(Int(i.k), 2) else { return 0 }; a = v
            case ldW: guard let v = word(Int(i.k), 4) else { return 0 }; a = v
            case ldB: guard let v = word(Int(i.k), 1) else { return 0 }; a = v
            case ldIndW: guard let v = word(Int(x) + Int(i.k), 4) else { return 0 }; a = v
            case ldxMSH: guard let v = word(Int(i.k), 1) else { return 0 }; x = (v & 0xF) * 4
            case jeq: pc += Int(a == i.k ? i.jt : i.jf)
            case ja: pc += Int(i.k)
            case andK: a &= i.k
            case mulK: a = a &* i.k
            case rshK: a >>= i.k
            case modK: a %= i.k
            case retA: return a
            case retK: return i.k
            default: preconditionFailure("opcode \(i.code) not emitted by build")
            }
        }
        return 0
    }
}
