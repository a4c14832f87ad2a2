// keepalived's `~LST(VAR, A, B, C) rest of line` and `~LST({V1, V2}, {A1, A2}, {B1, B2}) rest`:
// the rest of the line is read once for each value (or set of values), with the variables
// defined as them. Parsed as keepalived 2.2's add_lst (lib/parser.c); values are taken as
// written (add_lst substitutes nothing in them), missing ones in a set are empty.
// ConfigLines.swift repeats the line.

/// A parsed `~LST(…)` head and the text it repeats.
struct ConfigList: Equatable {
    var variables: [String]
    /// One entry per repetition, one value per variable.
    var valueSets: [[String]]
    var repeated: ConfigText

    /// Whether `line` is a list line (read_line tests the first four characters).
    static func starts(_ line: ConfigText) -> Bool { line.starts(with: ["~", "L", "S", "T"]) }

    /// Parses a line that `starts` a list; throws the message for the user.
    static func parse(_ line: ConfigText) throws(ListError) -> ConfigList {
        // A NUL stands for the end of the line, as in add_lst's C string.
        let text = line + ["\0"]
        var index = 4
        func skipBlanks() { while text[index] == " " || text[index] == "\t" { index += 1 } }
        func word(endingAt stops: String) -> String {
            let start = index
            while text[index] != "\0", !stops.unicodeScalars.contains(text[index]) { index += 1 }
            return String(String.UnicodeScalarView(text[start..<index]))
        }
        skipBlanks()
        guard text[index] == "(" else { throw .shape }
        index += 1
        skipBlanks()
        var end: Unicode.Scalar = ","
        if text[index] == "{" {
            end = "}"
            index += 1
            skipBlanks()
        }
        var variables: [String] = []
        while true {
            variables.append(word(endingAt: " \t,}"))
            skipBlanks()
            if text[index] == end { break }
            guard text[index] == "," else { throw .shape }
            index += 1
            skipBlanks()
        }
        if text[index] == "}" {
            index += 1
            skipBlanks()
        }
        guard text[index] == "," else { throw .shape }
        index += 1
        skipBlanks()

        var valueSets: [[String]] = []
        while true {
            end = ","
            if text[index] == "{" {
                end = "}"
                index += 1
                skipBlanks()
            }
            var values: [String] = []
            while true {
                values.append(word(endingAt: " \t,})"))
                skipBlanks()
                if text[index] == end || (text[index] == ")" && end == ",") { break }
                guard text[index] == "," else { throw .shape }
                index += 1
                skipBlanks()
                guard values.count < variables.count else { throw .tooManyValues }
            }
            values += Array(repeating: "", count: max(0, variables.count - values.count))
            valueSets.append(values)
            if text[index] == "}" && end == "}" {
                index += 1
                skipBlanks()
            }
            if text[index] == ")" { break }
            guard text[index] == "," else { throw .shape }
            index += 1
            skipBlanks()
        }
        index += 1
        skipBlanks()
        return ConfigList(variables: variables, valueSets: valueSets, repeated: Array(text[index..<(text.count - 1)]))
    }
}

/// What is wrong with a `~LST(…)` head; ConfigLines.swift turns it into a located error.
enum ListError: Error {
    case shape, tooManyValues

    var message: String {
        switch self {
        case .shape:
            "~LST needs a variable and its values, ~LST(VAR, A, B), or variables and sets of values, "
                + "~LST({V1, V2}, {A1, A2}, {B1, B2}), then the line to repeat"
        case .tooManyValues:
            "~LST has a set with more values than there are variables"
        }
    }
}
