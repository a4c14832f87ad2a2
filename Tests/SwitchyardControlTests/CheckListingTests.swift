import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore

/// `switchyard check` lists what a config defines the way `switchyard adm -Ln` lists the running
/// table: same header, same column widths, same names for the forwarding method.
final class CheckListingTests: XCTestCase {
    func testNamesTheMethodAsAdmDoesAndLinesUpTheColumns() throws {
        let config = try Config.parse("""
        virtual_server 198.18.0.100 80 {
            lb_algo rr
            lb_kind DR
            persistence_timeout 50
            real_server 198.18.0.11 80 { weight 3 }
            real_server 198.18.0.12 80 { weight 0 }
        }
        virtual_server 198.18.0.100 53 {
            lb_algo wlc
            lb_kind NAT
            protocol UDP
            real_server 198.18.0.21 5353 { }
            real_server 198.18.0.122 53 { weight 100 }
        }
        """, path: "test.conf")
        XCTAssertEqual(AdmRender.check(config), """
        Prot LocalAddress:Port Scheduler Flags
          -> RemoteAddress:Port           Forward Weight
        TCP  198.18.0.100:80 rr persistent 50
          -> 198.18.0.11:80               Route   3
          -> 198.18.0.12:80               Route   0
        UDP  198.18.0.100:53 wlc
          -> 198.18.0.21:5353             Masq    1
          -> 198.18.0.122:53              Masq    100

        """)
    }
}
