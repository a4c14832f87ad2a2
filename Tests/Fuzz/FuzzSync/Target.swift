// libFuzzer target: arbitrary datagrams through the connection-sync decoder. Every input must be
// decoded or refused with a typed error, never trap; and what decodes must come back the same
// through encode and decode again (the entries, the sync ID, nothing skipped the second time).
import SwitchyardControl

/// libFuzzer's entry point. Exported by name, whichever main runs (libFuzzer's own, or the
/// Swift one in main.swift that calls LLVMFuzzerRunDriver).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let message = try? SyncCodec.decode(UnsafeRawBufferPointer(start: data, count: size)) else { return 0 }
    // Any max length: a small one also exercises the split; 65535 keeps most in one message.
    let maxLength = size > 0 && data[0] & 1 == 1 ? 100 : 65535
    var again: [SyncEntry] = []
    for datagram in SyncCodec.encode(message.entries, syncID: message.syncID, maxLength: maxLength) {
        guard let decoded = try? SyncCodec.decode(datagram) else { preconditionFailure("our own message refused") }
        precondition(decoded.syncID == message.syncID && decoded.skipped.isEmpty, "sync ID or skips changed")
        again += decoded.entries
    }
    precondition(again == message.entries, "entries changed through encode and decode")
    return 0
}
