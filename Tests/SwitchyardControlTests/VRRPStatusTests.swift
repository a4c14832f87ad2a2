// adm --vrrp: the instances' table, and the command reaching the control plane.
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

final class VRRPStatusTests: XCTestCase {
    func testTheTableLinesUpAndSaysWhoIsMaster() {
        let rows = [
            VRRPInstanceStatus(name: "VI_1", interface: "eth0", virtualRouterID: 51, state: .master, priority: 150,
                               master: IPAddressBits(text: "198.18.0.2"), masterPriority: 150, since: 10,
                               addresses: [IPAddressBits(IPv4Address("198.18.0.100")!)]),
            VRRPInstanceStatus(name: "VI_GATEWAY", interface: "eth1", virtualRouterID: 7, state: .backup, priority: 100,
                               master: IPAddressBits(text: "198.19.0.3"), masterPriority: 200, since: 40,
                               addresses: [IPAddressBits(IPv4Address("198.19.0.1")!), IPAddressBits(IPv4Address("198.19.0.254")!)]),
        ]
        XCTAssertEqual(VRRPInstanceStatus.render(rows, now: 52.5), """
            Instance    Interface  VRID  State   Priority  Master            For  Addresses
            VI_1        eth0       51    MASTER  150       198.18.0.2 (150)  42s  198.18.0.100
            VI_GATEWAY  eth1       7     BACKUP  100       198.19.0.3 (200)  12s  198.19.0.1,198.19.0.254

            """)
        XCTAssertEqual(VRRPInstanceStatus.render([], now: 0), "no vrrp_instance in this config\n")
    }

    func testAdmParsesVRRP() throws {
        XCTAssertEqual(try AdmCommand.parse(["--vrrp"]), .vrrp)
    }
}
