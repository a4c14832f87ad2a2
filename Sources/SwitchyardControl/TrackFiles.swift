// keepalived's tracked files for real servers: the top-level `track_file NAME { file …; weight …;
// init_file … }` block, the FILE_CHECK checker that follows one (track_file.c, check_file.c),
// writing init_file values at start, and judging the number a file holds. keepalived watches
// the file with inotify; Switchyard reads it every delay_loop.
import Glibc
import SwitchyardCore

/// A `track_file` block.
public struct TrackFileConfig: Sendable, Equatable {
    public var name: String
    public var path: String?
    /// The default of the FILE_CHECKs that follow it (keepalived: 1; -254…254).
    public var weight = 1
    public var reverse = false
    /// `init_file [VALUE] [overwrite]`: written at start if the file is missing (or always).
    public var initValue: Int?
    public var overwrite = false
    public var location: SourceLocation
}

/// A FILE_CHECK: the tracked file's number N sets the real server's state (track_file.c,
/// process_update_checker_track_file_status). With weight 0, N ≠ 0 is down (N = 0 with
/// reverse); otherwise the weight is the real server's plus N × weight (negated with reverse),
/// at least 0.
public struct FileCheck: Sendable, Equatable {
    public var trackFile: String
    public var path = ""
    /// nil until settled: the track_file's weight.
    public var weight: Int?
    public var reverse = false
    /// The real server's configured weight.
    public var baseWeight = 1

    /// The verdict on the file's text (nil: the file is missing or empty, read as 0).
    public func judge(_ text: String?) -> ProbeResult {
        var n = 0
        if let text, !text.isEmpty {
            // keepalived: strtol with base 0 (0x…, 0…), junk after the number ignored.
            errno = 0
            let value = strtol(text, nil, 0)
            guard errno == 0, value >= Int(Int32.min), value <= Int(Int32.max) + 1 else {
                return .down("FILE_CHECK \(path): \"\(text.prefix(40))\" is not a number in range")
            }
            n = value
        }
        let w = weight ?? 1
        if w == 0 {
            return (n != 0) != reverse ? .down("FILE_CHECK \(path): \(n)\(reverse ? " (reverse)" : "")") : .up
        }
        let status = n.multipliedReportingOverflow(by: w * (reverse ? -1 : 1))
        let offset = status.overflow ? (n > 0) != (w * (reverse ? -1 : 1) > 0) ? Int(Int32.min) : Int(Int32.max) : status.partialValue
        if offset <= Int(Int32.min) { return .down("FILE_CHECK \(path): \(n) gives weight \(offset), a fault") }
        if offset == 0 { return .up }
        return .weighted(min(max(baseWeight + offset, 0), ServiceValues.weight.upperBound))
    }
}

/// FILE_CHECK on the event loop: the file is read at once (a small local file), no socket.
final class FileProbe: SocketProbe {
    let check: FileCheck
    private(set) var deadline = 0.0

    init(_ check: FileCheck) { self.check = check }

    func start(now: Double) -> ProbeStep {
        deadline = now
        return .done(check.judge(TrackFiles.read(check.path)))
    }

    func ready(events: UInt32, now: Double, scratch: UnsafeMutableRawBufferPointer) -> ProbeStep { .done(expired()) }
    func expired() -> ProbeResult { .down("FILE_CHECK \(check.path): not read") }
    func cancel() {}
}

public enum TrackFiles {
    /// At most 127 bytes of the file, as keepalived reads it; nil if it cannot be opened or is empty.
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 127)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }

    /// Writes each init_file value where keepalived would at start: a missing file, or any
    /// file with `overwrite`. Failures are logged; the checks then read what is there.
    public static func initialise(_ config: Config) {
        for file in config.trackFiles {
            guard let value = file.initValue, let path = file.path else { continue }
            if !file.overwrite && access(path, F_OK) == 0 { continue }
            let text = Array("\(value)\n".utf8)
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0, text.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == text.count else {
                Log.warning("track_file \(file.name): cannot write init_file value to \(path): \(String(cString: strerror(errno)))")
                if fd >= 0 { close(fd) }
                continue
            }
            close(fd)
        }
    }
}

extension ConfigReader {
    /// `track_file NAME { file PATH; weight W [reverse]; init_file [VALUE] [overwrite] }`.
    func trackFile(_ s: Statement) throws(ConfigDiagnostic) -> TrackFileConfig {
        let name = try blockName(s)
        var f = TrackFileConfig(name: name, location: s.keyword.location)
        for c in try children(s) {
            switch c.keyword.text {
            case "file": f.path = try text(c)
            case "weight":
                guard (1...2).contains(c.arguments.count), let w = Int(c.arguments[0].text), (-254...254).contains(w) else {
                    throw error(c.arguments.first ?? c.keyword, "track_file weight takes -254 to 254, then maybe reverse")
                }
                f.weight = w
                if c.arguments.count == 2 {
                    guard c.arguments[1].text == "reverse" else { throw error(c.arguments[1], "expected reverse") }
                    f.reverse = true
                }
            case "init_file":
                f.initValue = 0
                for t in c.arguments {
                    if t.text == "overwrite" { f.overwrite = true; continue }
                    guard let v = Int(t.text), (-254...254).contains(v) else {
                        throw error(t, "init_file takes a value from -254 to 254 and maybe overwrite")
                    }
                    f.initValue = v
                }
            default:
                throw error(c.keyword, "unknown keyword \"\(c.keyword.text)\" in track_file; expected file, weight or init_file")
            }
        }
        guard f.path != nil else { throw error(s.keyword, "track_file \(name) needs a file: file /path/to/file") }
        return f
    }

    /// A FILE_CHECK's own keywords: `track_file NAME`, `weight W [reverse|noreverse]`.
    func fileCheckKeyword(_ s: Statement, into check: inout FileCheck) throws(ConfigDiagnostic) -> Bool {
        switch s.keyword.text {
        case "track_file": check.trackFile = try text(s)
        case "weight":
            let limit = Int(Int32.max)
            guard (1...2).contains(s.arguments.count), let w = Int(s.arguments[0].text), (-limit...limit).contains(w) else {
                throw error(s.arguments.first ?? s.keyword, "FILE_CHECK weight takes a whole number, then maybe reverse")
            }
            check.weight = w
            if s.arguments.count == 2 {
                guard ["reverse", "noreverse"].contains(s.arguments[1].text) else {
                    throw error(s.arguments[1], "expected reverse or noreverse")
                }
                check.reverse = s.arguments[1].text == "reverse"
            }
        default: return false
        }
        return true
    }

    /// Gives each FILE_CHECK its file, its weight (the track_file's by default) and the real
    /// server's weight, once every block is read (a track_file may follow its checkers).
    mutating func settleFileChecks() throws(ConfigDiagnostic) {
        for s in config.services.indices {
            for r in config.services[s].reals.indices {
                let base = config.services[s].reals[r].weight
                for c in config.services[s].reals[r].checkers.indices {
                    let checker = config.services[s].reals[r].checkers[c]
                    guard case .file(var check) = checker.kind else { continue }
                    guard let file = config.trackFiles.first(where: { $0.name == check.trackFile }), let path = file.path else {
                        throw ConfigDiagnostic(path: path, location: checker.location, message: check.trackFile.isEmpty
                            ? "FILE_CHECK needs track_file NAME" : "FILE_CHECK: no track_file \(check.trackFile) is defined",
                                               isWarning: false)
                    }
                    check.path = path
                    if check.weight == nil { (check.weight, check.reverse) = (file.weight, file.reverse) }
                    check.baseWeight = base
                    config.services[s].reals[r].checkers[c].kind = .file(check)
                }
            }
        }
    }
}
