public import Runner
public import ServiceLifecycle

/// A `GroupRunner` is a `Service`, so that a group can sit in a `ServiceGroup` beside other
/// services and stop on that group's graceful shutdown.
extension GroupRunner: Service {
    /// Runs the group until one of its tasks finishes or the graceful shutdown of the
    /// surrounding `ServiceGroup` begins, then interrupts it and returns once every runner has a
    /// result, within the group's interrupt duration.
    ///
    /// Cancelling the calling task (a `ServiceGroup` does that when its own shutdown times out,
    /// or on a cancellation signal) interrupts the group as well; the group's timeouts still
    /// bound how long this call takes.
    ///
    /// - Throws: `GroupRunnerFailure` with every result when any runner's task threw or timed
    ///   out, and `RunnerError` when the group cannot start. Returns normally when every task
    ///   returned without an error.
    public func run() async throws {
        let token = CancellationToken()
        let results = try await withGracefulShutdownHandler {
            try await run(token)
        } onGracefulShutdown: {
            token.cancel()
        }
        if results.contains(where: { $0.error != nil }) {
            throw GroupRunnerFailure(results: results)
        }
    }
}
