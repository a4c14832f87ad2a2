// Golden tests of the line layer below keywords (ConfigLines.swift and its helpers): what lines
// keepalived 2.2's read_line would hand on for comments, @ID conditionals, $NAME definitions and
// ~SEQ repetitions, each shown as `LINE:COL text`, and the errors and warnings it gives.
import XCTest
@testable import SwitchyardControl

final class ConfigLexerTests: XCTestCase {
    /// The lines `text` becomes, one `LINE:COL text` each, and the warnings.
    func lines(_ text: String, configID: String = "lb1") throws(ConfigDiagnostic) -> (lines: [String], warnings: [String]) {
        var reader = ConfigLineReader(configID: configID)
        try reader.read(text, path: "lex.conf")
        return (reader.lines.map { "\($0.location.line):\($0.location.column) \(String(String.UnicodeScalarView($0.text)))" },
                reader.warnings.map(\.description))
    }

    func error(_ text: String, configID: String = "lb1") -> String {
        do {
            let result = try lines(text, configID: configID)
            return "no error: \(result.lines)"
        } catch {
            return error.description
        }
    }

    // MARK: comments (decomment)

    func testCommentsEndALineEvenGluedToAWord() throws {
        let result = try lines("""
        lb_kind DR# direct
          weight 1!primary
        path /status#x
        ! a whole comment line
        # another
        url "/a#b!c" # quoted text keeps them
        """)
        XCTAssertEqual(result.lines, ["1:1 lb_kind DR", "2:3 weight 1", "3:1 path /status", "6:1 url \"/a#b!c\""])
        XCTAssertEqual(result.warnings, [])
    }

    func testEscapedCommentCharactersAreKeptWithoutTheBackslash() throws {
        XCTAssertEqual(try lines("auth_pass se\\#cr\\!et # note\nregex \"a\\#b\"").lines,
                       ["1:1 auth_pass se#cr!et", "2:1 regex \"a\\#b\""])
    }

    func testGluedCommentsReachTheKeywordsCut() throws {
        let config = try Config.parse("""
        virtual_server 198.18.0.1 80 {
            lb_kind NAT# two-arm
            real_server 198.18.0.11 80 { weight 3!primary
            }
        }
        """, path: "test.conf", configID: "lb1")
        XCTAssertEqual(config.services.first?.method, .nat)
        XCTAssertEqual(config.services.first?.reals.first?.weight, 3)
    }

    // MARK: @ID conditionals

    func testConditionalLinesFollowTheConfigID() throws {
        let text = """
        @lb1 priority 150
        @lb2 priority 100
        @^lb1 state BACKUP
          @lb1   nopreempt
        @lb1
        """
        XCTAssertEqual(try lines(text, configID: "lb1").lines, ["1:6 priority 150", "4:10 nopreempt"])
        XCTAssertEqual(try lines(text, configID: "lb2").lines, ["2:6 priority 100", "3:7 state BACKUP"])
    }

    func testConditionalLinesThroughTheReaderPickTheInstancesPriority() throws {
        let text = """
        vrrp_instance VI_1 {
            interface eth0
            virtual_router_id 51
        @lb1    priority 150
        @lb2    priority 100
            virtual_ipaddress { 198.18.0.100 }
        }
        """
        XCTAssertEqual(try Config.parse(text, path: "t.conf", configID: "lb1").failover.instances.first?.priority, 150)
        XCTAssertEqual(try Config.parse(text, path: "t.conf", configID: "lb2").failover.instances.first?.priority, 100)
    }

    func testTheDefaultConfigIDIsTheHostNamesFirstLabel() {
        var names = utsname()
        XCTAssertEqual(uname(&names), 0)
        let node = withUnsafeBytes(of: &names.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let id = ConfigLineReader.hostConfigID()
        XCTAssertFalse(id.contains("."))
        XCTAssertTrue(node == id || node.hasPrefix(id + "."), "\(node) vs \(id)")
    }

    // MARK: definitions

    func testDefinitionsSubstituteBareAndBraced() throws {
        let result = try lines("""
        $VIP=198.18.0.100
        $PORT= 80
        virtual_server $VIP $PORT {
        real_server 10.0.0.1 ${PORT}80
        $VIP.x
        """)
        XCTAssertEqual(result.lines, ["3:1 virtual_server 198.18.0.100 80", "3:32 {", "4:1 real_server 10.0.0.1 8080",
                                      "5:1 $VIP.x"])
        // keepalived replaces $NAME only before a blank, `,`, `)` or the line's end: said, not guessed.
        XCTAssertEqual(result.warnings, ["lex.conf:5:1: warning: $VIP is followed by \".\", so it is not replaced "
                                         + "(keepalived neither); write ${VIP} to join it to what follows"])
    }

    func testAnUnknownDefinitionStaysAsWrittenWithAWarning() throws {
        let result = try lines("weight $WEIGHT\nnotify \"/bin/sh -c 'echo $HOME'\"")
        XCTAssertEqual(result.lines, ["1:1 weight $WEIGHT", "2:1 notify \"/bin/sh -c 'echo $HOME'\""])
        XCTAssertEqual(result.warnings, ["lex.conf:1:8: warning: $WEIGHT is not defined, so it stays as written; "
                                         + "define it above its first use with $WEIGHT=value"])
    }

    func testDefinitionsMayUseDefinitionsAndBeRedefined() throws {
        XCTAssertEqual(try lines("$NET=10.0.0\n$RS=${NET}.1\nreal_server $RS 80\n$RS=${NET}.2\nreal_server $RS 80").lines,
                       ["3:1 real_server 10.0.0.1 80", "5:1 real_server 10.0.0.2 80"])
    }

    func testAMultiLineDefinitionBecomesLinesOfItsOwn() throws {
        let result = try lines("""
        $REAL=real_server 10.0.0.1 80 { \\
            weight 2 \\
            \\
        }
        virtual_server 198.18.0.1 80 {
          $REAL
        }
        """)
        XCTAssertEqual(result.lines, ["5:1 virtual_server 198.18.0.1 80", "5:30 {", "6:3 real_server 10.0.0.1 80",
                                      "6:27 {", "6:3 weight 2", "6:3 }", "7:1 }"])
    }

    func testAMultiLineDefinitionEndsAtAnEmptyLineAndIsUsedOnlyAtALinesEnd() throws {
        let result = try lines("$TWO=a \\\nb \\\n\nx $TWO y\n$TWO")
        XCTAssertEqual(result.lines, ["4:1 x $TWO y", "5:1 a", "5:1 b"])
    }

    func testStandardDefinitions() throws {
        let result = try lines("id $_INSTANCE\nhash \"${_HASH}1\"\nbang $_BANG tail\nroll ${_RANDOM 3 3}\ndir $_PWD", configID: "lb7")
        // An unquoted $_BANG ends the line, as a substituted `!` is a comment in keepalived too.
        XCTAssertEqual(result.lines.prefix(4), ["1:1 id lb7", "2:1 hash \"#1\"", "3:1 bang", "4:1 roll 3"])
        XCTAssertTrue(result.lines[4].hasPrefix("5:1 dir /"), result.lines[4])
    }

    func testADefinitionThatUsesItselfIsRefused() {
        XCTAssertEqual(error("$A=x $A\nweight $A"), "lex.conf:2:1: a definition here keeps expanding (does it use itself?); "
                           + "the line grew past 65536 characters or 1000 uses")
        XCTAssertEqual(error("$M=\\\n$M\n\n$M"), "lex.conf:4:1: a definition here keeps expanding (does it use itself?); "
                           + "the line grew past 65536 characters or 1000 uses")
        // A multi-line definition whose last line uses it again: each use adds a line, without end.
        XCTAssertEqual(error("$M=a \\\n$M\n\n$M"), "lex.conf:4:1: definitions and ~SEQ lines expand into each other "
                           + "more than 32 deep here; does a multi-line definition use itself?")
    }

    // MARK: ~SEQ

    func testSequenceRepeatsTheRestOfTheLine() throws {
        XCTAssertEqual(try lines("~SEQ(n, 1, 3) real_server 10.0.0.$n 80 { weight ${n} }").lines, [
            "1:15 real_server 10.0.0.1 80", "1:39 {", "1:41 weight 1", "1:50 }",
            "1:15 real_server 10.0.0.2 80", "1:39 {", "1:41 weight 2", "1:50 }",
            "1:15 real_server 10.0.0.3 80", "1:39 {", "1:41 weight 3", "1:50 }",
        ])
    }

    func testSequenceShapesAsKeepalivedReadsThem() throws {
        func values(_ head: String) throws(ConfigDiagnostic) -> [String] {
            try lines("\(head) v $i").lines.map { String($0.split(separator: " ").last!) }
        }
        XCTAssertEqual(try values("~SEQ(i, 3)"), ["1", "2", "3"])
        XCTAssertEqual(try values("~SEQ(i, 0)"), ["1", "0"])
        XCTAssertEqual(try values("~SEQ(i, -2)"), ["-1", "-2"])
        XCTAssertEqual(try values("~SEQ(i, 5, 3)"), ["5", "4", "3"])
        XCTAssertEqual(try values("~SEQ(i, 10, -4, 1)"), ["10", "6", "2"])
        XCTAssertEqual(try values("~SEQx(i, 0x9, 0xb)"), ["9", "a", "b"])
        XCTAssertEqual(try values("$LAST=2\n~SEQ(i, 010, $LAST)"), ["8", "7", "6", "5", "4", "3", "2"])
    }

    func testNestedSequences() throws {
        XCTAssertEqual(try lines("~SEQ(a, 1, 2) ~SEQ(b, 1, 2) pair $a $b").lines.map { String($0.dropFirst(5)) },
                       ["pair 1 1", "pair 1 2", "pair 2 1", "pair 2 2"])
    }

    func testBadSequencesSayWhatToWrite() {
        let shape = "~SEQ needs a variable and one to three whole numbers: ~SEQ(VAR, END), ~SEQ(VAR, START, END) or "
            + "~SEQ(VAR, START, STEP, END), then the line to repeat, e.g. ~SEQ(n, 1, 4) real_server 10.0.0.$n 80"
        XCTAssertEqual(error("\n~SEQ(n) x"), "lex.conf:2:1: " + shape)
        XCTAssertEqual(error("~SEQ(n, 1, 2 x"), "lex.conf:1:1: " + shape)
        XCTAssertEqual(error("~SEQ n, 1, 2) x"), "lex.conf:1:1: " + shape)
        XCTAssertEqual(error("~SEQ(n, one) x"), "lex.conf:1:1: " + shape)
        XCTAssertEqual(error("~SEQ(n, 1, 2, 3, 4) x"), "lex.conf:1:1: " + shape)
        XCTAssertEqual(error("~SEQ(n, 1, -1, 4) x"), "lex.conf:1:1: ~SEQ's STEP must not be 0 and must go from START "
                           + "towards END, e.g. ~SEQ(n, 10, -2, 4)")
        XCTAssertEqual(error("~SEQ(n, 1, 0, 4) x"), "lex.conf:1:1: ~SEQ's STEP must not be 0 and must go from START "
                           + "towards END, e.g. ~SEQ(n, 10, -2, 4)")
        XCTAssertEqual(error("~SEQx(n, -1, 4) x"), "lex.conf:1:1: ~SEQx writes hex for numbers from 0 up only; "
                           + "START and END must not be negative")
    }

    func testAnEndlessSequenceIsStopped() {
        func error(_ text: String) -> String {
            var reader = ConfigLineReader(configID: "lb1")
            reader.lineLimit = 1_000
            do { try reader.read(text, path: "lex.conf") } catch { return error.description }
            return "no error"
        }
        XCTAssertEqual(error("~SEQ(n, 1, 9000000000) $X=$n"),
                       "lex.conf:1:1: ~SEQ lines repeat more than 1000 times in all; is a range too wide?")
        XCTAssertEqual(error("\n~SEQ(n, 1, 999) ~SEQ(m, 1, 2) x"),
                       "lex.conf:2:17: ~SEQ lines repeat more than 1000 times in all; is a range too wide?")
        XCTAssertEqual(error("~SEQ(n, 1, 600) a { b }"),
                       "lex.conf:1:17: the config expands to more than 1000 lines here; is a ~SEQ range too wide?")
        XCTAssertEqual(ConfigLineReader.maximumLines, 1_000_000)
    }

    // MARK: ~LST

    func testListRepeatsTheRestOfTheLineForEachValue() throws {
        XCTAssertEqual(try lines("~LST(rs, 10.0.0.1, 10.0.0.2) real_server $rs 80").lines,
                       ["1:30 real_server 10.0.0.1 80", "1:30 real_server 10.0.0.2 80"])
    }

    func testListOfValueSetsWithMissingValuesEmpty() throws {
        XCTAssertEqual(try lines("~LST({rs, w}, {10.0.0.1, 3}, {10.0.0.2}) real_server ${rs} 80 weight=${w}.").lines
                           .map { String($0.dropFirst(5)) },
                       ["real_server 10.0.0.1 80 weight=3.", "real_server 10.0.0.2 80 weight=."])
    }

    func testBadListsSayWhatToWrite() {
        XCTAssertEqual(error("~LST(rs) x"), "lex.conf:1:1: ~LST needs a variable and its values, ~LST(VAR, A, B), or variables "
                           + "and sets of values, ~LST({V1, V2}, {A1, A2}, {B1, B2}), then the line to repeat")
        XCTAssertEqual(error("~LST({a}, {1, 2}) x"), "lex.conf:1:1: ~LST has a set with more values than there are variables")
    }

    // MARK: braces

    func testDirectivesAlsoWorkAfterABrace() throws {
        XCTAssertEqual(try lines("vs { @lb2 weight 1\nvs { @lb1 weight 2 }\n{ $W=4\nweight $W").lines,
                       ["1:1 vs", "1:4 {", "2:1 vs", "2:4 {", "2:11 weight 2", "2:20 }", "3:1 {", "4:1 weight 4"])
    }

    func testQuotedBracesDoNotSplit() throws {
        XCTAssertEqual(try lines("regex \"a{2}\" {").lines, ["1:1 regex \"a{2}\"", "1:14 {"])
    }
}
