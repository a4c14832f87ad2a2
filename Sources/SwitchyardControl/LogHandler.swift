// The log's line format as a swift-log LogHandler: `HH:MM:SS.mmm switchyard LEVEL: message`, UTC,
// one write(2) per line to standard error, the format the daemon has always written and its
// operators' scripts and the e2e tests read. Under systemd, with standard error going to the
// journal, lines start with the syslog priority instead (`<6>info: message`; the journal keeps
// its own time), so `journalctl -p warning` works.
import Glibc
import Logging

public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String
    /// Where a finished line goes; standard error unless a test injects a sink.
    let sink: @Sendable ([UInt8]) -> Void
    /// The wall clock (CLOCK_REALTIME); injected by tests for a fixed timestamp.
    let clock: @Sendable () -> timespec
    /// Lines for the journal: a `<priority>` prefix, no timestamp.
    let journal: Bool

    public init(label: String, sink: @escaping @Sendable ([UInt8]) -> Void = LineLogHandler.standardError,
                clock: @escaping @Sendable () -> timespec = LineLogHandler.realtime,
                journal: Bool = LineLogHandler.standardErrorIsJournal) {
        self.label = label
        self.sink = sink
        self.clock = clock
        self.journal = journal
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var message = event.message.description
        // Another library's logger (after bootstrap) is named, so its lines can be told apart.
        if label != "switchyard" { message = "[\(label)] " + message }
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        if !merged.isEmpty {
            message += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        message = Self.escaped(message)
        sink(journal ? Self.journalLine(event.level, message) : Self.line(event.level, message, at: clock()))
    }

    /// The message with control characters (but tab) written as `\xNN`: a line stays one line
    /// and plain text whatever it quotes (a status page user's form field, a config line), so
    /// nobody can forge a log line and grep never takes the log for a binary file.
    static func escaped(_ message: String) -> String {
        func isControl(_ u: Unicode.Scalar) -> Bool { (u.value < 0x20 && u.value != 0x09) || u.value == 0x7F }
        guard message.unicodeScalars.contains(where: isControl) else { return message }
        var out = ""
        for u in message.unicodeScalars {
            if isControl(u) {
                let hex = String(u.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" : "") + hex
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// A line as the journal reads it from a stream: `<priority>level: message`.
    static func journalLine(_ level: Logger.Level, _ message: String) -> [UInt8] {
        Array("<\(syslogPriority(level))>\(level.rawValue): \(message)\n".utf8)
    }

    /// swift-log's levels as syslog's priorities (sd-daemon(3)'s SD_DEBUG … SD_CRIT).
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Whether standard error is the journal's stream: systemd sets JOURNAL_STREAM to its
    /// device and inode (systemd.exec(5)), which a redirected stderr no longer matches.
    public static let standardErrorIsJournal: Bool = {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return value == "\(st.st_dev):\(st.st_ino)"
    }()

    /// One finished line, newline included.
    static func line(_ level: Logger.Level, _ message: String, at time: timespec) -> [UInt8] {
        var seconds = time.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let stamp = twoDigits(parts.tm_hour) + ":" + twoDigits(parts.tm_min) + ":" + twoDigits(parts.tm_sec)
            + "." + String(String(time.tv_nsec / 1_000_000 + 1000).dropFirst())
        return Array("\(stamp) switchyard \(level.rawValue): \(message)\n".utf8)
    }

    static func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }

    public static func realtime() -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now
    }

    /// One write(2) per line: lines from different threads never interleave.
    public static func standardError(_ line: [UInt8]) {
        _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
