/// The outcome of one runner: its id, and what its task threw, or a `TimeoutError` when it
/// did not finish within its interrupt timeout (or its group's). A nil error means the task
/// returned normally.
public struct RunResult: Sendable {
    /// The id of the runner that produced this result.
    public let runnerID: String
    /// What the task threw, a `TimeoutError`, or nil when the task returned normally.
    public let error: (any Error)?

    /// Makes a result; the library makes these, and tests and adapters may too.
    public init(runnerID: String, error: (any Error)?) {
        self.runnerID = runnerID
        self.error = error
    }

    /// The timeout, when the result is one rather than the task's own outcome.
    public var timeout: TimeoutError? {
        error as? TimeoutError
    }
}
