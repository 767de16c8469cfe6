@testable import RunnerDaemon
import Testing

/// The `log-line` matcher on plain text, anchors, regex syntax and bytes that are not UTF-8.
@Suite("LogLine matcher")
struct ProbeLogLineTests {
    private func matches(_ pattern: String, _ line: String) throws -> Bool {
        try LogLineMatcher(pattern: pattern).matches(Array(line.utf8))
    }

    @Test func plainTextMatchesAnywhereInTheLine() throws {
        #expect(try matches("listening on", "2024-05-01 api listening on :8080"))
        #expect(try matches("listening on", "listening on"))
        #expect(try !matches("listening on", "Listening On :8080"))
        #expect(try !matches("listening on", "listening"))
        #expect(try !matches("listening on", ""))
    }

    @Test func anchorsAreTheLinesStartAndEnd() throws {
        #expect(try matches("^ready$", "ready"))
        #expect(try matches("^ready$", "ready\r"), "a CRLF line end still ends the line")
        #expect(try !matches("^ready$", "not ready"))
        #expect(try !matches("^ready$", "ready now"))
        #expect(try matches("^ready", "ready now"))
        #expect(try matches("now$", "ready now"))
    }

    @Test func regexSyntaxWorks() throws {
        let pattern = #"listening on (port )?\d+"#
        #expect(try matches(pattern, "server listening on port 8080"))
        #expect(try matches(pattern, "server listening on 8080"))
        #expect(try !matches(pattern, "server listening on port eighty"))
        #expect(try matches(#"^\[INFO\] started in \d+ms$"#, "[INFO] started in 42ms"))
        #expect(try matches("(?i)READY", "service is ready"))
        #expect(try matches("ready|listening", "now listening"))
        #expect(try matches("a.c", "xabcx"))
    }

    @Test func bytesThatAreNotUTF8NeitherMatchNorStopTheRest() throws {
        let plain = try LogLineMatcher(pattern: "listening on")
        #expect(plain.matches([0xFF, 0xFE] + Array(" listening on 80".utf8)))
        #expect(!plain.matches([0xFF, 0xFE, 0x80]))
        let anchored = try LogLineMatcher(pattern: #"^listening on \d+$"#)
        #expect(anchored.matches(Array("listening on 80".utf8)))
        #expect(!anchored.matches([0xC3] + Array("listening on 80".utf8)), "the stray byte is a character before the anchor")
        #expect(try LogLineMatcher(pattern: "caf.").matches([0x63, 0x61, 0x66, 0xE9]), "a lone Latin-1 é reads as one U+FFFD")
        #expect(try LogLineMatcher(pattern: "café").matches(Array("un café".utf8)))
    }

    @Test func nonMatchingLinesAreRejectedByALiteralEveryMatchNeeds() throws {
        // What makes a non-matching line cheap: the regex runs only on lines that contain this.
        #expect(try LogLineMatcher(pattern: #"listening on (port )?\d+"#).requiredLiteral == "listening on ")
        #expect(try LogLineMatcher(pattern: #"^\[INFO\] started in \d+ms$"#).requiredLiteral == "[INFO] started in ")
        #expect(try LogLineMatcher(pattern: "readyy?").requiredLiteral == "ready")
        #expect(try LogLineMatcher(pattern: "ready|listening").requiredLiteral == "")
        #expect(try LogLineMatcher(pattern: "(?i)ready").requiredLiteral == "")
        #expect(try LogLineMatcher(pattern: #"\x41BC"#).requiredLiteral == "ABC", "an escape is read before the literal is taken")
        #expect(try LogLineMatcher(pattern: #"\d+\.\d+ ready"#).requiredLiteral == " ready")
        #expect(try LogLineMatcher(pattern: "listening on").requiredLiteral == "listening on")
    }

    @Test(arguments: [
        #"listening on (port )?\d+"#, #"^\[INFO\] started"#, "readyy?", "rea*dy", "x{2,3}y", "[ab]c+", #"\.done$"#,
        "(ready)+now", "a.c", #"port=\d{2,5}"#, #"[\]x]yz"#, #"\d+\.\d+ ready"#, #"\x41BC"#, #"[^\]]+ok"#, "café", "",
    ])
    func theLiteralShortcutNeverChangesTheAnswer(pattern: String) throws {
        let matcher = try LogLineMatcher(pattern: pattern)
        let regex = try Regex(pattern).matchingSemantics(.unicodeScalar)
        let lines = [
            "listening on 8080", "listening on port 1", "[INFO] started", "ready", "readyy", "rdy", "rey", "raaady",
            "xxy", "xy", "ac", "bccc", "file.done", "filexdone", "readynow", "readyreadynow", "abc", "port=80",
            "port=123456", "]yz", "1.5 ready", "15 ready", "ax", "x", "xyz", "]ok", "abok", "ABC", "xABCx", "café", "cafe\u{301}", "", "\r",
        ]
        for line in lines {
            let expected = (try? regex.firstMatch(in: line.hasSuffix("\r") ? String(line.dropLast()) : line)) != nil
            #expect(matcher.matches(Array(line.utf8)) == expected, "/\(pattern)/ on \(line.debugDescription)")
        }
    }

    @Test func anInvalidPatternIsATypedError() {
        #expect(throws: ProbeFailure.self) { try LogLineMatcher(pattern: "(unclosed") }
        do {
            _ = try LogLineMatcher(pattern: "(unclosed")
        } catch {
            #expect(error.description == #""(unclosed" is not a valid regular expression: the ( at character 1 is not closed; close it with ), or write \( to match a ("#)
        }
    }
}
