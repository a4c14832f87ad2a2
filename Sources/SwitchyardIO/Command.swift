// Running a helper program (nft) for the control plane and reading what it printed.

import Glibc

/// Runs a program (found on PATH) with optional standard input and returns its exit status
/// and what it printed. For control-plane helpers only (nft), never the data path.
public func runCommand(_ argv: [String], input: String? = nil) -> (status: Int32, output: String) {
    var inPipe: [Int32] = [-1, -1]
    var outPipe: [Int32] = [-1, -1]
    guard pipe(&inPipe) == 0, pipe(&outPipe) == 0 else { return (-1, "pipe failed") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 2)
    for fd in inPipe + outPipe { posix_spawn_file_actions_addclose(&actions, fd) }

    var pid: pid_t = 0
    let cArgs = argv.map { strdup($0) } + [nil]
    defer { cArgs.forEach { free($0) } }
    let rc = posix_spawnp(&pid, argv[0], &actions, nil, cArgs, environ)
    close(inPipe[0])
    close(outPipe[1])
    guard rc == 0 else {
        close(inPipe[1])
        close(outPipe[0])
        return (-1, "cannot run \(argv[0]): \(String(cString: strerror(rc)))")
    }
    if let input {
        let bytes = Array(input.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(inPipe[1], $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { break }
            offset += n
        }
    }
    close(inPipe[1])
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = retryingOnInterrupt { buffer.withUnsafeMutableBytes { read(outPipe[0], $0.baseAddress, $0.count) } }
        if n <= 0 { break }
        output.append(contentsOf: buffer[0..<n])
    }
    close(outPipe[0])
    var status: Int32 = 0
    _ = retryingOnInterrupt { waitpid(pid, &status, 0) }
    let exitCode = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return (exitCode, String(decoding: output, as: UTF8.self))
}
