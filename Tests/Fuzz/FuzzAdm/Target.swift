// libFuzzer target: arbitrary argument lists through the ipvsadm-syntax parser, and every edit
// it accepts applied to a running table, then listed and saved, as the daemon would.
import Glibc
import SwitchyardControl

nonisolated(unsafe) var table = ServiceTable()

/// libFuzzer's entry point. Exported by name, whichever main runs (libFuzzer's own, or the
/// Swift one in main.swift that calls LLVMFuzzerRunDriver).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let arguments = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\0" }).map(String.init)
    AdmCommand.resolvesHostNames.store(false, ordering: .relaxed)
    guard let command = try? AdmCommand.parse(arguments) else { return 0 }
    switch command {
    case .list(let options):
        _ = AdmRender.list(table, options, numbers: { _ in RealNumbers() })
    case .save:
        _ = AdmRender.save(table)
        for words in AdmRestore.commandLines(AdmRender.save(table)) { _ = try? AdmRestore.command(words) }
    case .listConnections(let options):
        _ = AdmConnections.render([], options)
    case .zero, .restore, .reload, .trace, .vrrp, .sync, .engine, .metrics, .help, .version:
        // Answered by the engine, not the table (execute refuses them as a programmer error).
        break
    default:
        _ = try? table.execute(command)
        if table.services.count > 64 { table = ServiceTable() }
    }
    return 0
}
