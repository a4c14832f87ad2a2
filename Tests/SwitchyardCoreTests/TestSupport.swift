@testable import SwitchyardCore

func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = hex.startIndex
    while i < hex.endIndex {
        let j = hex.index(i, offsetBy: 2)
        out.append(UInt8(hex[i..<j], radix: 16)!)
        i = j
    }
    return out
}

func hex(_ b: [UInt8]) -> String { b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

let lbMAC = MACAddress("02:00:00:00:00:02")!
let rsMAC = MACAddress("02:00:00:00:00:11")!
let vip = IPv4Address("198.18.0.100")!

/// The services the golden fixtures expect: TCP VIP:80 and UDP VIP:53, one real server each.
func fixtureSnapshot() -> ForwardingSnapshot {
    ForwardingSnapshot(services: [
        ServiceSpec(id: 0, proto: IPProtocol.tcp, vip: vip, port: 80, scheduler: .maglev,
                    reals: [RealServerSpec(id: 0, address: IPv4Address("198.18.0.11")!, port: 80, weight: 1, mac: rsMAC)]),
        ServiceSpec(id: 1, proto: IPProtocol.udp, vip: vip, port: 53, scheduler: .roundRobin,
                    reals: [RealServerSpec(id: 1, address: IPv4Address("198.18.0.11")!, port: 53, weight: 1, mac: rsMAC)]),
    ], schedulingKey: .defaultScheduling, maglevTableSize: 251)
}

/// What a verdict sends: the frame as the pipeline left it, or for `.reply` the frame the
/// pipeline built (the received one is dropped).
func observed(_ verdict: Verdict, _ buffer: [UInt8], _ pipeline: borrowing Pipeline) -> [UInt8] {
    guard case .reply = verdict else { return buffer }
    return Array(UnsafeRawBufferPointer(start: pipeline.replyFrame, count: pipeline.replyLength))
}

/// Runs a frame through a pipeline and returns the verdict and the bytes afterwards.
/// `feed` as the worker does it: the flow hint worked out first, then passed in.
func feedHinted(_ pipeline: inout Pipeline, _ frame: [UInt8], ingress: Int = 0, pending: Bool = false, now: UInt32 = 0,
                snapshot: ForwardingSnapshot) -> (Verdict, [UInt8]) {
    var buffer = frame
    let verdict = buffer.withUnsafeMutableBytes { raw in
        let hint = pipeline.flowHint(raw.baseAddress!, length: raw.count, snapshot: snapshot.view)
        return pipeline.process(raw.baseAddress!, length: raw.count, ingress: ingress, checksumPending: pending,
                                now: now, snapshot: snapshot.view, hint: hint)
    }
    return (verdict, observed(verdict, buffer, pipeline))
}

func feed(_ pipeline: inout Pipeline, _ frame: [UInt8], pending: Bool = false, now: UInt32 = 0,
         snapshot: ForwardingSnapshot) -> (Verdict, [UInt8]) {
    var buffer = frame
    let verdict = buffer.withUnsafeMutableBytes { raw in
        pipeline.process(raw.baseAddress!, length: raw.count, checksumPending: pending, now: now,
                         snapshot: snapshot.view)
    }
    return (verdict, observed(verdict, buffer, pipeline))
}

/// A TCP SYN (or other flags) from client:port to dst:dport, built with the engine's own checksum
/// helpers (fine for behaviour tests; the golden fixtures check bytes with an independent oracle).
func tcpFrame(client: UInt32, port: UInt16, to dst: UInt32, dport: UInt16, flags: UInt8 = TCPFlags.syn,
              proto: UInt8 = IPProtocol.tcp, ttl: UInt8 = 64) -> [UInt8] {
    var f = [UInt8](repeating: 0, count: 14 + 20 + 20)
    f.withUnsafeMutableBytes { raw in
        let p = raw.baseAddress!
        lbMAC.store(to: p, at: 0)
        MACAddress("02:00:00:00:00:0a")!.store(to: p, at: 6)
        store16(p, 12, 0x0800)
        p.storeBytes(of: 0x45, toByteOffset: 14, as: UInt8.self)
        store16(p, 16, proto == IPProtocol.udp ? 28 : 40)
        p.storeBytes(of: ttl, toByteOffset: 22, as: UInt8.self)
        p.storeBytes(of: proto, toByteOffset: 23, as: UInt8.self)
        store32(p, 26, client)
        store32(p, 30, dst)
        store16(p, 24, InternetChecksum.checksum(p + 14, 20))
        store16(p, 34, port)
        store16(p, 36, dport)
        if proto == IPProtocol.udp {
            store16(p, 38, 8)
        } else {
            p.storeBytes(of: 0x50, toByteOffset: 46, as: UInt8.self)
            p.storeBytes(of: flags, toByteOffset: 47, as: UInt8.self)
        }
    }
    return proto == IPProtocol.udp ? Array(f.prefix(14 + 28)) : f
}
