// `switchyard adm -R`'s input read as ipvsadm 1.31 reads it: config_stream.c's
// config_stream_read splits each line into words, and restore_table (ipvsadm.c line 963) runs each
// line as a command of its own. The daemon runs them (Engine/AdmService.swift).

/// ipvsadm's reading of `-R`'s input.
public enum AdmRestore {
    /// Each line's words (split at spaces, tabs and carriage returns), without the word
    /// "ipvsadm" (which config_stream_read drops wherever it stands, so `ipvsadm -A …` lines
    /// work) and without the lines that are left with no word. A `#` is a word like any other:
    /// config_stream_read looks for it only in the whitespace after a word, where it never is,
    /// so ipvsadm has no comments (a `#` line is a command it cannot read, and ends the restore).
    public static func commandLines(_ input: String) -> [[String]] {
        // "\r\n" is one Character in Swift: a line ends at either.
        input.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
                .map(String.init).filter { $0 != "ipvsadm" }
            return words.isEmpty ? nil : words
        }
    }

    /// One line's command. Thrown: what ends the restore there (ipvsadm's parser exits the
    /// whole program), or, where `continues` says so, an error ipvsadm reports and goes on after.
    public static func command(_ words: [String]) throws(AdmError) -> AdmCommand {
        let command = try AdmCommand.parse(words)
        switch command {
        case .addService, .editService, .deleteService, .addReal, .editReal, .deleteReal, .setTimeouts, .clear, .zero:
            return command
        case .restore:
            // restore_table refuses to read its input again: tryhelp_exit.
            throw AdmError(AdmCommand.tryHelp, exitStatus: 255)
        default:
            throw AdmError("only -A -E -D -a -e -d -C -Z --set may be restored here, not: "
                + words.joined(separator: " "), exitStatus: 2)
        }
    }

    /// Whether ipvsadm goes on to the next line after this error: after popt's own errors
    /// ("--bogus: unknown option"), which parse_options returns instead of exiting, and after
    /// the kernel's (an unknown scheduler is one there), not after its parser's or tryhelp's.
    public static func continues(after error: AdmError) -> Bool {
        error.exitStatus == 255 && error.description != AdmCommand.tryHelp
    }
}
