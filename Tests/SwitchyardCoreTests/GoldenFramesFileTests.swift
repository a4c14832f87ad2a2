// Tests/fixtures/golden-frames.json (switchyard replay's test reads it) holds the same fixtures
// as GoldenFixtures.swift: make_golden.py writes both, and neither may drift from the other.
import Foundation
import XCTest
@testable import SwitchyardCore

final class GoldenFramesFileTests: XCTestCase {
    private struct Frames: Decodable {
        struct Fixture: Decodable, Equatable { let name: String, input: String, pending: Bool, verdict: String, output: String }
        struct Step: Decodable, Equatable { let ingress: Int, input: String, pending: Bool, verdict: String, output: String, now: UInt32 }
        struct Sequence: Decodable { let name: String, steps: [Step] }
        let fixtures: [Fixture]
        let sequences: [Sequence]
    }

    func testTheJSONCopyMatchesTheSwiftFixtures() throws {
        let tests = #filePath[..<(#filePath.range(of: "/SwitchyardCoreTests/")?.lowerBound ?? #filePath.endIndex)]
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(tests)/fixtures/golden-frames.json"))
        let frames = try JSONDecoder().decode(Frames.self, from: data)
        XCTAssertEqual(frames.fixtures.map(\.name), goldenFixtures.map(\.name))
        for (json, swift) in zip(frames.fixtures, goldenFixtures) {
            XCTAssertEqual(json, Frames.Fixture(name: swift.name, input: swift.input, pending: swift.checksumPending,
                                                verdict: json.verdict, output: swift.output), swift.name)
            XCTAssertEqual(json.verdict, Self.text(swift.verdict), swift.name)
        }
        XCTAssertEqual(frames.sequences.map(\.name), natSequences.map(\.name))
        for (json, swift) in zip(frames.sequences, natSequences) {
            XCTAssertEqual(json.steps, swift.steps.map {
                Frames.Step(ingress: $0.ingress, input: $0.input, pending: $0.checksumPending, verdict: Self.text($0.verdict),
                            output: $0.output, now: $0.now)
            }, json.name)
        }
    }

    /// A verdict as make_golden.py writes it.
    static func text(_ verdict: Verdict) -> String {
        switch verdict {
        case .forward(let egress): ".forward(egress: \(egress))"
        case .reply(let egress): ".reply(egress: \(egress))"
        case .pass: ".pass"
        case .drop(let reason): ".drop(.\(reason))"
        }
    }
}
