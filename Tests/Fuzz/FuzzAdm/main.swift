// libFuzzer's driver runs the loop. It is looked up at run time, not linked by name, so that a
// plain `swift build` or `swift test` (no -sanitize=fuzzer) still links this target; run it
// from Tests/fuzz.sh. The target's state lives in Target.swift, where globals are initialized
// lazily, so it is also sound when libFuzzer's own main is the one that runs.
import Glibc

typealias Callback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
typealias Driver = @convention(c) (UnsafeMutablePointer<CInt>,
                                   UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                                   Callback) -> CInt

guard let symbol = dlsym(nil, "LLVMFuzzerRunDriver") else {
    let message = Array("this fuzz target was built without libFuzzer: run Tests/fuzz.sh\n".utf8)
    _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
let status = unsafeBitCast(symbol, to: Driver.self)(&argc, &argv) { data, size in
    // libFuzzer may pass a null pointer for the empty input.
    guard let data else { return 0 }
    return fuzz(data, size)
}
exit(status)
