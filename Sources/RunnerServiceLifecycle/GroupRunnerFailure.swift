public import Runner

/// What a `GroupRunner` run as a `Service` throws when any of its runners failed: a task threw
/// or timed out. It carries every result, so that the cause can be told from the consequences.
public struct GroupRunnerFailure: Error, Sendable, CustomStringConvertible {
    /// One result per runner, in the order they arrived.
    public let results: [RunResult]

    /// Makes a failure from a group's results.
    public init(results: [RunResult]) {
        self.results = results
    }

    /// The results that carry an error, in arrival order: the first is usually the cause.
    public var failures: [RunResult] {
        results.filter { $0.error != nil }
    }

    /// `runner api failed: <error>; runner worker failed: <error>`.
    public var description: String {
        failures.map { "runner \($0.runnerID) failed: \($0.error.map { "\($0)" } ?? "")" }.joined(separator: "; ")
    }
}
