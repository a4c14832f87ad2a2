// libFuzzer's driver runs the loop; SwiftPM's executable entry point hands it the arguments.
// The target's state lives in Target.swift, where globals are initialized lazily, so it is
// also sound when libFuzzer's own main is the one that runs.
import Glibc
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    // libFuzzer may pass a null pointer for the empty input.
    guard let data else { return 0 }
    return fuzz(data, size)
}
exit(status)
