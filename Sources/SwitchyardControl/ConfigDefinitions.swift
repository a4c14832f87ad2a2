// keepalived's parameter definitions: `$NAME=value` lines (one line, or several joined by a
// trailing backslash), their use as `$NAME` or `${NAME}`, and the standard ones keepalived
// predefines (_PWD, _INSTANCE, _RANDOM, _HASH, _BANG). The rules are those of keepalived 2.2's
// lib/parser.c: check_definition, find_definition, replace_param and set_std_definitions.

/// Config text as the lexer handles it: one Unicode scalar per column.
typealias ConfigText = [Unicode.Scalar]

/// The definitions known at one point of the config, and the substitution of their uses.
struct ConfigDefinitions {
    /// The standard definitions whose value is computed at each use (keepalived's def->fn).
    enum Computed { case workingDirectory, instance, random }

    struct Definition {
        var value: ConfigText
        /// Written over several lines: replaces a use only at the end of a line, and its lines
        /// after the first become lines of their own.
        var isMultiline = false
        var computed: Computed?
    }

    /// A use of a definition found in a line: `$NAME`, `${NAME}` or `${NAME 1 6}`.
    struct Reference {
        var name: String
        var range: Range<Int>
        var parameters: ConfigText?
    }

    private(set) var table: [String: Definition] = [:]
    /// What `$_INSTANCE` gives: the config id.
    var configID: String
    /// What `$_PWD` gives: the directory of the file being read (keepalived changes into it).
    var currentDirectory = "/"

    /// A use substitutes at most this many times in one line; a definition that uses itself
    /// (`$A=x $A`) would otherwise grow the line without end (keepalived loops there).
    static let maximumSubstitutions = 1_000
    /// Nor may a line grow past this.
    static let maximumLineLength = 65_536

    init(configID: String) {
        self.configID = configID
        // set_std_definitions
        table["_PWD"] = Definition(value: [], computed: .workingDirectory)
        table["_INSTANCE"] = Definition(value: [], computed: .instance)
        table["_RANDOM"] = Definition(value: [], computed: .random)
        table["_HASH"] = Definition(value: ["#"])
        table["_BANG"] = Definition(value: ["!"])
    }

    func isDefined(_ name: String) -> Bool { table[name] != nil }

    /// Sets a definition, replacing a standard one of that name too (set_definition).
    mutating func define(_ name: String, _ value: ConfigText, multiline: Bool = false) {
        table[name] = Definition(value: value, isMultiline: multiline)
    }

    /// If `line` is `$NAME=value` (no blank before `=`), records it and returns the name
    /// (check_definition). A value ending in `\` starts a multi-line definition: the caller
    /// then feeds the following lines to `continueDefinition`.
    mutating func definition(in line: ConfigText) -> (name: String, multiline: Bool)? {
        guard line.count > 1, line[0] == "$", line[1].isLetterOrUnderscore else { return nil }
        var index = 2
        while index < line.count, line[index] != "=" {
            guard line[index].isNameCharacter else { return nil }
            index += 1
        }
        guard index < line.count else { return nil }
        let name = String(String.UnicodeScalarView(line[1..<index]))
        var value = Array(line[(index + 1)...].drop { $0 == " " || $0 == "\t" })
        var multiline = false
        if value.last == "\\" {
            value.removeLast()
            while let last = value.last, last == " " || last == "\t" { value.removeLast() }
            if !value.isEmpty { value.append("\n") }
            multiline = true
        }
        define(name, value, multiline: multiline)
        return (name, multiline)
    }

    /// Adds one line to a multi-line definition (read_line's multiline_param_def branch);
    /// returns whether the definition goes on to the next line.
    mutating func continueDefinition(_ name: String, line: ConfigText) -> Bool {
        var text = line
        var goesOn = false
        if text.last == "\\" {
            text.removeLast()
            while let last = text.last, last == " " || last == "\t" { text.removeLast() }
            text.append("\n")
            goesOn = true
        }
        // A line holding only the backslash adds nothing.
        if text.count >= 2 || (!text.isEmpty && !goesOn) { table[name]?.value += text }
        if !goesOn { endDefinition(name) }
        return goesOn
    }

    /// A multi-line definition that ended with nothing in it is an ordinary empty one.
    mutating func endDefinition(_ name: String) {
        if table[name]?.value.isEmpty == true { table[name]?.isMultiline = false }
    }

    /// The use of a definition starting at the `$` at `dollar`, if it is one (find_definition):
    /// `$NAME` must be followed by a blank, `,`, `)` or the end of the line; `${NAME}` by
    /// anything. A multi-line definition is used only at the end of a line.
    func reference(in line: ConfigText, at dollar: Int) -> Reference? {
        var index = dollar + 1
        let braces = index < line.count && line[index] == "{"
        if braces { index += 1 }
        guard index < line.count, line[index].isLetterOrUnderscore else { return nil }
        let nameStart = index
        while index < line.count, line[index].isNameCharacter { index += 1 }
        let name = String(String.UnicodeScalarView(line[nameStart..<index]))
        var parameters: ConfigText?
        if braces {
            let parameterStart = index
            while index < line.count, line[index] == " " || line[index].isDigit { index += 1 }
            let written = line[parameterStart..<index].drop { $0 == " " }
            if !written.isEmpty {
                // Parameters may not end with a blank.
                guard line[index - 1] != " " else { return nil }
                parameters = Array(written)
            }
            guard index < line.count, line[index] == "}" else { return nil }
            index += 1
        } else if index < line.count, ![" ", "\t", ",", ")"].contains(line[index]) {
            return nil
        }
        guard let definition = table[name] else { return nil }
        if definition.isMultiline && index != line.count { return nil }
        if parameters != nil && definition.computed != .random { return nil }
        return Reference(name: name, range: dollar..<index, parameters: parameters)
    }

    /// Replaces each use of a definition in `line` (replace_param): the replacement text is
    /// scanned again, so a value may use other definitions. Returns whether anything was
    /// replaced and, for a multi-line definition, its lines after the first, which the caller
    /// reads as lines of their own.
    func substitute(_ line: inout ConfigText) -> (replaced: Bool, followingLines: [ConfigText], runaway: Bool) {
        var position = 0
        var replaced = false
        var following: [ConfigText] = []
        var count = 0
        while let dollar = line[position...].firstIndex(of: "$"), dollar + 1 < line.count {
            guard let reference = reference(in: line, at: dollar), let definition = table[reference.name] else {
                position = dollar + 1
                continue
            }
            count += 1
            if count > Self.maximumSubstitutions || line.count > Self.maximumLineLength {
                return (replaced, following, true)
            }
            replaced = true
            var value = value(of: definition, parameters: reference.parameters)
            if definition.isMultiline {
                let lines = value.split(separator: "\n", omittingEmptySubsequences: false).map(Array.init)
                value = lines.first ?? []
                following = Array(lines.dropFirst()) + following
            }
            line.replaceSubrange(reference.range, with: value)
            position = dollar
            // A value that is a ~SEQ line is left for the caller to repeat.
            if value.first(where: { $0 != " " && $0 != "\t" }) == "~" { break }
        }
        return (replaced, following, false)
    }

    func value(of definition: Definition, parameters: ConfigText?) -> ConfigText {
        switch definition.computed {
        case nil: return definition.value
        case .workingDirectory: return Array(currentDirectory.unicodeScalars)
        case .instance: return Array(configID.unicodeScalars)
        case .random:
            // get_random: ${_RANDOM}, ${_RANDOM MIN} or ${_RANDOM MIN MAX}; 0 to 32767 by default.
            let numbers = (parameters ?? []).split(separator: " ").map { Int(String(String.UnicodeScalarView($0))) ?? 0 }
            let low = numbers.count > 0 ? numbers[0] : 0
            let high = numbers.count > 1 ? numbers[1] : 32_767
            let drawn = low <= high ? Int.random(in: low...high) : low
            return Array(String(drawn).unicodeScalars)
        }
    }
}

extension Unicode.Scalar {
    /// C's isalpha or `_`, in the C locale keepalived parses in.
    var isLetterOrUnderscore: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) || self == "_" }
    var isDigit: Bool { ("0"..."9").contains(self) }
    /// C's isalnum or `_`.
    var isNameCharacter: Bool { isLetterOrUnderscore || isDigit }
}
