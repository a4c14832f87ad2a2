// The hub's walk numbers: which walk a request rides on, asked while another runs or not, and
// when it counts as finished (every worker's done marker pumped), with no workers but the test.
import XCTest
@testable import SwitchyardControl
import SwitchyardCore

final class FlowExchangeHubTests: XCTestCase {
    func testARequestNamesTheWalkThatDoesItAndLearnsWhenItFinished() {
        let exchanges = [FlowExchange(capacity: 16), FlowExchange(capacity: 16)]
        let hub = FlowExchangeHub(exchanges: exchanges)
        XCTAssertEqual(hub.requestWalk(FlowRecord.walkSync), 1, "nothing runs: starts now")
        XCTAssertEqual(exchanges.map(\.requestedWalk.number), [1, 1])
        XCTAssertEqual(hub.requestWalk(FlowRecord.walkList), 2, "one runs: the next walk")
        XCTAssertEqual(hub.requestWalk(FlowRecord.walkSync), 2, "asked again meanwhile: the same next walk")
        XCTAssertFalse(hub.walkFinished(1))
        XCTAssertTrue(exchanges[0].outbound.push(.done(walk: 1)))
        hub.pump()
        XCTAssertFalse(hub.walkFinished(1), "one worker of two")
        XCTAssertTrue(exchanges[1].outbound.push(.done(walk: 1)))
        hub.pump()
        XCTAssertTrue(hub.walkFinished(1))
        XCTAssertFalse(hub.walkFinished(2))
        XCTAssertEqual(exchanges.map(\.requestedWalk.number), [2, 2], "the waiting walk starts")
        XCTAssertEqual(exchanges[0].requestedWalk.purposes, FlowRecord.walkList | FlowRecord.walkSync)
        for x in exchanges { XCTAssertTrue(x.outbound.push(.done(walk: 2))) }
        hub.pump()
        XCTAssertTrue(hub.walkFinished(2))
        XCTAssertTrue(hub.walkFinished(1), "earlier walks stay finished")
        XCTAssertFalse(hub.walking)
    }
}
