// The keepalived.conf grammar: line-oriented statements `keyword arg arg…`, blocks in braces
// (which may open and close on one line), double-quoted arguments. This file builds the
// statement tree from the lines ConfigLines.swift makes (comments, definitions, conditionals,
// ~SEQ and includes are handled there); Config.swift gives the tree meaning.

/// A place in a config file, 1-based.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    /// The included file this place is in; nil for the file that was given (the diagnostic's path).
    public var file: String? = nil
    public var description: String { "\(line):\(column)" }
}

/// An error or warning about a config file, printed `PATH:LINE:COL: message`.
public struct ConfigDiagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var location: SourceLocation
    public var message: String
    public var isWarning: Bool

    /// `path` is the file that was given; a place in a file it includes names that file instead,
    /// so every reader's diagnostics point into the right file without knowing about includes.
    public init(path: String, location: SourceLocation, message: String, isWarning: Bool) {
        self.path = location.file ?? path
        self.location = location
        self.message = message
        self.isWarning = isWarning
    }

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

    /// Reads config text through the line layer (ConfigLines.swift) into a statement tree.
    /// `configID` is what `@ID` lines are compared with (default: the host name's first label);
    /// warnings of that layer (an include that matched nothing, an undefined $NAME) are added to
    /// `warnings`.
    static func parse(_ text: String, path: String, configID: String? = nil, lineLimit: Int? = nil,
                      warnings: inout [ConfigDiagnostic]) throws(ConfigDiagnostic) -> [Statement] {
        var reader = ConfigLineReader(configID: configID ?? ConfigLineReader.hostConfigID())
        if let lineLimit { reader.lineLimit = lineLimit }
        try reader.read(text, path: path)
        warnings += reader.warnings
        return try parse(lines: reader.lines, path: path)
    }

    /// The same, for callers that do not want the warnings.
    static func parse(_ text: String, path: String, configID: String? = nil) throws(ConfigDiagnostic) -> [Statement] {
        var warnings: [ConfigDiagnostic] = []
        return try parse(text, path: path, configID: configID, warnings: &warnings)
    }

    /// Splits lines into words, braces and line ends, each token keeping its file, line and column.
    static func tokenize(_ lines: [ConfigLine], path: String) throws(ConfigDiagnostic) -> [Token] {
        var tokens: [Token] = []
        for line in lines {
            let chars = line.text
            var index = 0
            func here() -> SourceLocation {
                var location = line.location
                location.column += index
                return location
            }
            while index < chars.count {
                let c = chars[index]
                switch c {
                case " ", "\t", "\r", "\n", "\u{0B}", "\u{0C}":
                    index += 1
                case "{", "}":
                    tokens.append(Token(kind: c == "{" ? .open : .close, text: String(c), location: here()))
                    index += 1
                case "\"":
                    let start = here()
                    index += 1
                    var word = ""
                    while true {
                        guard index < chars.count else {
                            throw ConfigDiagnostic(path: path, location: start, message: "unterminated quoted string", isWarning: false)
                        }
                        let d = chars[index]
                        index += 1
                        if d == "\"" { break }
                        word.unicodeScalars.append(d)
                    }
                    tokens.append(Token(kind: .word, text: word, location: start))
                default:
                    let start = here()
                    var word = ""
                    while index < chars.count, !" \t\r\n\u{0B}\u{0C}{}".unicodeScalars.contains(chars[index]) {
                        word.unicodeScalars.append(chars[index])
                        index += 1
                    }
                    tokens.append(Token(kind: .word, text: word, location: start))
                }
            }
            var end = line.location
            end.column += chars.count
            tokens.append(Token(kind: .newline, text: "\n", location: end))
        }
        return tokens
    }

    /// Builds the statement tree from lines.
    static func parse(lines: [ConfigLine], path: String) throws(ConfigDiagnostic) -> [Statement] {
        let tokens = try tokenize(lines, path: path)
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
