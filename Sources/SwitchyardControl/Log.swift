// The daemon's log: a thin facade (`Log.info(…)`, the calls the control plane has always made)
// over a swift-log `Logger`, so that libraries logging through swift-log land in the same place.
// The line format is LineLogHandler's (LogHandler.swift).
import Logging
import SwitchyardIO

public enum Log {
    /// The one logger behind the facade. It is made with our handler directly (not through
    /// LoggingSystem), so lines keep their format also in tests and tools that never bootstrap.
    /// The lock only guards swapping it (bootstrap, tests); each call copies it out. (Locked,
    /// not Mutex: ThreadSanitizer sees its ordering; see Locked.swift.)
    static let logger = Locked(Logger(label: "switchyard", factory: { LineLogHandler(label: $0) }))

    /// The levels `--log-level` takes, most verbose first.
    public static let levelNames = Logger.Level.allCases.map(\.rawValue)

    /// Sets the level once per process (the CLI does, from `--log-level`) and makes every swift-log
    /// Logger created afterwards write through the same handler.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        logger.withLock { $0.logLevel = level }
    }

    /// Replaces the logger behind the facade (tests inject one writing to a sink).
    static func use(_ replacement: Logger) { logger.withLock { $0 = replacement } }

    /// The level below which lines are dropped.
    public static var level: Logger.Level { logger.withLock { $0.logLevel } }

    /// Whether lines of this level are written: guards work done only to log (several lines).
    public static func isEnabled(_ level: Logger.Level) -> Bool { self.level <= level }

    // The message is an autoclosure: a debug line costs nothing to build while debug is off.
    public static func trace(_ message: @autoclosure () -> String) { log(.trace, message) }
    public static func debug(_ message: @autoclosure () -> String) { log(.debug, message) }
    public static func info(_ message: @autoclosure () -> String) { log(.info, message) }
    public static func notice(_ message: @autoclosure () -> String) { log(.notice, message) }
    public static func warning(_ message: @autoclosure () -> String) { log(.warning, message) }
    public static func error(_ message: @autoclosure () -> String) { log(.error, message) }
    public static func critical(_ message: @autoclosure () -> String) { log(.critical, message) }

    static func log(_ level: Logger.Level, _ message: () -> String) {
        let current = logger.withLock { $0 }
        guard current.logLevel <= level else { return }
        current.log(level: level, Logger.Message(stringLiteral: message()))
    }
}
