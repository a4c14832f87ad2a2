// libFuzzer target: arbitrary text through the keepalived.conf parser. Every input must either
// parse or be refused with a PATH:LINE:COL error (in fuzz.conf, or in a file it includes);
// nothing may crash. A config that parses is applied to a service table, as the engine would.
import Glibc
import SwitchyardControl

/// libFuzzer's entry point. Exported by name, whichever main runs (libFuzzer's own, or the
/// Swift one in main.swift that calls LLVMFuzzerRunDriver).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        // 2,000 lines at most: definitions and ~SEQ can expand a kilobyte into the daemon's limit
        // of a million lines, which takes longer than libFuzzer's 5 s under AddressSanitizer (a
        // timeout it once reported). The limit itself is tested in ConfigLexerTests.
        let config = try Config.parse(text, path: "fuzz.conf", lineLimit: 2_000)
        var table = ServiceTable()
        table.apply(config)
        table.apply(config)
    } catch {
        // An error inside a file the input includes is placed in that file.
        precondition(error.description.hasPrefix("fuzz.conf:") || error.location.file != nil, "error without a place: \(error)")
    }
    return 0
}
