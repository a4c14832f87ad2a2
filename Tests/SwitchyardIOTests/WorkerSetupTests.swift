import Glibc
import SwitchyardCore
import XCTest
@testable import SwitchyardIO

/// A worker whose setup fails part way leaves nothing open: the rings and sockets opened for
/// the interfaces before the one that failed are closed again.
final class WorkerSetupTests: XCTestCase {
    func openDescriptors() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(dir) }
        var count = 0
        while readdir(dir) != nil { count += 1 }
        return count
    }

    func testFailedInterfaceClosesTheRingsOpenedBefore() throws {
        // Sockets on the loopback interface of this namespace only (opened, bound, closed: no
        // interface or route is changed). Needs CAP_NET_RAW.
        let probe = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), 0)
        guard probe >= 0 else { throw XCTSkip("no AF_PACKET sockets here (run as root)") }
        close(probe)
        let lo = try InterfaceInfo.lookup("lo")
        // An interface index no interface has: the second ring's bind fails (ENODEV).
        let missing = InterfaceInfo(name: "sy-missing", index: Int32.max, mac: .zero, mtu: 1500, address: nil)
        let filter = try PacketFilter.forVIPs([IPAddressBits(IPv4Address(0xC612_0064))])
        let config = PipelineConfig(sourceMAC: .zero, flowCapacity: 1_024)
        let publisher = SnapshotPublisher(ForwardingSnapshot(services: [], schedulingKey: HashKey(k0: 1, k1: 2)))
        for format in RingFormat.allCases {
            let before = openDescriptors()
            XCTAssertThrowsError(try Worker(index: 0, interfaces: [lo, missing], filter: filter, fanoutGroupBase: nil,
                                            fanoutProgram: [], config: config, publisher: publisher,
                                            geometry: RingGeometry(format: format))) { error in
                XCTAssertTrue("\(error)".contains("bind(AF_PACKET, sy-missing)"), "\(error)")
                XCTAssertEqual((error as? SystemError)?.errno, ENODEV, "errno read right after bind, not after the cleanup")
            }
            XCTAssertEqual(openDescriptors(), before, "\(format): a descriptor was left open")
        }
    }
}
