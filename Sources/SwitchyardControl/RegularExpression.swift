// POSIX extended regular expressions (the C library's regcomp/regexec) for HTTP_GET's `regex`.
import Glibc

/// A POSIX extended regular expression (regcomp/regexec from the C library), for HTTP_GET's
/// `regex`: no dependency, the same dialect keepalived's users write.
public final class RegularExpression: @unchecked Sendable {
    private var compiled = regex_t()

    public init?(_ pattern: String) {
        guard regcomp(&compiled, pattern, REG_EXTENDED | REG_NOSUB) == 0 else { return nil }
    }

    deinit { regfree(&compiled) }

    /// Whether the text contains a match.
    public func matches(_ text: String) -> Bool { regexec(&compiled, text, 0, nil, 0) == 0 }
}
