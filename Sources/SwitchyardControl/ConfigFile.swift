// Reading the config file itself: only a regular file is a config. A directory reads as empty
// text (which parsed as "OK, 0 virtual services"), and a FIFO would block `check` or a reload
// until some writer came along; both are refused with a PATH:0:0 error that says what it is.
import Glibc

enum ConfigFile {
    /// The whole text of the regular file at `path`.
    static func read(_ path: String) throws(ConfigDiagnostic) -> String {
        func refuse(_ message: String) -> ConfigDiagnostic {
            ConfigDiagnostic(path: path, location: SourceLocation(line: 0, column: 0), message: message, isWarning: false)
        }
        // O_NONBLOCK: opening a FIFO must not wait for a writer before fstat can refuse it; a
        // regular file ignores the flag.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw refuse("cannot read the file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw refuse("cannot read the file: \(String(cString: strerror(errno)))") }
        switch status.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw refuse("is a directory; give the config file itself")
        case let kind: throw refuse("is not a regular file (\(describe(kind))); give the config file itself")
        }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw refuse("cannot read the file: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "file type \(kind)"
        }
    }
}
