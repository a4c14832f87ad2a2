// `switchyard passwd`: reads a password on standard input (asking twice, without echo, on a
// terminal) and prints its bcrypt hash for a switchyard_http_user line.
import ArgumentParser
import Glibc
import HummingbirdBcrypt

struct Passwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the bcrypt hash of a password read on standard input, for switchyard_http_user.",
        discussion: """
        The hash goes in double quotes, so that keepalived's $ definitions leave it alone:
          switchyard_http_user alice "$2b$10$…" operator
        """)

    @Option(name: .long, help: "bcrypt's cost: 2^COST rounds (4 to 16). Each sign-in that is not remembered pays it once.")
    var cost: Int = 10

    func validate() throws {
        guard (4...16).contains(cost) else { throw ValidationError("--cost must be from 4 to 16") }
    }

    func run() throws {
        let terminal = isatty(0) == 1
        guard let password = Self.readSecret(prompt: terminal ? "Password: " : nil) else {
            printError("passwd: no password on standard input")
            throw ExitCode(1)
        }
        if terminal {
            guard Self.readSecret(prompt: "Again: ") == password else {
                printError("passwd: the two passwords differ")
                throw ExitCode(1)
            }
        }
        guard !password.isEmpty else {
            printError("passwd: the password is empty")
            throw ExitCode(1)
        }
        // bcrypt reads 72 bytes at most; a longer password would be cut without a word.
        guard password.utf8.count <= 72 else {
            printError("passwd: the password is longer than bcrypt's 72 bytes")
            throw ExitCode(1)
        }
        print(Bcrypt.hash(password, cost: UInt8(cost)))
    }

    /// One line from standard input, without its newline; echo off while a terminal types it.
    static func readSecret(prompt: String?) -> String? {
        var saved = termios()
        let quiet = prompt != nil && tcgetattr(0, &saved) == 0
        if let prompt { _ = write(2, prompt, prompt.utf8.count) }
        if quiet {
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(0, TCSAFLUSH, &silent)
        }
        defer {
            if quiet {
                tcsetattr(0, TCSAFLUSH, &saved)
                _ = write(2, "\n", 1)
            }
        }
        guard var line = readLine(strippingNewline: true) else { return nil }
        if line.hasSuffix("\r") { line.removeLast() }
        return line
    }
}
