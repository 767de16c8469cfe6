import Glibc

/// The baseline: runnerd's `log-line` matcher before `LogLinePattern` (main at e93b7a9), on
/// Swift's backtracking `Regex`, kept here only to be measured against.
///
/// The matcher of a `log-line` readiness probe: whether one line of a service's output matches
/// the probe's regular expression.
///
/// The pattern is compiled once. A line matches when the expression matches anywhere in it (as
/// with `grep`), so `^` and `$` anchor at the line's start and end. The line is given without its
/// newline; a trailing `\r` is dropped too, so that `$` works for output with CRLF line ends.
/// Matching runs over Unicode scalars rather than grapheme clusters, and bytes that are not UTF-8
/// read as U+FFFD, so they never stop the rest of the line from matching.
///
/// The daemon calls `matches` on its event loop for every line until the first match, so a line
/// that does not match must be cheap: a pattern without regex syntax (the common case, such as
/// `listening on`) is a plain byte search that never builds a `String`; any other pattern first
/// checks that the line contains the longest run of literal text that every match must contain.
struct RegexLineMatcher: @unchecked Sendable {
    // @unchecked: the `Regex` in `Compiled` never changes once built and is safe to use from any
    // thread; it is not declared Sendable because its output type could hold anything, and ours
    // is AnyRegexOutput.

    /// The pattern as configured.
    let pattern: String
    /// Bytes every matching line contains; empty when nothing is known.
    private let requiredBytes: [UInt8]
    /// `requiredBytes` as text: the plain pattern itself, or the longest literal that every match
    /// of a regex must contain ("" when none is known).
    var requiredLiteral: String { String(decoding: requiredBytes, as: UTF8.self) }
    /// The compiled expression; nil when the pattern is plain text, matched by `requiredBytes` alone.
    private let compiled: Compiled?

    /// A `Regex`, behind a reference. `Regex` comes from a library whose types have their layout
    /// decided at run time; stored inline, every service's monitor (which holds an optional
    /// matcher) would make the runtime work out that layout and touch the regex library's code
    /// at start, even when no service has a log-line probe.
    private final class Compiled {
        let regex: Regex<AnyRegexOutput>
        init(_ regex: Regex<AnyRegexOutput>) { self.regex = regex }
    }

    /// Compiles `pattern`, or throws `.invalidPattern` when Swift's `Regex` rejects it (the
    /// config loader has already rejected such patterns, so that shows only in code).
    init(pattern: String) throws {
        let regex: Regex<AnyRegexOutput>
        do {
            regex = try Regex(pattern)
        } catch {
            let reason = "\(error)".split(separator: "\n").first.map(String.init) ?? "invalid"
            throw RegexProblem(description: reason)
        }
        self.pattern = pattern
        if let literal = Self.plainText(pattern) {
            requiredBytes = Array(literal.utf8)
            compiled = nil
        } else {
            requiredBytes = Array(Self.longestRequiredRun(pattern).utf8)
            compiled = Compiled(regex.matchingSemantics(.unicodeScalar))
        }
    }

    /// Whether `line` (one line of output, without its newline) matches.
    func matches(_ line: UnsafeRawBufferPointer) -> Bool {
        var line = line
        if line.last == UInt8(ascii: "\r") { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        if !requiredBytes.isEmpty && !Self.contains(line, requiredBytes) { return false }
        guard let compiled else { return true }
        let text = String(decoding: line, as: UTF8.self)
        return (try? compiled.regex.firstMatch(in: text)) != nil
    }

    /// Whether `line` matches; see `matches(_:)` for a buffer.
    func matches(_ line: some Collection<UInt8>) -> Bool {
        Array(line).withUnsafeBytes { matches($0) }
    }

    // MARK: - Literals

    /// The characters that have a meaning in a regular expression, outside a character class.
    private static let syntax: Set<Character> = ["\\", "^", "$", ".", "|", "?", "*", "+", "(", ")", "[", "]", "{", "}"]

    /// The letters after `\\` that begin an escape reading more text than that one letter.
    private static let escapesWithArguments: Set<Character> = ["x", "u", "U", "o", "c", "k", "g", "N", "p", "P", "Q", "E"]

    /// The pattern itself when it has no regex syntax at all, so that it matches exactly the lines
    /// that contain it.
    private static func plainText(_ pattern: String) -> String? {
        pattern.contains(where: syntax.contains) ? nil : pattern
    }

    /// The longest run of plain characters outside any group that every match must contain, or ""
    /// when that is not known. Conservative: a run ends at any syntax character, and a run followed
    /// by a quantifier loses its last character (`ab?` requires only `a`).
    private static func longestRequiredRun(_ pattern: String) -> String {
        // Alternation, inline options such as `(?i)` and `(?x)`, and escapes that read the text
        // after them (`\x41`, `\k<name>`, `\p{L}`, `\Q...\E`, backreferences) change what the
        // text around them means; give up on those rather than reason about them. Any other
        // escape (`\d`, `\.`) stands for one character and just ends a run.
        guard !pattern.contains("|"), !pattern.contains("(?") else { return "" }
        var escaped = false
        for character in pattern {
            if escaped && (character.isNumber || Self.escapesWithArguments.contains(character)) { return "" }
            escaped = !escaped && character == "\\"
        }
        var best = ""
        var run = ""
        var depth = 0
        var characters = pattern[...]
        func endRun(optionalLast: Bool) {
            if optionalLast && !run.isEmpty { run.removeLast() }
            if depth == 0 && run.count > best.count { best = run }
            run = ""
        }
        while let character = characters.popFirst() {
            switch character {
            case "?", "*", "{":
                endRun(optionalLast: true)
                if character == "{" { characters = characters.drop { $0 != "}" }.dropFirst() }
            case "+":
                endRun(optionalLast: false)
            case "(":
                endRun(optionalLast: false)
                depth += 1
            case ")":
                endRun(optionalLast: false)
                depth -= 1
                // A group's own quantifier does not matter: nothing inside a group counts.
            case "[":
                endRun(optionalLast: false)
                // Skip the class: a `]` right after `[` or `[^` belongs to it.
                var first = true
                while let inner = characters.popFirst() {
                    if inner == "\\" { _ = characters.popFirst() } else if inner == "]" && !first { break }
                    first = inner == "^" && first
                }
            case "\\":
                endRun(optionalLast: false)
                _ = characters.popFirst()
            case "^", "$", ".", "]", "}":
                endRun(optionalLast: false)
            default:
                run.append(character)
            }
        }
        endRun(optionalLast: false)
        return best
    }

    /// Whether `haystack` contains `needle`: `memchr` finds each candidate for its first byte,
    /// `memcmp` checks the rest. (`memmem` would do, but Glibc hides it behind _GNU_SOURCE.)
    private static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        guard haystack.count >= needle.count, let base = haystack.baseAddress else { return false }
        return needle.withUnsafeBytes { needle in
            let last = base + (haystack.count - needle.count)
            var start = base
            while start <= last, let found = memchr(start, Int32(first), last - start + 1) {
                let candidate = UnsafeRawPointer(found)
                if memcmp(candidate, needle.baseAddress!, needle.count) == 0 { return true }
                start = candidate + 1
            }
            return false
        }
    }
}

struct RegexProblem: Error {
    var description: String
}
