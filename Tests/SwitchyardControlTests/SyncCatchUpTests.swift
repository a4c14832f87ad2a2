// The catch-up request and its answer: golden bytes, round trip, what decode refuses, and how a datagram on the
// sync port is told apart (IPVS message, catch-up request, anything else), sealed or not.
import XCTest
@testable import SwitchyardControl

final class SyncCatchUpTests: XCTestCase {
    static let golden: [UInt8] = [0x53, 0x59, 0x52, 0x31, 0x01, 0x07, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04]

    func testGoldenBytes() {
        XCTAssertEqual(SyncCatchUpRequest(syncID: 7, requestNumber: 0x0102_0304).encode(), Self.golden)
        XCTAssertEqual(Array("SYR1".utf8), SyncCatchUpRequest.magic)
        XCTAssertEqual(SyncCatchUpRequest.length, 12)
        var answer = Self.golden
        answer[7] = 1
        XCTAssertEqual(SyncCatchUpRequest(syncID: 7, requestNumber: 0x0102_0304, answered: true).encode(), answer)
        XCTAssertEqual(SyncCatchUpRequest.decode(answer), SyncCatchUpRequest(syncID: 7, requestNumber: 0x0102_0304, answered: true))
        XCTAssertEqual(SyncDatagramKind.classify(answer), .catchUp)
    }

    func testRoundTrip() {
        for (id, number) in [(UInt8(0), UInt32(0)), (51, 1), (255, UInt32.max), (7, 0x8000_0000)] {
            let request = SyncCatchUpRequest(syncID: id, requestNumber: number)
            XCTAssertEqual(SyncCatchUpRequest.decode(request.encode()), request)
        }
        XCTAssertEqual(SyncCatchUpRequest.decode(Self.golden), SyncCatchUpRequest(syncID: 7, requestNumber: 0x0102_0304))
    }

    func testDecodeRefusesAnythingElse() {
        XCTAssertNil(SyncCatchUpRequest.decode([]))
        XCTAssertNil(SyncCatchUpRequest.decode(Array(Self.golden.dropLast())), "short")
        XCTAssertNil(SyncCatchUpRequest.decode(Self.golden + [0]), "long")
        for (index, value) in [(0, UInt8(0x73)), (3, 0x32), (4, 2), (4, 0), (6, 1), (7, 2), (7, 0x80)] {
            var changed = Self.golden
            changed[index] = value
            XCTAssertNil(SyncCatchUpRequest.decode(changed), "byte \(index) = \(value)")
        }
        XCTAssertNil(SyncCatchUpRequest.decode(hexBytes(syncGoldenFixtures[0].messages[0])))
    }

    func testClassification() {
        for fixture in syncGoldenFixtures {
            for message in fixture.messages {
                XCTAssertEqual(SyncDatagramKind.classify(hexBytes(message)), .ipvs, fixture.name)
            }
        }
        XCTAssertEqual(SyncDatagramKind.classify(Self.golden), .catchUp)
        XCTAssertEqual(SyncDatagramKind.classify(SyncCatchUpRequest(syncID: 1, requestNumber: 9).encode()), .catchUp)
        // Garbage, a version 0 message (nr_conns first), an empty header, nothing at all.
        XCTAssertEqual(SyncDatagramKind.classify([]), .unknown)
        XCTAssertEqual(SyncDatagramKind.classify([0x53]), .unknown)
        XCTAssertEqual(SyncDatagramKind.classify(Array("SYR1".utf8)), .unknown, "no version byte")
        XCTAssertEqual(SyncDatagramKind.classify(Array("SYR1".utf8) + [2]), .unknown, "a version we do not speak")
        XCTAssertEqual(SyncDatagramKind.classify(Array("GET / HTTP/1.0\r\n".utf8)), .unknown)
        XCTAssertEqual(SyncDatagramKind.classify([1, 7, 0, 52, 0, 0, 0, 0]), .unknown, "version 0: nr_conns 1, then syncid")
        XCTAssertEqual(SyncDatagramKind.classify([0, 7, 0, 8, 0, 2, 0, 0]), .unknown, "version 2")
        XCTAssertEqual(SyncDatagramKind.classify([0, 7, 0, 8, 0, 1, 0]), .unknown, "shorter than a header")
        XCTAssertEqual(SyncDatagramKind.classify([0, 7, 0, 8, 0, 1, 0, 0]), .ipvs, "a header: SyncCodec judges the rest")
    }

    func testTheCodecNeverTakesARequestForAMessage() {
        // As a kernel backup drops it: bytes 2–3 ("R1") are no size of these 12 bytes.
        XCTAssertThrowsError(try SyncCodec.decode(Self.golden)) { error in
            XCTAssertEqual(error as? SyncDecodeError, .sizeMismatch(declared: 0x5231, received: 12))
        }
    }

    func testSealedDatagramsClassifyAsTheirMessageAndOpenBackToIt() throws {
        let auth = SyncAuth(key: Array("switchyard-sync-0123".utf8))!
        let request = SyncCatchUpRequest(syncID: 51, requestNumber: 3)
        let sealed = auth.seal(request.encode(), sequence: 0x6930_AB00_0000_0001)
        XCTAssertEqual(sealed.count, 12 + 44)
        XCTAssertEqual(SyncDatagramKind.classify(sealed), .catchUp)
        XCTAssertNil(SyncCatchUpRequest.decode(sealed), "open first, then decode")
        let opened = try auth.open(sealed).get()
        XCTAssertEqual(SyncCatchUpRequest.decode(opened.message), request)

        let message = hexBytes(syncGoldenFixtures[0].messages[0])
        let sealedMessage = auth.seal(message, sequence: 2)
        XCTAssertEqual(SyncDatagramKind.classify(sealedMessage), .ipvs)
        XCTAssertThrowsError(try SyncCodec.decode(sealedMessage), "a kernel backup refuses it: size differs from the header's")
        XCTAssertEqual(try SyncCodec.decode(auth.open(sealedMessage).get().message).entries, syncGoldenFixtures[0].entries)
    }
}
