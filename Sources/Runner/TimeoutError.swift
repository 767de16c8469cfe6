/// The result of a runner that did not finish within the time it was given after being
/// interrupted. The task may still be running; only the caller stopped waiting for it.
public struct TimeoutError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Whose limit ran out: the runner's own interrupt duration, or its group's.
    public enum Scope: Sendable, Hashable {
        /// The runner's own interrupt duration ran out.
        case runner
        /// The group's interrupt duration ran out while this runner was still outstanding.
        case group
    }

    /// The runner that timed out. Unlike the Go original's group timeouts (`_unknown_`), this is
    /// always the real id, also when the group's limit ran out.
    public let runnerID: String
    /// The limit that ran out.
    public let duration: Duration
    /// Whose limit it was.
    public let scope: Scope

    /// Makes a timeout error.
    public init(runnerID: String, duration: Duration, scope: Scope = .runner) {
        self.runnerID = runnerID
        self.duration = duration
        self.scope = scope
    }

    /// `Runner <id> timed out after waiting for <duration>`, with ` (group limit)` for a group's.
    public var description: String {
        "Runner \(runnerID) timed out after waiting for \(duration)" + (scope == .group ? " (group limit)" : "")
    }
}
