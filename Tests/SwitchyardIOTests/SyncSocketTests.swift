// The connection-sync sockets exchange real datagrams on lo: unicast to 127.0.0.1, and multicast
// to the sync group (lo transmits to itself, so a joined receiver hears it even with loop off).
// Every receiver takes a port of the kernel's choosing, so parallel runs do not meet.
import Glibc
import XCTest
@testable import SwitchyardCore
@testable import SwitchyardIO

final class SyncSocketTests: XCTestCase {
    let loopback = Int32(if_nametoindex("lo"))

    /// A receiver on lo, or a visible skip where the kernel wants CAP_NET_RAW for
    /// SO_BINDTODEVICE (before Linux 5.7) and we are not root.
    func receiver(group: IPv4Address?) throws -> SyncReceiver {
        // (A `catch where` on the typed error crashes Swift 6.3's SILGen; hence the plain catch.)
        do {
            return try SyncReceiver(interface: "lo", index: loopback, group: group, port: 0)
        } catch {
            if error.errno == EPERM && getuid() != 0 { throw XCTSkip("SO_BINDTODEVICE needs CAP_NET_RAW on this kernel: \(error)") }
            throw error
        }
    }

    /// The next datagram within two seconds, as bytes and what the receiver said of it.
    func next(_ receiver: SyncReceiver, capacity: Int = 2048) throws -> ([UInt8], SyncReceived)? {
        guard receiver.wait(milliseconds: 2000) else { return nil }
        var buffer = [UInt8](repeating: 0, count: capacity)
        let result = buffer.withUnsafeMutableBytes { raw in Result { () throws(SystemError) in try receiver.receive(into: raw) } }
        guard let got = try result.get() else { return nil }
        return (Array(buffer.prefix(got.length)), got)
    }

    func nothingWaiting(_ receiver: SyncReceiver) throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 64)
        let result = buffer.withUnsafeMutableBytes { raw in Result { () throws(SystemError) in try receiver.receive(into: raw) } }
        return try result.get() == nil
    }

    func testUnicastDatagramArrivesWithItsSourceAndIsRecognisedAsOurs() throws {
        let receiver = try receiver(group: nil)
        XCTAssertNotEqual(receiver.port, 0, "the kernel chose a port")
        XCTAssertEqual(receiver.ownAddress, IPv4Address("127.0.0.1"), "lo's primary address")
        XCTAssertTrue(try nothingWaiting(receiver), "a fresh socket has nothing: nil, not an error")

        let sender = try SyncSender(interface: "lo", index: loopback, destination: IPv4Address("127.0.0.1")!,
                                    port: receiver.port)
        let message: [UInt8] = [0, 7, 0, 44, 1, 1, 0, 0] + Array(0..<36)
        XCTAssertTrue(try sender.send(message), "the socket buffer had room")

        let (bytes, got) = try XCTUnwrap(try next(receiver), "the datagram arrives")
        XCTAssertEqual(bytes, message)
        XCTAssertEqual(got.length, message.count)
        XCTAssertFalse(got.truncated)
        XCTAssertEqual(got.source, IPv4Address("127.0.0.1"))
        XCTAssertNotEqual(got.sourcePort, 0)
        XCTAssertTrue(receiver.isOwn(got.source), "sent from this host's address on the interface")
        XCTAssertFalse(receiver.isOwn(IPv4Address("198.18.0.2")!))
        XCTAssertTrue(try nothingWaiting(receiver), "one datagram, read once")
    }

    func testMulticastReachesAReceiverJoinedToTheGroupAndNoOther() throws {
        let group = SyncSocketDefaults.group
        let joined = try receiver(group: group)
        // Same port, not joined: with IP_MULTICAST_ALL off the group's traffic is not for it.
        let bystander = try SyncReceiver(interface: "lo", index: loopback, group: nil, port: joined.port)
        XCTAssertEqual(bystander.port, joined.port, "SO_REUSEADDR lets both bind the port")
        let sender = try SyncSender(interface: "lo", index: loopback, destination: group, port: joined.port)
        let message: [UInt8] = Array("multicast sync datagram".utf8)
        let sent: Bool
        do {
            sent = try sender.send(message)
        } catch {
            if error.errno == ENETUNREACH || error.errno == EADDRNOTAVAIL {
                throw XCTSkip("no multicast route on lo here (no address to send from): \(error)")
            }
            throw error
        }
        XCTAssertTrue(sent, "the socket buffer had room")
        let (bytes, got) = try XCTUnwrap(try next(joined), "the group's datagram arrives on lo")
        XCTAssertEqual(bytes, message)
        XCTAssertFalse(got.truncated)
        XCTAssertFalse(bystander.wait(milliseconds: 200), "a socket that did not join hears nothing")
        XCTAssertTrue(try nothingWaiting(bystander))
    }

    func testALongDatagramIsReportedTruncated() throws {
        let receiver = try receiver(group: nil)
        let sender = try SyncSender(interface: "lo", index: loopback, destination: IPv4Address("127.0.0.1")!, port: receiver.port)
        let message = [UInt8](repeating: 0xAB, count: 100)
        XCTAssertTrue(try sender.send(message))
        let (bytes, got) = try XCTUnwrap(try next(receiver, capacity: 40))
        XCTAssertEqual(bytes, Array(message.prefix(40)))
        XCTAssertEqual(got.length, 40, "what fitted")
        XCTAssertTrue(got.truncated, "the rest is lost, and said so")
    }

    func testSenderSetsTTLAndTurnsLoopOff() throws {
        let sender = try SyncSender(interface: "lo", index: loopback, ttl: 3)
        XCTAssertEqual(sender.destination, IPv4Address("224.0.0.81"), "IPVS's default group")
        XCTAssertEqual(sender.port, 8848, "IPVS's default port")
        func option(_ name: Int32) -> Int32 {
            var value: Int32 = -1
            var length = socklen_t(MemoryLayout<Int32>.size)
            XCTAssertEqual(getsockopt(sender.fd, Int32(IPPROTO_IP), name, &value, &length), 0)
            return value
        }
        XCTAssertEqual(option(IP_MULTICAST_TTL), 3)
        XCTAssertEqual(option(IP_MULTICAST_LOOP), 0)
        XCTAssertEqual(try SyncSender(interface: "lo", index: loopback).destination, SyncSocketDefaults.group)
        let defaultTTL = try SyncSender(interface: "lo", index: loopback)
        var ttl: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        XCTAssertEqual(getsockopt(defaultTTL.fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &ttl, &length), 0)
        XCTAssertEqual(ttl, 1, "keepalived's default")
    }

    func testAnUnknownInterfaceIsAClearError() {
        XCTAssertThrowsError(try SyncReceiver(interface: "sy-nonesuch0", index: 0, port: 0)) { error in
            XCTAssertTrue("\(error)".contains("SO_BINDTODEVICE"), "\(error)")
            XCTAssertTrue("\(error)".contains("sy-nonesuch0"), "\(error)")
        }
        XCTAssertThrowsError(try SyncSender(interface: "sy-nonesuch0", index: 999_999)) { error in
            XCTAssertTrue("\(error)".contains("IP_MULTICAST_IF"), "\(error)")
            XCTAssertTrue("\(error)".contains("sy-nonesuch0"), "\(error)")
        }
    }
}
