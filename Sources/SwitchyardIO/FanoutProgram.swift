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
/// persistence, so a client network stays on one worker and its templates apply):
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

    /// The program for `workers` workers, these VIPs and a client mask. The kernel runs a
    /// fanout program on the packet as the stack holds it on receive: from the IP header on
    /// (the Ethernet header is already pulled, unlike for a socket filter), so offsets count
    /// from the IP header and the ethertype comes from skb->protocol.
    public static func build(vips: [IPv4Address], workers: Int, clientMask: UInt32 = 0xFFFF_FFFF) -> [BPFInstruction] {
        precondition(workers > 0 && vips.count < 200, "fanout program limits")
        func op(_ code: UInt16, _ k: UInt32 = 0, _ jt: UInt8 = 0, _ jf: UInt8 = 0) -> BPFInstruction {
            BPFInstruction(code: code, jt: jt, jf: jf, k: k)
        }
        let vipList = Array(Set(vips.map(\.value))).sorted()
        var p: [BPFInstruction] = []
        // Layout (n = number of VIPs); jump offsets count instructions after the jump.
        //  0        ldh [proto]              ethertype (skb->protocol)
        //  1        jeq 0x0800 ? 2 : RET0
        //  2        ld [16]                  destination
        //  3..3+n-1 jeq VIP_i ? TO_VIP : next
        //  3+n      ja HASH                  not to a VIP: hash the destination
        //  TO_VIP   ldb [9]; jeq 1 ? ICMP : SRC
        //  SRC      ld [12]; ja HASH
        //  ICMP     ldx 4*([0]&0xf); ld [x+24]   quoted destination (IHL + 8 + 16)
        //  HASH     and mask; mul; rsh 16; mod workers; ret a
        //  RET0     ret 0
        let n = vipList.count
        let toVIP = 3 + n + 1
        let src = toVIP + 2
        let icmp = src + 2
        let hash = icmp + 2
        let ret0 = hash + 5
        p.append(op(ldH, protocolLoad))
        p.append(op(jeq, 0x0800, 0, UInt8(ret0 - 2)))
        p.append(op(ldW, 16))
        for (i, v) in vipList.enumerated() {
            let here = 3 + i
            p.append(op(jeq, v, UInt8(toVIP - here - 1), 0))
        }
        p.append(op(ja, UInt32(hash - (3 + n) - 1)))
        p.append(op(ldB, 9))
        p.append(op(jeq, UInt32(IPProtocol.icmp), UInt8(icmp - (toVIP + 1) - 1), 0))
        p.append(op(ldW, 12))
        p.append(op(ja, UInt32(hash - (src + 1) - 1)))
        p.append(op(ldxMSH, 0))
        p.append(op(ldIndW, 24))
        p.append(op(andK, clientMask))
        p.append(op(mulK, 0x9E37_79B1))
        p.append(op(rshK, 16))
        p.append(op(modK, UInt32(workers)))
        p.append(op(retA))
        p.append(op(retK, 0))
        precondition(p.count == ret0 + 1)
        return p
    }

    /// The worker the program sends a client's packets to (its HASH step, in Swift): where
    /// connection sync installs a flow, so that the flow's packets find it.
    public static func worker(for client: UInt32, workers: Int, clientMask: UInt32 = 0xFFFF_FFFF) -> Int {
        precondition(workers > 0)
        return Int((((client & clientMask) &* 0x9E37_79B1) >> 16) % UInt32(workers))
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
