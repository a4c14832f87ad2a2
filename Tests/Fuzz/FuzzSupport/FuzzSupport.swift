// The libFuzzer driver for the fuzz targets. It is looked up at run time, not linked by name, so
// that a plain `swift build` or `swift test` (no -sanitize=fuzzer) still links the targets; run
// them from Tests/fuzz.sh, which exports the symbol.
import Glibc

public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
typealias Driver = @convention(c) (UnsafeMutablePointer<CInt>,
                                   UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                                   FuzzCallback) -> CInt

/// Runs libFuzzer's loop with `callback` and exits with its status.
public func runLibFuzzer(_ callback: FuzzCallback) -> Never {
    guard let symbol = dlsym(nil, "LLVMFuzzerRunDriver") else {
        let message = Array("this fuzz target was built without libFuzzer: run Tests/fuzz.sh\n".utf8)
        _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(2)
    }
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(unsafeBitCast(symbol, to: Driver.self)(&argc, &argv, callback))
}
