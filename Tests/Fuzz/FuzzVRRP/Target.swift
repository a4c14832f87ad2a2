// libFuzzer target: arbitrary bytes through the VRRP advert decoder, as a raw socket would hand
// a packet from the network over, in each receiving context: as an IPv4 packet, and as the
// message of an IPv6 one. Whatever decodes must encode back to bytes that decode to the same
// advert.
import SwitchyardControl
import SwitchyardCore

let contexts = [
    VRRPReceiveContext(delivery: .multicast),
    VRRPReceiveContext(delivery: .unicast),
    VRRPReceiveContext(delivery: .multicast, authentication: .password(text: "secret")),
]

/// libFuzzer's entry point. Exported by name, whichever main runs (libFuzzer's own, or the
/// Swift one in main.swift that calls LLVMFuzzerRunDriver).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let packet = Array(UnsafeBufferPointer(start: data, count: size))
    _ = VRRPAdvert.peekVirtualRouterID(packet)
    for context in contexts {
        let received: VRRPReceivedAdvert
        do {
            received = try VRRPAdvert.decode(packet, context: context)
        } catch {
            _ = error.description
            continue
        }
        let again = received.advert.encodePacket(source: received.source, destination: received.destination,
                                                 identification: 1, checksum: received.checksumForm)
        guard let back = try? VRRPAdvert.decode(again, context: context) else {
            fatalError("re-encoded advert does not decode: \(again)")
        }
        // Version 2 may arrive with interval 0, which we never send (at least 1 s): compare what
        // we send. (The checksum form is not compared: when a pseudo-header happens to sum to
        // zero, both forms give the same bytes and cannot be told apart.)
        var expected = received.advert
        if expected.version == 2 { expected.advertInterval = expected.wireInterval * 100 }
        precondition(back.advert == expected, "round trip changed \(expected) into \(back.advert)")
    }
    for context in contexts {
        let source = IPAddressBits(high: 0xFE80_0000_0000_0000, low: 1)
        let destination = context.delivery == .multicast ? VRRP.multicastGroup6 : IPAddressBits(high: 0x2001_0DB8_0000_0000, low: 2)
        guard let received = try? VRRPAdvert.decode6(packet, source: source, destination: destination, hopLimit: 255,
                                                     context: context) else { continue }
        let again = received.advert.encodeMessage(source: source, destination: destination, checksum: .pseudoHeader)
        guard let back = try? VRRPAdvert.decode6(again, source: source, destination: destination, hopLimit: 255, context: context) else {
            fatalError("re-encoded IPv6 advert does not decode: \(again)")
        }
        precondition(back.advert == received.advert, "IPv6 round trip changed \(received.advert) into \(back.advert)")
    }
    return 0
}
