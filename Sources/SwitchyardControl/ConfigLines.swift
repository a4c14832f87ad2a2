// The line layer of keepalived.conf, below keywords: turns files into the lines the tokenizer
// reads, as keepalived 2.2's read_line (lib/parser.c) does. For each line of a file: comments
// go (decomment), `$NAME=value` defines, `@ID`/`@^ID` keep a line only on the matching config
// id, `~SEQ(…)` and `~LST(…)` repeat the rest of the line, `$NAME` is substituted, `include PATTERN` reads
// other files in place, and a brace in mid-line starts a new line, so that all of the above also
// works after a brace. Every line remembers its file, line and column.
import Glibc

/// One line ready for the tokenizer, and where it came from.
struct ConfigLine {
    var text: ConfigText
    /// The file (nil: the file being read), line and column of `text`'s first character.
    /// Columns are exact for text that no substitution rewrote.
    var location: SourceLocation
}

/// Reads config text into `ConfigLine`s, following includes.
struct ConfigLineReader {
    /// Includes nest at most this deep; keepalived has no limit, and a file that includes
    /// itself would open files until it ran out of them.
    static let maximumIncludeDepth = 16
    /// Lines repeated or expanded (~SEQ, multi-line definitions) nest at most this deep.
    static let maximumExpansionDepth = 32
    /// A config expands to at most this many lines (a ~SEQ over a wide range would not stop);
    /// 20,000 real servers with checkers take about 200,000.
    static let maximumLines = 1_000_000

    /// `maximumLines`, lowered by tests.
    var lineLimit = Self.maximumLines
    var definitions: ConfigDefinitions
    /// The config id `@ID` lines are compared with.
    let configID: String
    private(set) var lines: [ConfigLine] = []
    private(set) var warnings: [ConfigDiagnostic] = []
    /// The name of the file being read as printed in diagnostics, and its path.
    private var mainPath = ""
    private var includeDepth = 0
    /// The multi-line definition being read, if any.
    private var openDefinition: String?
    /// Lines a ~SEQ was asked to repeat so far (they may produce no line, e.g. definitions).
    private var repetitions = 0

    init(configID: String) {
        self.configID = configID
        definitions = ConfigDefinitions(configID: configID)
    }

    /// The config id keepalived uses without `--config-id`: the host name up to its first dot.
    static func hostConfigID() -> String {
        var names = utsname()
        guard uname(&names) == 0 else { return "" }
        let node = withUnsafeBytes(of: &names.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return String(node.prefix { $0 != "." })
    }

    /// Reads the text of the top-level file at `path`.
    mutating func read(_ text: String, path: String) throws(ConfigDiagnostic) {
        mainPath = path
        try read(text, path: path, label: nil)
    }

    private mutating func read(_ text: String, path: String, label: String?) throws(ConfigDiagnostic) {
        let savedDirectory = definitions.currentDirectory
        definitions.currentDirectory = ConfigInclude.absoluteDirectory(of: path)
        defer { definitions.currentDirectory = savedDirectory }
        var number = 0
        for physical in Array(text.unicodeScalars).split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var raw = Array(physical)
            while raw.last == "\r" { raw.removeLast() }
            let here = SourceLocation(line: number, column: 1, file: label)
            if raw.isEmpty {
                // An empty line ends a multi-line definition.
                if let name = openDefinition { definitions.endDefinition(name) }
                openDefinition = nil
                continue
            }
            let (line, leading) = Self.decomment(raw)
            if line.isEmpty { continue }
            if let name = openDefinition {
                if !definitions.continueDefinition(name, line: line) { openDefinition = nil }
                continue
            }
            var start = here
            start.column = leading + 1
            try process(line, at: start, depth: 0)
        }
    }

    /// Removes a comment (from an unquoted `!` or `#`, even inside a word), the backslash of an
    /// escaped `\!` or `\#`, and blanks at both ends; a trailing `\` (a definition going on to
    /// the next line) is kept. Returns the line and how many leading blanks went (decomment).
    static func decomment(_ raw: ConfigText) -> (ConfigText, Int) {
        let leading = raw.prefix { $0 == " " || $0 == "\t" }.count
        var text = Array(raw[leading...])
        var quoted = false
        var continues = false
        var comment: Int?
        var index = 0
        scan: while index < text.count {
            switch text[index] {
            case "\"":
                if comment == nil { quoted.toggle() }
            case "\\":
                guard index + 1 < text.count else {
                    text.removeLast()
                    continues = true
                    break scan
                }
                if !quoted && (text[index + 1] == "#" || text[index + 1] == "!") {
                    text.remove(at: index)
                } else {
                    index += 1
                }
            case "!", "#":
                if !quoted && comment == nil { comment = index }
            default:
                break
            }
            index += 1
        }
        if let comment { text.removeSubrange(comment...) }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        if continues { text.append("\\") }
        return (text, leading)
    }

    private func error(_ message: String, at location: SourceLocation) -> ConfigDiagnostic {
        ConfigDiagnostic(path: mainPath, location: location, message: message, isWarning: false)
    }

    private mutating func warn(_ message: String, at location: SourceLocation) {
        warnings.append(ConfigDiagnostic(path: mainPath, location: location, message: message, isWarning: true))
    }

    /// One line through the directives, then out as lines; then the lines a multi-line
    /// definition added after it.
    private mutating func process(_ line: ConfigText, at location: SourceLocation, depth: Int) throws(ConfigDiagnostic) {
        guard depth <= Self.maximumExpansionDepth else {
            throw error("definitions and ~SEQ lines expand into each other more than \(Self.maximumExpansionDepth) deep here; "
                            + "does a multi-line definition use itself?", at: location)
        }
        var following: [ConfigText] = []
        if let text = try directives(line, at: location, depth: depth, following: &following) {
            try emit(text.text, at: text.location, depth: depth, following: &following)
        }
        for next in following { try process(next, at: location, depth: depth + 1) }
    }

    /// The part of read_line between reading a line and returning it: `@ID`, `$NAME=value`,
    /// `~SEQ`, and substitution, again while a substitution brings up another of them.
    /// Returns what is left to emit, or nil when the line was used up.
    private mutating func directives(_ line: ConfigText, at location: SourceLocation, depth: Int,
                                     following: inout [ConfigText]) throws(ConfigDiagnostic) -> (text: ConfigText, location: SourceLocation)? {
        var text = line
        var location = location
        for _ in 0..<ConfigDefinitions.maximumSubstitutions {
            if text.first == "@" {
                // @ID keeps the line only for config id ID, @^ID only for any other.
                let inverted = text.count > 1 && text[1] == "^"
                let idStart = inverted ? 2 : 1
                guard let blank = text[idStart...].firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
                let id = String(String.UnicodeScalarView(text[idStart..<blank]))
                if (id != configID) != inverted { return nil }
                let rest = text[blank...].prefix { $0 == " " || $0 == "\t" }.count + blank
                text.removeSubrange(..<rest)
                location.column += rest
            }
            if text.first == "$", let (name, multiline) = definitions.definition(in: text) {
                if multiline { openDefinition = name }
                return nil
            }
            if ConfigSequence.starts(text) {
                try repeatSequence(text, at: location, depth: depth)
                return nil
            }
            if ConfigList.starts(text) {
                try repeatList(text, at: location, depth: depth)
                return nil
            }
            if text.first == "~" || !text.contains("$") { return text.isEmpty ? nil : (text, location) }
            let result = definitions.substitute(&text)
            if result.runaway {
                throw error("a definition here keeps expanding (does it use itself?); the line grew past "
                                + "\(ConfigDefinitions.maximumLineLength) characters or \(ConfigDefinitions.maximumSubstitutions) uses",
                            at: location)
            }
            following = result.followingLines + following
            guard result.replaced else { return text.isEmpty ? nil : (text, location) }
            // Substituted text is read as written: its comments go too.
            text = Self.decomment(text).0
            if text.isEmpty { return nil }
            guard text.first == "@" || text.contains("$") else { return (text, location) }
        }
        throw error("definitions here keep substituting into each other; does one use itself?", at: location)
    }

    /// Reads `~SEQ(VAR, …) rest` as `rest` once per value, with $VAR defined as the value.
    private mutating func repeatSequence(_ line: ConfigText, at location: SourceLocation, depth: Int) throws(ConfigDiagnostic) {
        let definitions = self.definitions
        let sequence: ConfigSequence
        do {
            sequence = try ConfigSequence.parse(line) { definitions.substitute(&$0).replaced }
        } catch {
            throw self.error(error.message, at: location)
        }
        var start = location
        start.column += line.count - sequence.repeated.count
        for value in sequence.values {
            repetitions += 1
            guard repetitions <= lineLimit else {
                throw self.error("~SEQ lines repeat more than \(lineLimit) times in all; is a range too wide?", at: location)
            }
            self.definitions.define(sequence.variable, Array(value.unicodeScalars))
            try process(sequence.repeated, at: start, depth: depth + 1)
        }
    }

    /// Reads `~LST(…) rest` as `rest` once per value set, with the variables defined as its values.
    private mutating func repeatList(_ line: ConfigText, at location: SourceLocation, depth: Int) throws(ConfigDiagnostic) {
        let list: ConfigList
        do {
            list = try ConfigList.parse(line)
        } catch {
            throw self.error(error.message, at: location)
        }
        var start = location
        start.column += line.count - list.repeated.count
        for values in list.valueSets {
            for (variable, value) in zip(list.variables, values) { definitions.define(variable, Array(value.unicodeScalars)) }
            try process(list.repeated, at: start, depth: depth + 1)
        }
    }

    /// Hands a processed line to the tokenizer, split after its first brace as read_line does,
    /// or reads the files an include names. The rest after a brace goes through the
    /// directives again when it starts with one (`@`, `$`, `~`); the rest of a line whose `$`
    /// uses were already replaced is taken as it is, so a line of 100,000 braces costs no more
    /// than its length.
    private mutating func emit(_ line: ConfigText, at location: SourceLocation, depth: Int,
                               following: inout [ConfigText]) throws(ConfigDiagnostic) {
        var text = line
        var start = 0
        var location = location
        while true {
            let rest = text[start...]
            if let include = ConfigInclude(rest) {
                try self.include(include, at: location)
                return
            }
            if rest.count <= 8, ["include", "includer", "includem", "includew", "includeb", "includea"].contains(String(String.UnicodeScalarView(rest))) {
                throw error("\(String(String.UnicodeScalarView(rest))) needs a file or a pattern, e.g. include /etc/keepalived/conf.d/*.conf",
                            at: location)
            }
            guard let brace = Self.firstBrace(text, from: start) else { break }
            var cut = brace
            if brace == start {
                cut = brace + 1
                while cut < text.count, text[cut] == " " || text[cut] == "\t" { cut += 1 }
            }
            guard cut < text.count else { break }
            var pieceEnd = cut
            while pieceEnd > start, text[pieceEnd - 1] == " " || text[pieceEnd - 1] == "\t" { pieceEnd -= 1 }
            try append(Array(text[start..<pieceEnd]), at: location)
            location.column += cut - start
            start = cut
            guard ["@", "$", "~"].contains(text[start]) else { continue }
            var residueFollowing: [ConfigText] = []
            let residue = try directives(Array(text[start...]), at: location, depth: depth, following: &residueFollowing)
            following = residueFollowing + following
            guard let residue else { return }
            text = residue.text
            start = 0
            location = residue.location
        }
        try append(Array(text[start...]), at: location)
    }

    /// The first `{` or `}` from `start` on outside double quotes.
    static func firstBrace(_ text: ConfigText, from start: Int) -> Int? {
        var quoted = false
        for index in start..<text.count {
            let c = text[index]
            if c == "\"" { quoted.toggle() } else if !quoted && (c == "{" || c == "}") { return index }
        }
        return nil
    }

    private mutating func append(_ text: ConfigText, at location: SourceLocation) throws(ConfigDiagnostic) {
        guard !text.isEmpty else { return }
        guard lines.count < lineLimit else {
            throw error("the config expands to more than \(lineLimit) lines here; is a ~SEQ range too wide?", at: location)
        }
        warnUndefined(text, at: location)
        lines.append(ConfigLine(text: text, location: location))
    }

    /// keepalived keeps `$NAME` as written when NAME is not defined; almost always a typo or a
    /// definition placed after its use, so it is said.
    private mutating func warnUndefined(_ text: ConfigText, at location: SourceLocation) {
        var index = 0
        while let dollar = text[index...].firstIndex(of: "$") {
            // Inside quotes a $NAME is usually meant for the shell of a notify or misc_path script.
            let quoted = text[..<dollar].filter { $0 == "\"" }.count % 2 == 1
            index = dollar + 1
            let braces = index < text.count && text[index] == "{"
            let nameStart = braces ? index + 1 : index
            guard nameStart < text.count, text[nameStart].isLetterOrUnderscore else { continue }
            let name = String(String.UnicodeScalarView(text[nameStart...].prefix { $0.isNameCharacter }))
            var at = location
            at.column += dollar
            if definitions.isDefined(name) {
                let after = nameStart + name.unicodeScalars.count
                if !braces && after < text.count {
                    warn("$\(name) is followed by \"\(text[after])\", so it is not replaced (keepalived neither); "
                         + "write ${\(name)} to join it to what follows", at: at)
                }
            } else if !quoted {
                warn("$\(name) is not defined, so it stays as written; define it above its first use with $\(name)=value", at: at)
            }
        }
    }

    /// Reads the files an include names, each as if its lines stood here.
    private mutating func include(_ include: ConfigInclude, at location: SourceLocation) throws(ConfigDiagnostic) {
        let includingFile = location.file ?? mainPath
        guard includeDepth < Self.maximumIncludeDepth else {
            throw error("includes nest more than \(Self.maximumIncludeDepth) deep here; does a file include itself?", at: location)
        }
        func problem(_ message: String) throws(ConfigDiagnostic) {
            let text = "include \(include.pattern): \(message)"
            if include.strict { throw error(text, at: location) }
            warn(text + "; skipped, as keepalived does (includer makes this an error)", at: location)
        }
        let pattern = ConfigInclude.resolve(include.pattern, includingFile: includingFile)
        let (paths, failure) = ConfigInclude.expand(pattern)
        if let failure { return try problem(failure) }
        if paths.isEmpty { return try problem("no file matches") }
        for path in paths {
            if let reason = ConfigInclude.reasonToSkip(path) {
                try problem("\(path) \(reason)")
                continue
            }
            let text: String
            do {
                text = try ConfigFile.read(path)
            } catch {
                try problem("\(path): \(error.message)")
                continue
            }
            includeDepth += 1
            defer { includeDepth -= 1 }
            try read(text, path: path, label: path)
        }
    }
}
