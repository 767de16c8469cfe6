import Glibc
import RunnerdConfig
import Testing

/// The `log-line` pattern engine: what it matches (against a table and against Swift's `Regex`),
/// what it rejects and why, and that its time is linear in the line's length.
@Suite("LogLine pattern")
struct LogLinePatternTests {
    private func matches(_ pattern: String, _ line: String) throws -> Bool {
        try LogLinePattern(pattern).matches(Array(line.utf8))
    }

    private static let table: [(pattern: String, line: String, matches: Bool)] = [
        ("listening on", "api listening on :8080", true),
        ("listening on", "Listening On :8080", false),
        ("^ready$", "ready", true),
        ("^ready$", "ready\r", true),
        ("^ready$", "not ready", false),
        ("^ready$", "ready now", false),
        (#"\Aready\z"#, "ready", true),
        ("a.c", "xabcx", true),
        ("a.c", "ac", false),
        ("a.c", "a\rc", false),
        ("[a-c]+x", "zzbcax", true),
        ("[^a-c]x", "ax", false),
        ("[^a-c]x", "dx", true),
        (#"[\]x]yz"#, "]yz", true),
        (#"[]x]yz"#, "]yz", true),
        (#"[^\]]+ok"#, "]ok", false),
        ("[a-]z", "-z", true),
        (#"\d+ms"#, "took 42ms", true),
        (#"\d+ms"#, "took ms", false),
        (#"\d"#, "٣", true),
        (#"\D\W\S"#, "a- ", false),
        (#"\D\W\S"#, "a-x", true),
        (#"\w+@\w+"#, "mail bob@host", true),
        (#"\s"#, "a\tb", true),
        (#"\bport\b"#, "the port is", true),
        (#"\bport\b"#, "airport", false),
        (#"\Bport"#, "airport", true),
        (#"\b0"#, "x0", false),
        (#"\bb"#, "a1b", false),
        (#"\b1"#, "{1}", true),
        ("ready|listening", "now listening", true),
        ("ready|listening", "starting", false),
        ("(a|aa)+$", "aaaa", true),
        ("^(?:ab)+$", "ababab", true),
        ("^(?:ab)+$", "ababa", false),
        ("^(?<word>ab)+$", "abab", true),
        ("^a{3}$", "aaa", true),
        ("^a{3}$", "aaaa", false),
        ("^a{2,}$", "a", false),
        ("^a{2,}$", "aaaaa", true),
        ("^a{2,3}$", "aaaa", false),
        ("^a{,2}$", "aa", true),
        ("^a*?b+?c??$", "aabbc", true),
        ("^x{2,3}?$", "xxx", true),
        (#"{"status":"ok"}"#, #"{"status":"ok"}"#, true),
        ("a{x}", "a{x}", true),
        ("(?i)READY", "service is ready", true),
        ("(?i)[A-C]x", "bX", true),
        ("(?i)[^a]", "A", false),
        ("colou?r", "color", true),
        (#"\x41\u0042\x{43}"#, "ABC", true),
        ("caf.", "café", true),
        ("café", "un café", true),
        (#"\.done$"#, "file.done", true),
        (#"\.done$"#, "filexdone", false),
        ("(a*)*b", "aaab", true),
        ("(a*)*b", "aaaa", false),
        ("", "anything", true),
        ("x|", "anything", true),
        ("^$", "", true),
        ("^$", "a", false),
        (String(repeating: "(", count: 100) + "a" + String(repeating: ")", count: 100), "xay", true),
        (#"^\d{1,300}$"#, String(repeating: "7", count: 300), true),
        (#"^\d{1,300}$"#, String(repeating: "7", count: 301), false),
    ]

    @Test func theTableOfPatternsAndLinesHasTheExpectedAnswers() throws {
        for row in Self.table {
            #expect(try matches(row.pattern, row.line) == row.matches, "/\(row.pattern)/ on \(row.line.debugDescription)")
        }
    }

    @Test func bytesThatAreNotUTF8ReadAsReplacementCharacters() throws {
        let plain = try LogLinePattern("listening on")
        #expect(plain.matches([0xFF, 0xFE] + Array(" listening on 80".utf8)))
        let anchored = try LogLinePattern(#"^listening on \d+$"#)
        #expect(anchored.matches(Array("listening on 80".utf8)))
        #expect(!anchored.matches([0xC3] + Array("listening on 80".utf8)), "the stray byte is a character before the anchor")
        #expect(try LogLinePattern("^caf.$").matches([0x63, 0x61, 0x66, 0xE9]), "a lone Latin-1 é reads as one U+FFFD")
        #expect(try LogLinePattern("^\u{FFFD}{2}x$").matches([0xE2, 0x82, 0xFF, 0x78]), "a truncated sequence and a bad byte are two")
    }

    @Test func plainTextAndRequiredTextComeFromTheParsedPattern() throws {
        #expect(try LogLinePattern("listening on").plainText == "listening on")
        #expect(try LogLinePattern(#"\.done"#).plainText == ".done")
        #expect(try LogLinePattern(#"{"ok":true}"#).plainText == #"{"ok":true}"#)
        #expect(try LogLinePattern("^ready").plainText == nil)
        #expect(try LogLinePattern("(?i)ready").plainText == nil)
        #expect(try LogLinePattern(#"listening on (port )?\d+"#).requiredText == "listening on ")
        #expect(try LogLinePattern(#"^\[INFO\] started in \d+ms$"#).requiredText == "[INFO] started in ")
        #expect(try LogLinePattern("readyy?").requiredText == "ready")
        #expect(try LogLinePattern("x(ready)+").requiredText == "ready")
        #expect(try LogLinePattern("ready|listening").requiredText == "")
        #expect(try LogLinePattern("(?i)ready").requiredText == "")
        #expect(try LogLinePattern("(?i)ready: 200").requiredText == ": 200")
        #expect(try LogLinePattern(#"\d+\.\d+ ready"#).requiredText == " ready")
    }

    // MARK: - Agreement with Swift's Regex

    private static let handWritten = [
        #"listening on (port )?\d+"#, #"^\[INFO\] started"#, "readyy?", "rea*dy", "x{2,3}y", "[ab]c+", #"\.done$"#,
        "(ready)+now", "a.c", #"port=\d{2,5}"#, #"[\]x]yz"#, #"\d+\.\d+ ready"#, #"[^\]]+ok"#, "café", "",
        "^(a|aa)+$", "(a*)*b", "(x+x+)+y", "[a-z_][a-z0-9_]*=", #"\w+\s\w+"#, #"^\S+$"#, "(?i)READY", "(?i)[a-c]+X",
        "a|b|", "(|a)b", "^a?b?$", "(?:ab|a)(?:bc|c)", #"\bready\b"#, "x{0}y", "(a{2}){2}",
    ]

    private static let handWrittenLines = [
        "listening on 8080", "listening on port 1", "[INFO] started", "ready", "readyy", "rdy", "rey", "raaady",
        "xxy", "xy", "ac", "bccc", "file.done", "filexdone", "readynow", "readyreadynow", "abc", "port=80",
        "port=123456", "]yz", "1.5 ready", "15 ready", "ax", "x", "xyz", "]ok", "abok", "café", "cafe\u{301}", "", "\r",
        "aaaa", "aaa!", "aab", "xxxy", "xy", "foo_bar=1", "9x=", "two words", "one", "Ready", "ABCx", "abcx", "b",
        "abc", "not ready yet", "already", "y", "aaaa", "a\rc", "a\u{2028}c", "a\u{85}c",
    ]

    /// Lines that may be tried against `pattern` with Swift's `Regex`, whose backtracking would
    /// take forever on the pathological patterns with long runs of `a` or `x`.
    private static func safeForBacktracking(_ line: String) -> Bool { line.count < 8 || !line.hasPrefix("aaa") }

    @Test func handWrittenPatternsAgreeWithSwiftRegex() throws {
        for pattern in Self.handWritten {
            try expectAgreement(pattern, Self.handWrittenLines.filter(Self.safeForBacktracking))
        }
    }

    /// Random patterns over a small alphabet, against every line of up to five letters: any
    /// difference from Swift's `Regex` in how the constructs combine shows here.
    @Test func randomPatternsAgreeWithSwiftRegexOnEveryShortLine() throws {
        var lines = [""]
        var frontier = [""]
        for _ in 1...5 {
            frontier = frontier.flatMap { prefix in ["a", "b", "c"].map { prefix + $0 } }
            lines += frontier
        }
        var generator = SplitMix(seed: 13)
        for _ in 0..<150 {
            let pattern = Self.randomPattern(&generator, depth: 3)
            try expectAgreement(pattern, lines)
        }
    }

    private func expectAgreement(_ pattern: String, _ lines: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ours = try LogLinePattern(pattern)
        let regex = try Regex(pattern).matchingSemantics(.unicodeScalar).wordBoundaryKind(.simple)
        for line in lines {
            let theirs = (try? regex.firstMatch(in: line.hasSuffix("\r") ? String(line.dropLast()) : line)) != nil
            #expect(ours.matches(Array(line.utf8)) == theirs, "/\(pattern)/ on \(line.debugDescription)", sourceLocation: sourceLocation)
        }
    }

    private static func randomPattern(_ generator: inout SplitMix, depth: Int) -> String {
        let atoms = ["a", "b", "c", ".", "[ab]", "[^a]", "^", "$", #"\w"#, "[a-b]"]
        let quantifiers = ["", "", "", "*", "+", "?", "{2}", "{1,2}", "{0,}", "*?", "+?"]
        var parts: [String] = []
        for _ in 0..<Int.random(in: 1...3, using: &generator) {
            var atom: String
            if depth > 0 && Int.random(in: 0..<4, using: &generator) == 0 {
                let left = randomPattern(&generator, depth: depth - 1)
                let right = Bool.random(using: &generator) ? "|" + randomPattern(&generator, depth: depth - 1) : ""
                atom = "(" + left + right + ")"
            } else {
                atom = atoms.randomElement(using: &generator)!
            }
            if atom != "^" && atom != "$" { atom += quantifiers.randomElement(using: &generator)! }
            parts.append(atom)
        }
        return parts.joined()
    }

    // MARK: - Rejections

    private static let rejections: [(pattern: String, problem: String)] = [
        (#"(a)\1"#, #"uses the backreference \1 at character 4, which needs backtracking; log-line patterns run in linear time, so that no line can stall the daemon: repeat the text itself instead"#),
        (#"(?<x>a)\k<x>"#, #"uses the backreference \k at character 8, which needs backtracking; log-line patterns run in linear time, so that no line can stall the daemon: repeat the text itself instead"#),
        ("ready(?= now)", "uses a lookahead (?= at character 6, which needs backtracking; log-line patterns run in linear time, so that no line can stall the daemon: match the text after it as part of the pattern"),
        ("(?<!not )ready", "uses a lookbehind (?<! at character 1, which needs backtracking; log-line patterns run in linear time, so that no line can stall the daemon: match the text before it as part of the pattern"),
        ("a++b", "uses the possessive quantifier ++ at character 2, which log-line patterns do not support; write + instead"),
        ("a{2,3}+b", "uses the possessive quantifier {2,3}+ at character 2, which log-line patterns do not support; write {2,3} instead"),
        ("(?>ab)c", "uses an atomic group (?> at character 1, which log-line patterns do not support; write a plain group (?:...) instead"),
        ("(?(1)a|b)", "uses a conditional (?( at character 1, which log-line patterns do not support; write an alternation such as (a|b) instead"),
        ("(?s)a.b", "uses the inline option (?s at character 1, which log-line patterns do not support; only (?i) at the very start is supported, for case-insensitive matching"),
        ("ready(?i)now", "uses the inline option (?i at character 6, which log-line patterns do not support; only (?i) at the very start is supported, for case-insensitive matching"),
        (#"\p{L}+"#, #"uses the Unicode property \p at character 1, which log-line patterns do not support; write a class such as [A-Za-z] or \w instead"#),
        ("[[:alpha:]]", #"uses a nested or POSIX class [ inside a class at character 2, which log-line patterns do not support; write \[ to match a ["#),
        ("a{1001}", "repeats {1001} at character 2, more than the 1000 times a log-line pattern may count; use + or * for long runs"),
        ("(a{1000}){1000}", "is too large once its counted repetitions are expanded (over 1000 steps); use + or * instead of large counts"),
        (#"\d{1,1000}"#, "is too large once its counted repetitions are expanded (over 1000 steps); use + or * instead of large counts"),
        (String(repeating: "(", count: 100_000), "nests groups more than 100 deep at character 101; write fewer groups"),
        ("listening (on", #"is not a valid regular expression: the ( at character 11 is not closed; close it with ), or write \( to match a ("#),
        ("ready)", #"is not a valid regular expression: the ) at character 6 closes no group; remove it, or write \) to match a )"#),
        ("[abc", #"is not a valid regular expression: the [ at character 1 is not closed; close it with ], or write \[ to match a ["#),
        ("*ready", #"is not a valid regular expression: the * at character 1 follows nothing it could repeat; write \* to match a *"#),
        ("a**", "is not a valid regular expression: the * at character 3 follows another quantifier; group the first, as in (a*)*"),
        ("[z-a]", "is not a valid regular expression: the range z-a at character 2 runs backwards; write a-z"),
        ("a{3,2}", "is not a valid regular expression: the count {3,2} at character 2 has its minimum above its maximum; write {2,3}"),
        (#"ready\"#, #"is not a valid regular expression: it ends with a lone \; write \\ to match a \"#),
        (#"\q"#, #"uses \q at character 1, which log-line patterns do not support; write q to match the character itself; the escapes there are: \d \D \w \W \s \S \b \B \A \z \t \n \r \f \xHH \x{H...} \uHHHH"#),
        (#"\xZZ"#, #"is not a valid regular expression: the \x at character 1 needs 2 hex digits or {hex digits}, e.g. \x41 or \x{263A}"#),
    ]

    @Test func unsupportedAndInvalidPatternsAreRejectedWithWhatToWriteInstead() {
        for rejection in Self.rejections {
            do {
                _ = try LogLinePattern(rejection.pattern)
                Issue.record("\(rejection.pattern.debugDescription) was accepted")
            } catch {
                #expect(error.description == rejection.problem, "\(rejection.pattern.debugDescription)")
            }
        }
    }

    // MARK: - Linear time

    /// Each pattern takes a backtracking engine exponential time on a run of its letter that
    /// fails at the end (`^(a|aa)+$` on 100 `a`s and a `!` would outlast the universe); here a
    /// line of 100,000 costs milliseconds. Time is the thread's CPU time, so that the other
    /// work on a busy machine does not count, and the least of three runs.
    @Test(arguments: [
        ("^(a|aa)+$", "a", "!"), ("(a*)*b", "a", "!"), ("^(a*)*b$", "a", "!b"), ("(x+x+)+y", "x", "!"), ("y(x+x+)+y", "x", "!y"),
    ])
    func pathologicalPatternsRunInLinearTime(pattern: String, letter: String, end: String) throws {
        let compiled = try LogLinePattern(pattern)
        let short = Array((String(repeating: letter, count: 100) + end).utf8)
        let long = Array((String(repeating: letter, count: 100_000) + end).utf8)
        #expect(!compiled.matches(short))
        #expect(!compiled.matches(long))
        let shortTime = (0..<3).map { _ in threadCPUTime { _ = compiled.matches(short) } }.min()!
        let longTime = (0..<3).map { _ in threadCPUTime { _ = compiled.matches(long) } }.min()!
        #expect(shortTime < .milliseconds(1), "100 characters took \(shortTime)")
        #expect(longTime < .milliseconds(100), "100,000 characters took \(longTime)")
    }

    private func threadCPUTime(_ body: () -> Void) -> Duration {
        func now() -> Duration {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
        }
        let start = now()
        body()
        return now() - start
    }
}

/// A small seeded generator, so that the random patterns are the same on every run.
struct SplitMix: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random text made of regex syntax: the parser either accepts or rejects it, never crashes, and
/// an accepted pattern matches without crashing. Where Swift's `Regex` accepts the pattern too,
/// the two agree on every line tried (but for word boundaries next to digits).
@Suite("LogLine pattern: random syntax")
struct LogLinePatternRandomSyntaxTests {
    @Test func randomSyntaxIsAcceptedOrRejectedAndAgreesWithRegexWhereBothAccept() throws {
        let alphabet = Array(#"ab()[]{}|*+?.^$\-,:<>=!1dwsbBx0i2"#).map(String.init)
        let lines = ["", "a", "b", "ab", "ba", "aab", "a-b", "{1}", "a1b", "x0", " a", "(a)", "a\\b", "]", "[a]", "a|b", "a,b"]
        var generator = SplitMix(seed: 2026)
        var disagreements: [String] = []
        var accepted = 0
        for _ in 0..<4_000 {
            let pattern = (0..<Int.random(in: 1...8, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            guard let ours = try? LogLinePattern(pattern) else { continue }
            accepted += 1
            let answers = lines.map { ours.matches(Array($0.utf8)) }
            // Swift's `\b` takes a digit for a non-word character; ours follows `\w`, as PCRE and grep do (see the table).
            guard !pattern.contains(#"\b"#) && !pattern.contains(#"\B"#) else { continue }
            guard let regex = try? Regex(pattern).matchingSemantics(.unicodeScalar).wordBoundaryKind(.simple) else { continue }
            for (line, answer) in zip(lines, answers) where ((try? regex.firstMatch(in: line)) != nil) != answer {
                disagreements.append("/\(pattern)/ on \(line.debugDescription): ours \(answer)")
            }
        }
        #expect(accepted > 500, "only \(accepted) random patterns were accepted: the test tries too little")
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, e.g. \(disagreements.prefix(20))")
    }
}
