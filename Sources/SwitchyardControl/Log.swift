import Glibc

/// The daemon's log: one line per event on standard error, with a UTC timestamp and a level.
/// (Kept to a few lines on purpose: a logging package would be one more dependency for this.)
public enum Log {
    public static func info(_ message: String) { write("info", message) }
    public static func warning(_ message: String) { write("warning", message) }
    public static func error(_ message: String) { write("error", message) }

    static func write(_ level: String, _ message: String) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tm = tm()
        gmtime_r(&t, &tm)
        let stamp = String(format2: tm.tm_hour) + ":" + String(format2: tm.tm_min) + ":" + String(format2: tm.tm_sec)
            + "." + String(String(ts.tv_nsec / 1_000_000 + 1000).dropFirst())
        // One write(2) per line: lines from different threads never interleave.
        let line = Array("\(stamp) switchyard \(level): \(message)\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

extension String {
    init(format2 value: Int32) { self = value < 10 ? "0\(value)" : "\(value)" }
}
