// The keepalived.conf grammar: line-oriented statements `keyword arg arg…`, blocks in braces
// (which may open and close on one line), comments from `!` or `#` to the end of the line,
// double-quoted arguments. This file only builds the statement tree; Config.swift gives it
// meaning.

/// A place in a config file, 1-based.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var description: String { "\(line):\(column)" }
}

/// An error or warning about a config file, printed `PATH:LINE:COL: message`.
public struct ConfigDiagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var location: SourceLocation
    public var message: String
    public var isWarning: Bool

    public var description: String {
        "\(path):\(location.line):\(location.column): \(isWarning ? "warning: " : "")\(message)"
    }
}

struct Token: Equatable {
    enum Kind { case word, open, close, newline }
    var kind: Kind
    var text: String
    var location: SourceLocation
}

/// One statement: its keyword, arguments, and children if it opened a block.
struct Statement {
    var keyword: Token
    var arguments: [Token]
    var children: [Statement]?
}

enum ConfigSyntax {
    /// The deepest nesting of blocks accepted. keepalived's deepest real nesting is about 4
    /// (virtual_server › real_server › HTTP_GET › url); the limit is far above that, and keeps
    /// a hostile or broken file from overflowing the stack of the recursive parser below.
    static let maxNesting = 64

    static func tokenize(_ text: String, path: String) throws(ConfigDiagnostic) -> [Token] {
        var tokens: [Token] = []
        var line = 1
        var column = 1
        var chars = Array(text.unicodeScalars)[...]
        func error(_ message: String, _ at: SourceLocation) -> ConfigDiagnostic {
            ConfigDiagnostic(path: path, location: at, message: message, isWarning: false)
        }
        while let c = chars.first {
            let here = SourceLocation(line: line, column: column)
            switch c {
            case "\n":
                tokens.append(Token(kind: .newline, text: "\n", location: here))
                chars.removeFirst()
                line += 1
                column = 1
            case " ", "\t", "\r":
                chars.removeFirst()
                column += 1
            case "!", "#":
                while let d = chars.first, d != "\n" { chars.removeFirst(); column += 1 }
            case "{":
                tokens.append(Token(kind: .open, text: "{", location: here))
                chars.removeFirst()
                column += 1
            case "}":
                tokens.append(Token(kind: .close, text: "}", location: here))
                chars.removeFirst()
                column += 1
            case "\"":
                chars.removeFirst()
                column += 1
                var word = ""
                while true {
                    guard let d = chars.first, d != "\n" else { throw error("unterminated quoted string", here) }
                    chars.removeFirst()
                    column += 1
                    if d == "\"" { break }
                    word.unicodeScalars.append(d)
                }
                tokens.append(Token(kind: .word, text: word, location: here))
            default:
                var word = ""
                while let d = chars.first, !" \t\r\n{}".unicodeScalars.contains(d) {
                    word.unicodeScalars.append(d)
                    chars.removeFirst()
                    column += 1
                }
                tokens.append(Token(kind: .word, text: word, location: here))
            }
        }
        return tokens
    }

    static func parse(_ text: String, path: String) throws(ConfigDiagnostic) -> [Statement] {
        let tokens = try tokenize(text, path: path)
        var index = 0

        func block(depth: Int, opener: Token?) throws(ConfigDiagnostic) -> [Statement] {
            var statements: [Statement] = []
            while index < tokens.count {
                let t = tokens[index]
                switch t.kind {
                case .newline:
                    index += 1
                case .close:
                    guard depth > 0 else {
                        throw ConfigDiagnostic(path: path, location: t.location, message: "unexpected '}' with no open block",
                                               isWarning: false)
                    }
                    index += 1
                    return statements
                case .open:
                    throw ConfigDiagnostic(path: path, location: t.location, message: "'{' without a keyword before it",
                                           isWarning: false)
                case .word:
                    index += 1
                    var args: [Token] = []
                    while index < tokens.count, tokens[index].kind == .word {
                        args.append(tokens[index])
                        index += 1
                    }
                    var children: [Statement]?
                    // The opening brace may also stand alone on a following line.
                    var next = index
                    while next < tokens.count, tokens[next].kind == .newline { next += 1 }
                    if next < tokens.count, tokens[next].kind == .open {
                        index = next
                        let open = tokens[index]
                        guard depth < maxNesting else {
                            throw ConfigDiagnostic(path: path, location: open.location,
                                                   message: "blocks nest more than \(maxNesting) deep here; "
                                                       + "keepalived's own configs nest about 4 (is a '}' missing?)",
                                                   isWarning: false)
                        }
                        index += 1
                        children = try block(depth: depth + 1, opener: open)
                    }
                    statements.append(Statement(keyword: t, arguments: args, children: children))
                }
            }
            if let opener, depth > 0 {
                throw ConfigDiagnostic(path: path, location: opener.location,
                                       message: "block opened here is never closed (missing '}')",
                                       isWarning: false)
            }
            return statements
        }
        return try block(depth: 0, opener: nil)
    }
}
