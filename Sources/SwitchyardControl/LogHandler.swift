// The log's line format as a swift-log LogHandler: `HH:MM:SS.mmm switchyard LEVEL: message`, UTC,
// one write(2) per line to standard error, the format the daemon has always written and its
// operators' scripts and the e2e tests read.
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

    public init(label: String, sink: @escaping @Sendable ([UInt8]) -> Void = LineLogHandler.standardError,
                clock: @escaping @Sendable () -> timespec = LineLogHandler.realtime) {
        self.label = label
        self.sink = sink
        self.clock = clock
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
        sink(Self.line(event.level, message, at: clock()))
    }

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
