// keepalived's `~SEQ(VAR, START, STEP, END) rest of line`: the rest of the line is read once for
// each value, with $VAR defined as that value. This file parses the `~SEQ(…)` head as
// keepalived 2.2's add_seq (lib/parser.c) does; ConfigLines.swift repeats the line.

/// A parsed `~SEQ(…)` or `~SEQx(…)` head and the text it repeats.
struct ConfigSequence: Equatable {
    var variable: String
    var start: Int
    var step: Int
    var end: Int
    /// `~SEQx`: values written in lower-case hex without 0x (for IPv6 addresses).
    var hex: Bool
    var repeated: ConfigText

    /// Whether `line` is a sequence line at all (read_line tests the first four characters).
    static func starts(_ line: ConfigText) -> Bool { line.starts(with: ["~", "S", "E", "Q"]) }

    /// The values in order, as text.
    var values: some Sequence<String> {
        let first = start, step = step, end = end, hex = hex
        return sequence(state: Optional(first)) { (next: inout Int?) -> String? in
            guard let value = next else { return nil }
            let (following, overflow) = value.addingReportingOverflow(step)
            next = overflow || (step > 0 && following > end) || (step < 0 && following < end) ? nil : following
            return hex ? String(value, radix: 16) : String(value)
        }
    }

    /// Parses a line that `starts` a sequence. `substitute` replaces definitions in the
    /// parameters (add_seq allows `~SEQ(i, $FIRST, $LAST)`). Throws the message for the user.
    static func parse(_ line: ConfigText, substitute: (inout ConfigText) -> Bool) throws(SequenceError) -> ConfigSequence {
        var index = 4
        let hex = index < line.count && line[index] == "x"
        if hex { index += 1 }
        func skipBlanks() { while index < line.count, line[index] == " " || line[index] == "\t" { index += 1 } }
        skipBlanks()
        guard index < line.count, line[index] == "(" else { throw .shape }
        index += 1
        skipBlanks()
        let variableStart = index
        while index < line.count, ![" ", "\t", ",", ")"].contains(line[index]) { index += 1 }
        let variable = String(String.UnicodeScalarView(line[variableStart..<index]))
        skipBlanks()
        guard !variable.isEmpty, index < line.count, line[index] == "," else { throw .shape }
        index += 1
        guard let close = line[index...].firstIndex(of: ")") else { throw .shape }
        var parameters = Array(line[index...close])
        if substitute(&parameters) && parameters.contains("\n") { throw .multilineParameter }

        // One, two or three numbers, each as strtol(…, 0) reads it.
        var numbers: [Int] = []
        var cursor = 0
        while true {
            guard let (number, next) = strtol(parameters, from: cursor) else { throw .shape }
            numbers.append(number)
            cursor = next
            while cursor < parameters.count, parameters[cursor] == " " || parameters[cursor] == "\t" { cursor += 1 }
            guard cursor < parameters.count else { throw .shape }
            if parameters[cursor] == ")" { break }
            guard parameters[cursor] == ",", numbers.count < 3 else { throw .shape }
            cursor += 1
        }
        var sequence = ConfigSequence(variable: variable, start: 1, step: 1, end: 1, hex: hex, repeated: [])
        switch numbers.count {
        case 1:
            sequence.end = numbers[0]
            sequence.step = sequence.end < 1 ? -1 : 1
            sequence.start = sequence.end < 0 ? -1 : 1
        case 2:
            sequence.start = numbers[0]
            sequence.end = numbers[1]
            sequence.step = sequence.start <= sequence.end ? 1 : -1
        default:
            (sequence.start, sequence.step, sequence.end) = (numbers[0], numbers[1], numbers[2])
            let s = sequence
            if s.step == 0 || (s.start < s.end && s.step < 0) || (s.start > s.end && s.step > 0) { throw .values }
        }
        if hex && (sequence.start < 0 || sequence.end < 0) { throw .negativeHex }
        sequence.repeated = Array(line[(close + 1)...].drop { $0 == " " || $0 == "\t" })
        return sequence
    }

    /// C's strtol with base 0: blanks, a sign, then 0x… hex, 0… octal or decimal. Nil when
    /// no digit follows (strtol would read 0 and not move; add_seq then fails on the next
    /// character, as here). Saturates as strtol does.
    static func strtol(_ text: ConfigText, from start: Int) -> (Int, Int)? {
        var index = start
        while index < text.count, [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}"].contains(text[index]) { index += 1 }
        var negative = false
        if index < text.count, text[index] == "-" || text[index] == "+" {
            negative = text[index] == "-"
            index += 1
        }
        var radix = 10
        if index + 1 < text.count, text[index] == "0", text[index + 1] == "x" || text[index + 1] == "X",
           index + 2 < text.count, text[index + 2].properties.isASCIIHexDigit {
            radix = 16
            index += 2
        } else if index < text.count, text[index] == "0" {
            radix = 8
        }
        var value = 0
        var any = false
        var saturated = false
        while index < text.count, let digit = Int(String(text[index]), radix: radix) {
            any = true
            let (times, overflow1) = value.multipliedReportingOverflow(by: radix)
            let (plus, overflow2) = times.addingReportingOverflow(digit)
            if overflow1 || overflow2 { saturated = true } else { value = plus }
            index += 1
        }
        guard any else { return nil }
        if saturated { return (negative ? Int.min : Int.max, index) }
        return (negative ? -value : value, index)
    }
}

/// What is wrong with a `~SEQ(…)` head; ConfigLines.swift turns it into a located error.
enum SequenceError: Error {
    case shape, values, negativeHex, multilineParameter

    var message: String {
        switch self {
        case .shape:
            "~SEQ needs a variable and one to three whole numbers: ~SEQ(VAR, END), ~SEQ(VAR, START, END) or "
                + "~SEQ(VAR, START, STEP, END), then the line to repeat, e.g. ~SEQ(n, 1, 4) real_server 10.0.0.$n 80"
        case .values:
            "~SEQ's STEP must not be 0 and must go from START towards END, e.g. ~SEQ(n, 10, -2, 4)"
        case .negativeHex:
            "~SEQx writes hex for numbers from 0 up only; START and END must not be negative"
        case .multilineParameter:
            "~SEQ's numbers cannot come from a multi-line definition"
        }
    }
}
