import Glibc

/// The regular expression of a `log-line` readiness probe, compiled for matching in time linear
/// in the line's length.
///
/// A line matches when the expression matches anywhere in it (as with `grep`), so `^` and `$`
/// anchor at the line's start and end. Matching runs over Unicode scalars; bytes that are not
/// UTF-8 read as U+FFFD, so they never stop the rest of the line from matching. The caller gives
/// the line without its newline; a trailing `\r` is dropped too, so that `$` works for output
/// with CRLF line ends.
///
/// The syntax (docs/config.md) is the usual one minus everything that needs backtracking:
/// backreferences, lookaround, possessive quantifiers, atomic groups, conditionals and inline
/// options other than a leading `(?i)` are rejected with a `LogLinePatternProblem`. What is left
/// runs as an NFA whose states all advance together, so a line of n scalars costs at most
/// O(pattern size × n) time, and no pattern can stall the thread that matches.
public struct LogLinePattern: Sendable {
    /// The pattern as written.
    public let pattern: String
    /// The pattern itself when it has no regex syntax in effect (`listening on`, or `\.done`
    /// after its escapes are read): such a pattern matches exactly the lines that contain it.
    public let plainText: String?
    /// Text that every matching line contains, as found in the pattern ("" when none is known):
    /// the plain text itself, or the longest literal run every match needs. A line without it
    /// cannot match, which a byte search tells far faster than the NFA.
    public let requiredText: String
    /// `requiredText` as UTF-8, searched for in every line.
    private let requiredBytes: [UInt8]
    /// Nil when `plainText` is set: then the byte search is the whole answer.
    private let program: LogLinePatternProgram?

    /// Parses and compiles `pattern`, or throws why it cannot be used and what to write instead.
    public init(_ pattern: String) throws(LogLinePatternProblem) {
        let (syntax, caseInsensitive) = try LogLinePatternParser.parse(pattern)
        let program = try LogLinePatternProgram(syntax)
        self.pattern = pattern
        // Under (?i) a letter is a class, so any text left is case-free (digits, punctuation).
        plainText = caseInsensitive ? nil : syntax.plainText
        requiredText = plainText ?? syntax.requiredText
        requiredBytes = Array(requiredText.utf8)
        self.program = plainText == nil ? program : nil
    }

    /// Whether `line` (one line of output, without its newline) matches. Runs in time linear in
    /// `line.count`, never blocks and never allocates more than the pattern's size.
    public func matches(_ line: UnsafeRawBufferPointer) -> Bool {
        var line = line
        if line.last == UInt8(ascii: "\r") { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        if !requiredBytes.isEmpty && !Self.contains(line, requiredBytes) { return false }
        guard let program else { return true }
        return program.matches(line)
    }

    /// Whether `line` matches; see `matches(_:)` for a buffer.
    public func matches(_ line: some Collection<UInt8>) -> Bool {
        Array(line).withUnsafeBytes { matches($0) }
    }

    /// Whether `haystack` contains the UTF-8 of `needle` as bytes. That is the same as containing
    /// it as scalars once ill-formed bytes read as U+FFFD: a well-formed needle starts with a lead
    /// byte or ASCII, which no ill-formed sequence before it can swallow. `memchr` finds each
    /// candidate for the first byte, `memcmp` checks the rest (`memmem` would do, but Glibc hides
    /// it behind _GNU_SOURCE).
    private static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        needle.withUnsafeBufferPointer { needle in
            guard let first = needle.first else { return true }
            guard haystack.count >= needle.count, let base = haystack.baseAddress else { return false }
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
