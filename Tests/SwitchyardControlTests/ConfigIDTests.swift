// --config-id: `switchyard check` and `run` read `@ID` lines for the id given, and a reload reads
// the file with the same id the start did (else a SIGHUP on a box started with --config-id lb2
// would quietly drop lb2's lines).
import Glibc
import XCTest
@testable import SwitchyardControl
@testable import SwitchyardCore
@testable import SwitchyardIO

final class ConfigIDTests: XCTestCase {
    var path = ""

    override func setUp() { path = "/tmp/switchyard-config-id-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).conf" }
    override func tearDown() { unlink(path) }

    let text = """
    virtual_server 198.18.0.100 80 {
        lb_kind DR
        real_server 198.18.0.11 80 { weight 1 }
    @lb2    real_server 198.18.0.12 80 { weight 1 }
    }
    @^lb2 virtual_server 198.18.0.101 80 { lb_kind DR }
    """

    /// Runs the `switchyard` binary built beside this test bundle (as HelpTests does).
    func switchyard(_ arguments: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = String(decoding: buffer[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let binary = String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/switchyard"
        guard access(binary, X_OK) == 0 else { throw XCTSkip("\(binary) is not built (swift build builds it)") }
        guard let pipe = popen("'\(binary)' \(arguments) 2>&1", "r") else { throw XCTSkip("popen failed") }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = fread(&chunk, 1, chunk.count, pipe)
            if got == 0 { break }
            out += chunk[0..<got]
        }
        pclose(pipe)
        return String(decoding: out, as: UTF8.self)
    }

    func testCheckReadsTheLinesOfTheConfigIDItIsGiven() throws {
        XCTAssertTrue(createFile(path, text))
        let lb2 = try switchyard("check --config \(path) --config-id lb2")
        XCTAssertTrue(lb2.contains("\(path): OK, 1 virtual service(s)"), lb2)
        XCTAssertTrue(lb2.contains("198.18.0.12"), lb2)
        let lb1 = try switchyard("check --config \(path) --config-id lb1")
        XCTAssertTrue(lb1.contains("\(path): OK, 2 virtual service(s)"), lb1)
        XCTAssertFalse(lb1.contains("198.18.0.12"), lb1)
        XCTAssertTrue(try switchyard("run --help").contains("--config-id <id>"))
    }

    func testAReloadReadsTheFileWithTheConfigIDTheStartUsed() throws {
        XCTAssertTrue(createFile(path, text.replacing("\n@^lb2 virtual_server 198.18.0.101 80 { lb_kind DR }", with: "")))
        let config = try Config.load(path: path, configID: "lb2")
        XCTAssertEqual(config.services.first?.reals.count, 2)
        let fake = FakeParts()
        fake.kernel = [IPAddressBits(text: "198.18.0.11")!: MACAddress(bits: 0x11), IPAddressBits(text: "198.18.0.12")!: MACAddress(bits: 0x12)]
        let plan = try InterfacePlan(config: config, given: nil, routes: fakeRoutes, lookup: fakeInterface)
        let plane = ControlPlane(config: config, configPath: path, plan: plan, forwarding: fake, neighbours: fake,
                                 checkers: fake, scripts: fake, counts: ConnectionCounts(workers: 1),
                                 stats: RealServerStats(workers: 1), trace: FlowTrace(workers: 1), configID: "lb2")
        plane.applyCheckers(plane.loadInitialTable())
        _ = plane.refreshNeighbours()
        plane.republish()
        let result = plane.reload()
        XCTAssertTrue(result.ok, result.text)
        XCTAssertEqual(fake.last.services.first?.reals.map { "\($0.address)" }, ["198.18.0.11", "198.18.0.12"])
    }
}
