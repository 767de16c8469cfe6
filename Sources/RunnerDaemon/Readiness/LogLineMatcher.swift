import RunnerdConfig

/// The matcher of a `log-line` readiness probe: whether one line of a service's output matches
/// the probe's pattern.
///
/// The pattern is compiled once into a `LogLinePattern`, which matches anywhere in the line (as
/// with `grep`, so `^` and `$` anchor at the line's start and end), over Unicode scalars, with
/// bytes that are not UTF-8 read as U+FFFD and a trailing `\r` dropped.
///
/// The daemon calls `matches` on its event loop for every line until the first match, so it must
/// never take long: `LogLinePattern` runs in time linear in the line's length whatever the
/// pattern, and a line that does not match is usually turned away by a byte search alone. A
/// pattern without regex syntax (the common case, such as `listening on`) is only that search;
/// any other pattern runs only on lines that contain the longest literal every match needs.
struct LogLineMatcher: Sendable {
    /// The pattern as configured.
    var pattern: String { compiled.pattern }
    /// The text every matching line contains: the plain pattern itself, or the longest literal
    /// that every match of a regex must contain ("" when none is known).
    var requiredLiteral: String { compiled.requiredText }

    private let compiled: LogLinePattern

    /// Compiles `pattern`, or throws `.invalidPattern` when `LogLinePattern` rejects it (the
    /// config loader has already rejected such patterns, so that shows only in code).
    init(pattern: String) throws(ProbeFailure) {
        do {
            compiled = try LogLinePattern(pattern)
        } catch {
            throw .invalidPattern(pattern: pattern, reason: error.description)
        }
    }

    /// Whether `line` (one line of output, without its newline) matches. Linear in `line.count`.
    func matches(_ line: UnsafeRawBufferPointer) -> Bool {
        compiled.matches(line)
    }

    /// Whether `line` matches; see `matches(_:)` for a buffer.
    func matches(_ line: some Collection<UInt8>) -> Bool {
        compiled.matches(line)
    }
}
