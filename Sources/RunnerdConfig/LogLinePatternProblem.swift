/// Why a `log-line` pattern cannot be used: a syntax error, or a construct that the linear-time
/// engine does not run (backreferences, lookaround and the like need backtracking, which could
/// stall the daemon's event loop on one line).
///
/// `description` completes a sentence that starts with the quoted pattern, and says what to write
/// instead: `"(a)\1" uses the backreference \1 at character 4, which needs backtracking; ...`.
public struct LogLinePatternProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason, as described above.
    public let description: String

    init(_ description: String) {
        self.description = description
    }

    /// What every construct that needs backtracking is told.
    static let linearTime = "log-line patterns run in linear time, so that no line can stall the daemon"

    static func syntax(_ problem: String) -> LogLinePatternProblem {
        LogLinePatternProblem("is not a valid regular expression: \(problem)")
    }

    static func needsBacktracking(_ construct: String, at position: Int, instead: String) -> LogLinePatternProblem {
        LogLinePatternProblem("uses \(construct) at character \(position), which needs backtracking; \(linearTime): \(instead)")
    }

    static func unsupported(_ construct: String, at position: Int, instead: String) -> LogLinePatternProblem {
        LogLinePatternProblem("uses \(construct) at character \(position), which log-line patterns do not support; \(instead)")
    }
}
