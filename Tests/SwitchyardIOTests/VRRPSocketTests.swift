// The VRRP socket moves whole IPv4 packets of protocol 112: what one socket sends with its own
// header (TTL 255) another receives with that header. Loopback only; needs root (raw sockets).
import Glibc
import XCTest
@testable import SwitchyardCore
@testable import SwitchyardIO

final class VRRPSocketTests: XCTestCase {
    /// A minimal IPv4 header for protocol 112 from and to 127.0.0.1, then `payload`.
    func packet(_ payload: [UInt8], ttl: UInt8 = 255) -> [UInt8] {
        let length = 20 + payload.count
        var p: [UInt8] = [0x45, 0xC0, UInt8(length >> 8), UInt8(length & 0xFF), 0, 0, 0, 0, ttl, 112, 0, 0,
                          127, 0, 0, 1, 127, 0, 0, 1]
        let sum = p.withUnsafeBytes { InternetChecksum.checksum($0.baseAddress!, 20) }
        p[10] = UInt8(sum >> 8)
        p[11] = UInt8(sum & 0xFF)
        return p + payload
    }

    func testAPacketGoesOutWithItsOwnHeaderAndComesInWhole() throws {
        try XCTSkipIf(getuid() != 0, "raw sockets need root")
        let index = Int32(if_nametoindex("lo"))
        let receiver = try VRRPSocket(interface: "lo", index: index, multicast: false)
        let sender = try VRRPSocket(interface: "lo", index: index, multicast: false)
        // Drain anything another VRRP speaker on lo left waiting.
        var buffer = [UInt8](repeating: 0, count: 2048)
        while buffer.withUnsafeMutableBytes({ receiver.receive(into: $0) }) != nil {}

        let payload: [UInt8] = [0x31, 7, 100, 1, 0, 10, 0, 0, 198, 18, 0, 100]
        let sent = packet(payload)
        try sent.withUnsafeBytes { try sender.send($0, to: IPv4Address("127.0.0.1")!) }
        XCTAssertTrue(receiver.wait(milliseconds: 2000), "the packet arrives")
        var got: [UInt8] = []
        for _ in 0..<10 {
            guard let n = buffer.withUnsafeMutableBytes({ receiver.receive(into: $0) }) else { break }
            let p = Array(buffer.prefix(n))
            if p.count == sent.count, p.suffix(payload.count).elementsEqual(payload) { got = p }
        }
        XCTAssertEqual(got.count, 20 + payload.count)
        XCTAssertEqual(got.first, 0x45)
        XCTAssertEqual(got[8], 255, "TTL 255 as sent, the header is ours")
        XCTAssertEqual(got[9], 112)
        XCTAssertEqual(Array(got.suffix(payload.count)), payload)
        XCTAssertNil(buffer.withUnsafeMutableBytes { receiver.receive(into: $0) }, "nothing more is waiting")
    }

    func testAnUnknownInterfaceIsAClearError() {
        XCTAssertThrowsError(try VRRPSocket(interface: "sy-nonesuch0", index: 0, multicast: false)) { error in
            XCTAssertTrue("\(error)".contains("SO_BINDTODEVICE"), "\(error)")
            XCTAssertTrue("\(error)".contains("sy-nonesuch0"), "\(error)")
        }
    }

    func testAFailedOptionClosesTheSocketOnce() throws {
        try XCTSkipIf(getuid() != 0, "raw sockets need root")
        // A second close of the same number can only be seen in errno: the first close succeeds
        // and leaves errno alone, the second (deinit's, run when init throws after every stored
        // property is set) fails with EBADF, or closes whatever another thread opened meanwhile.
        // Nothing between the throw and this catch sets errno.
        Glibc.errno = 0
        do {
            _ = try VRRPSocket(interface: "sy-nonesuch0", index: 0, multicast: false)
            XCTFail("an unknown interface is refused")
        } catch {
            let after = Glibc.errno
            XCTAssertNotEqual(after, EBADF, "the descriptor was closed twice")
            XCTAssertEqual(error.errno, ENODEV, "\(error)")
        }
    }
}
