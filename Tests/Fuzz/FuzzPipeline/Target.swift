// libFuzzer target: arbitrary bytes through the packet pipeline, DR and NAT, IPv4 and IPv6
// (services of both families in each snapshot), both directions, and through the neighbour
// discovery parsers,
// with state kept across inputs (flows, reply mappings, persistence templates), so replies and
// ICMP errors can meet the flows earlier inputs made. Frames the pipeline forwards larger than
// the MTU go through the TCP segmenter, as the worker does.
//
// Input: byte 0 picks the snapshot (bit 0: NAT), the ingress (bit 1) and checksumPending
// (bit 2); byte 1 advances the clock; the rest is the frame.
import Glibc
import SwitchyardCore

nonisolated(unsafe) var pipeline = Pipeline(PipelineConfig(
    interfaceMACs: [MACAddress(bits: 0x02), MACAddress(bits: 0x03)], mtu: 1500, flowCapacity: 4096,
    flowHashKey: HashKey(k0: 1, k1: 2)))
nonisolated(unsafe) var segmenter = TCPSegmenter()
nonisolated(unsafe) var clock: UInt32 = 0

func snapshot(_ method: ForwardingMethod) -> ForwardingSnapshot {
    let vip = IPv4Address("198.18.1.100")!
    let reals = { (base: UInt32) in
        [RealServerSpec(id: base, address: IPv4Address("198.18.2.11")!, port: 8080, weight: 1, mac: MACAddress(bits: 0x21), interface: 1),
         RealServerSpec(id: base + 1, address: IPv4Address("198.18.2.12")!, port: 8080, weight: 0, mac: MACAddress(bits: 0x22), interface: 1)]
    }
    // IPv6 beside them: the NAT66 fixtures' VIP and real servers.
    let vip6 = IPAddressBits(ipv6: "2001:db8:1::100")!
    let reals6 = { (base: UInt32) in
        [RealServerSpec(id: base, address: IPAddressBits(ipv6: "2001:db8:2::11")!, port: 8080, weight: 1,
                        mac: MACAddress(bits: 0x21), interface: 1),
         RealServerSpec(id: base + 1, address: IPAddressBits(ipv6: "2001:db8:2::12")!, port: 8080, weight: 1,
                        mac: MACAddress(bits: 0x22), interface: 1)]
    }
    return ForwardingSnapshot(services: [
        ServiceSpec(id: 0, proto: IPProtocol.tcp, vip: vip, port: 80, scheduler: .maglev, method: method,
                    persistenceTimeout: 30, persistenceMask: 0xFFFF_FF00, reals: reals(0)),
        ServiceSpec(id: 1, proto: IPProtocol.udp, vip: vip, port: 53, scheduler: .weightedLeastConnection, method: method,
                    reals: reals(2)),
        ServiceSpec(id: 2, proto: IPProtocol.tcp, vip: vip6, port: 80, scheduler: .maglev, method: method,
                    persistenceTimeout: 30, persistenceMask: .prefixMask(64), reals: reals6(4)),
        ServiceSpec(id: 3, proto: IPProtocol.udp, vip: vip6, port: 53, scheduler: .roundRobin, method: method,
                    persistenceMask: .prefixMask(128), reals: reals6(6)),
    ], schedulingKey: .defaultScheduling, maglevTableSize: 251)
}
let dr = snapshot(.dr)
let nat = snapshot(.nat)

/// libFuzzer's entry point. Exported by name, whichever main runs (libFuzzer's own, or the
/// Swift one in main.swift that calls LLVMFuzzerRunDriver).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let control = data[0]
    clock &+= UInt32(data[1]) * 100
    let length = size - 2
    // An exactly-sized copy, so AddressSanitizer sees any read past the frame.
    let frame = UnsafeMutableRawPointer.allocate(byteCount: max(length, 1), alignment: 8)
    defer { frame.deallocate() }
    frame.copyMemory(from: data + 2, byteCount: length)
    // The neighbour responder's parsers read the same kind of frame (before the pipeline
    // rewrites it).
    if let s = NeighborDiscovery.solicitation(frame, length: length) {
        precondition(s.target.high >> 56 != 0xFF, "a multicast target taken")
    }
    if let a = NeighborDiscovery.advertisement(frame, length: length) {
        precondition(a.target.high >> 56 != 0xFF, "a multicast target taken")
    }
    let verdict = pipeline.process(frame, length: length, ingress: Int(control >> 1 & 1),
                                   checksumPending: control & 4 != 0, now: clock,
                                   snapshot: (control & 1 == 0 ? dr : nat).view)
    if case .forward(let egress) = verdict {
        precondition(egress == 0 || egress == 1, "egress \(egress) is not an interface")
        if length > 1514 { _ = segmenter.segment(frame, length: length, mtu: 1500) }
    }
    if case .reply(let egress) = verdict {
        precondition(egress == 0 || egress == 1, "reply egress \(egress) is not an interface")
        precondition(pipeline.replyLength >= 14 + 20 + 8 + 28 && pipeline.replyLength <= Pipeline.replyCapacity,
                     "reply of \(pipeline.replyLength) bytes")
    }
    return 0
}
