import Runner

/// Waits for a service to become ready by polling its tcp, http or exec readiness check.
///
/// The schedule: the first attempt starts at once; after a failed attempt the waiter pauses
/// 50 ms, then 100 ms, 200 ms, 400 ms, 800 ms, and 1 s after every later one
/// (`pause(afterAttempt:)`). So a service that is ready quickly is seen within a few tens of
/// milliseconds, a slow one is noticed at most about 1 s after it became ready, and a probe of a
/// service that takes its full 60 s costs about 65 attempts. The pauses are timer waits, never a
/// busy loop. Each attempt may take up to `attemptTimeout`, and never past the overall timeout.
struct ReadinessWaiter: Sendable {
    /// The longest pause between two attempts.
    static let longestPause = Duration.seconds(1)

    /// Runs the attempts.
    let prober: Prober
    /// The longest one attempt may take (default 2s), so that a connection that hangs (a
    /// firewall that drops packets, a server that accepts but never answers) is retried.
    let attemptTimeout: Duration

    /// A waiter whose attempts run through `prober`.
    init(prober: Prober, attemptTimeout: Duration = .seconds(2)) {
        self.prober = prober
        self.attemptTimeout = attemptTimeout
    }

    /// The pause after failed attempt number `attempt` (from 1): 50 ms, doubling, at most 1 s.
    static func pause(afterAttempt attempt: Int) -> Duration {
        let doublings = min(max(attempt - 1, 0), 5)
        return min(.milliseconds(50 << doublings), longestPause)
    }

    /// Polls `check` until an attempt succeeds, `timeout` has passed, or the caller cancels.
    ///
    /// - Returns: `.success` as soon as an attempt succeeds. `.failure(.timedOut(after: timeout,
    ///   lastError:))` when `timeout` passed first; its message quotes the last attempt's error,
    ///   as in `not ready within 5s: connect to 127.0.0.1:8080 refused`. `.failure(.cancelled)`
    ///   promptly once `cancellation` is cancelled or the calling task is (an exec probe that runs
    ///   at that moment is killed and reaped first).
    func waitUntilReady(_ check: ProbeCheck, timeout: Duration, cancellation: CancellationToken) async -> Result<Void, ProbeFailure> {
        let overall = cancellation.child(timeout: timeout)
        defer { overall.cancel() }
        return await withTaskCancellationHandler {
            var attempts = 0
            var lastError: ProbeFailure?
            while true {
                attempts += 1
                switch await prober.attempt(check, timeout: attemptTimeout, cancellation: overall) {
                case .success:
                    return .success(())
                case .failure(.cancelled):
                    // The attempt was cut short: by the caller, or by the overall timeout, in which
                    // case the attempt before it (if any) says best what was wrong.
                    return ended(overall, timeout: timeout, lastError ?? .attemptTimedOut(action: check.action, after: timeout))
                case .failure(let failure):
                    lastError = failure
                }
                let pause = overall.child(timeout: Self.pause(afterAttempt: attempts))
                await pause.wait()
                pause.cancel()
                if overall.isCancelled {
                    return ended(overall, timeout: timeout, lastError)
                }
            }
        } onCancel: {
            overall.cancel()
        }
    }

    /// The result of a wait that `overall` ended: its own timeout, or else a cancellation.
    private func ended(_ overall: CancellationToken, timeout: Duration, _ lastError: ProbeFailure?) -> Result<Void, ProbeFailure> {
        overall.cause == .timeout(timeout) ? .failure(.timedOut(after: timeout, lastError: lastError)) : .failure(.cancelled)
    }
}
