import XCTest
@testable import SwitchyardCore

/// Katran-style golden packets: bytes in → expected verdict and exact bytes out.
final class GoldenPacketTests: XCTestCase {
    func testEveryFixture() {
        let snapshot = fixtureSnapshot()
        XCTAssertGreaterThanOrEqual(goldenFixtures.count, 15)
        for fixture in goldenFixtures {
            var pipeline = Pipeline(PipelineConfig(sourceMAC: lbMAC, flowCapacity: 64))
            let (verdict, out) = feed(&pipeline, bytes(hex: fixture.input), pending: fixture.checksumPending,
                                     snapshot: snapshot)
            XCTAssertEqual(verdict, fixture.verdict, fixture.name)
            XCTAssertEqual(hex(out), fixture.output, fixture.name)
            if case .drop(let reason) = fixture.verdict {
                XCTAssertEqual(pipeline.counters[reason], 1, "\(fixture.name): drop counted")
            }
            if fixture.checksumPending {
                XCTAssertEqual(pipeline.counters[.checksumsFinished], 1, fixture.name)
            }
        }
    }
}
