import Glibc
import Logging
import Synchronization
import XCTest
@testable import SwitchyardControl

/// The log handler keeps the daemon's line format, and levels filter as `--log-level` says.
final class LogTests: XCTestCase {
    /// Lines a handler wrote, instead of fd 2.
    final class Sink: Sendable {
        let lines = Mutex<[String]>([])
        func write(_ bytes: [UInt8]) { lines.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) } }
        var written: [String] { lines.withLock { $0 } }
    }

    /// 01:02:03.045 UTC on 1 January 1970.
    static let fixedTime = timespec(tv_sec: 3_723, tv_nsec: 45_999_999)

    func logger(_ sink: Sink, level: Logger.Level, label: String = "switchyard") -> Logger {
        var logger = Logger(label: label) { label in
            LineLogHandler(label: label, sink: { sink.write($0) }, clock: { LogTests.fixedTime })
        }
        logger.logLevel = level
        return logger
    }

    func testLineFormat() {
        let sink = Sink()
        let log = logger(sink, level: .trace)
        log.info("ready")
        log.warning("real server 198.18.0.11 does not answer ARP")
        log.error("reload refused", metadata: ["path": "/etc/switchyard.conf"])
        log.debug("d")
        log.trace("t")
        XCTAssertEqual(sink.written, [
            "01:02:03.045 switchyard info: ready\n",
            "01:02:03.045 switchyard warning: real server 198.18.0.11 does not answer ARP\n",
            "01:02:03.045 switchyard error: reload refused path=/etc/switchyard.conf\n",
            "01:02:03.045 switchyard debug: d\n",
            "01:02:03.045 switchyard trace: t\n",
        ])
    }

    /// Under systemd the journal takes the line's priority from a `<N>` prefix and keeps its own time.
    /// Quoted input cannot break a line or make it binary: control characters are escaped.
    func testControlCharactersAreEscaped() {
        let sink = Sink()
        let log = logger(sink, level: .info)
        log.info("status page: alice: drain x\n01:02:03.045 switchyard error: forged\u{0}\u{7F}\tz é")
        XCTAssertEqual(sink.written, ["01:02:03.045 switchyard info: status page: alice: drain x\\x0a01:02:03.045 switchyard "
                                      + "error: forged\\x00\\x7f\tz é\n"])
        XCTAssertEqual(LineLogHandler.escaped("plain"), "plain")
    }

    func testJournalLinesCarryTheSyslogPriority() {
        XCTAssertEqual(String(decoding: LineLogHandler.journalLine(.warning, "real server 198.18.0.11:80 is DOWN"), as: UTF8.self),
                       "<4>warning: real server 198.18.0.11:80 is DOWN\n")
        XCTAssertEqual(Logger.Level.allCases.map(LineLogHandler.syslogPriority), [7, 7, 6, 5, 4, 3, 2])
        let sink = Sink()
        let logger = Logger(label: "switchyard") { LineLogHandler(label: $0, sink: { sink.write($0) }, journal: true) }
        logger.error("cannot bind")
        XCTAssertEqual(sink.written, ["<3>error: cannot bind\n"])
    }

    func testMillisecondsAndHoursArePadded() {
        let line = LineLogHandler.line(.notice, "x", at: timespec(tv_sec: 86_400 + 9 * 60 + 7, tv_nsec: 3_000_000))
        XCTAssertEqual(String(decoding: line, as: UTF8.self), "00:09:07.003 switchyard notice: x\n")
    }

    func testAnotherLibrarysLoggerIsNamed() {
        let sink = Sink()
        logger(sink, level: .info, label: "nio").info("hello")
        XCTAssertEqual(sink.written, ["01:02:03.045 switchyard info: [nio] hello\n"])
    }

    func testLevelFiltering() {
        let sink = Sink()
        let log = logger(sink, level: .warning)
        log.debug("no")
        log.info("no")
        log.notice("no")
        log.warning("yes")
        log.error("yes")
        log.critical("yes")
        XCTAssertEqual(sink.written.map { $0.split(separator: " ")[2] }, ["warning:", "error:", "critical:"])
    }

    /// The facade the engine calls (`Log.info(…)`) goes through the same logger and levels, and
    /// builds no message for a level that is off.
    func testFacadeFiltersAndDoesNotBuildDroppedMessages() {
        let sink = Sink()
        let saved = Log.logger.withLock { $0 }
        defer { Log.use(saved) }
        Log.use(logger(sink, level: .info))
        var built = 0
        func expensive() -> String {
            built += 1
            return "built"
        }
        Log.debug(expensive())
        Log.trace(expensive())
        Log.info("info line")
        Log.warning("warning line")
        Log.error("error line")
        XCTAssertEqual(built, 0)
        XCTAssertEqual(Log.level, .info)
        Log.use(logger(sink, level: .debug))
        Log.debug(expensive())
        XCTAssertEqual(built, 1)
        XCTAssertEqual(sink.written, [
            "01:02:03.045 switchyard info: info line\n", "01:02:03.045 switchyard warning: warning line\n",
            "01:02:03.045 switchyard error: error line\n", "01:02:03.045 switchyard debug: built\n",
        ])
    }

    /// At debug level, config loading says what each checker inherited, and adm says how it
    /// read its arguments; at info level neither writes anything (`check`'s output stays as is).
    func testConfigAndAdmDebugLines() throws {
        let sink = Sink()
        let saved = Log.logger.withLock { $0 }
        defer { Log.use(saved) }
        let text = """
        virtual_server 198.18.0.100 80 {
            delay_loop 6
            lb_kind DR
            real_server 198.18.0.11 80 {
                TCP_CHECK { connect_timeout 3 }
            }
        }
        """
        Log.use(logger(sink, level: .info))
        _ = try Config.parse(text, path: "t.conf")
        _ = try AdmCommand.parse(["-e", "-t", "198.18.0.100:80", "-r", "198.18.0.11", "-w", "0"])
        XCTAssertEqual(sink.written, [])
        Log.use(logger(sink, level: .debug))
        _ = try Config.parse(text, path: "t.conf")
        _ = try AdmCommand.parse(["-e", "-t", "198.18.0.100:80", "-r", "198.18.0.11", "-w", "0"])
        XCTAssertThrowsError(try AdmCommand.parse(["-Q"]))
        let lines = sink.written.map { String($0.dropFirst("01:02:03.045 switchyard debug: ".count).dropLast()) }
        XCTAssertEqual(lines.first, "config t.conf: \(text.utf8.count) bytes, 1 top-level statement(s)")
        XCTAssertTrue(lines.contains("config t.conf:5:9:     TCP_CHECK 198.18.0.11:80 delay_loop 6.0 s, connect_timeout 3.0 s, "
            + "retry 1, delay_before_retry 1.0 s, warmup 0.0 s (down within 13.0 s)"), "\(lines)")
        XCTAssertEqual(lines.suffix(2), [
            "adm: -e -t 198.18.0.100:80 -r 198.18.0.11 -w 0 reads as: edit real server 198.18.0.11, weight 0 in TCP 198.18.0.100:80",
            "adm: -Q refused: Try `switchyard adm -h' or 'switchyard adm --help' for more information.",
        ])
    }

    func testLevelNamesAreTheOptionsValues() {
        XCTAssertEqual(Log.levelNames, ["trace", "debug", "info", "notice", "warning", "error", "critical"])
    }
}
