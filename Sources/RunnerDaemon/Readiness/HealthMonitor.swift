import Runner
import Synchronization
import RunnerdConfig

/// Runs a service's health probe on its schedule and reports the service unhealthy once
/// `probe.failures` checks in a row have failed.
///
/// The schedule: the first check starts one `interval` after the start (the service has just
/// proved itself ready), and each further check one `interval` after the previous one started,
/// or at once if that one took longer. Each check may take up to `probe.timeout`. A success
/// resets the count of failures. Between checks the monitor waits on a timer; it never polls.
///
/// Use `watch` from a task of your own, or `start` for a monitor that runs by itself until it
/// reports or is stopped.
final class HealthMonitor: Sendable {
    private let token: CancellationToken
    /// Whether the monitor was stopped or has reported; `onUnhealthy` runs only if it was not.
    private let finished = Mutex(false)
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    private init(token: CancellationToken) {
        self.token = token
    }

    /// Runs `probe.check` on `probe`'s schedule until `probe.failures` checks in a row have failed,
    /// then returns `.unhealthy(failures:lastError:)`; or returns nil promptly once `cancellation`
    /// (or the calling task) is cancelled. Calls `onFailedCheck` after each failed check with the
    /// number of failures in a row so far (1, 2, ...), for logs and status.
    static func watch(
        _ probe: HealthProbe, prober: Prober, cancellation: CancellationToken,
        onFailedCheck: @Sendable (_ inARow: Int, _ failure: ProbeFailure) -> Void = { _, _ in }
    ) async -> ProbeFailure? {
        let check = ProbeCheck(probe.check)
        let failuresNeeded = max(probe.failures, 1)
        // The task's cancellation reaches a running check through this token.
        let token = cancellation.child()
        defer { token.cancel() }
        return await withTaskCancellationHandler {
            let clock = ContinuousClock()
            var next = clock.now + probe.interval
            var inARow = 0
            while true {
                let pause = token.child(timeout: max(next - clock.now, .zero))
                await pause.wait()
                pause.cancel()
                if token.isCancelled { return nil }
                let started = clock.now
                switch await prober.attempt(check, timeout: probe.timeout, cancellation: token) {
                case .success:
                    inARow = 0
                case .failure(.cancelled):
                    return nil
                case .failure(let failure):
                    inARow += 1
                    onFailedCheck(inARow, failure)
                    if inARow >= failuresNeeded {
                        return .unhealthy(failures: inARow, lastError: failure)
                    }
                }
                next = max(started + probe.interval, clock.now)
            }
        } onCancel: {
            token.cancel()
        }
    }

    /// Starts monitoring now, in a task of its own, as `watch` describes. Calls `onUnhealthy` at
    /// most once, when the service has failed `probe.failures` checks in a row; the monitor ends
    /// then. It ends without a call once `cancellation` is cancelled or `stop()` is called.
    static func start(
        _ probe: HealthProbe, prober: Prober, cancellation: CancellationToken,
        onFailedCheck: @escaping @Sendable (_ inARow: Int, _ failure: ProbeFailure) -> Void = { _, _ in },
        onUnhealthy: @escaping @Sendable (ProbeFailure) -> Void
    ) -> HealthMonitor {
        let monitor = HealthMonitor(token: cancellation.child())
        let task = Task {
            guard let failure = await watch(probe, prober: prober, cancellation: monitor.token, onFailedCheck: onFailedCheck) else { return }
            let wasFinished = monitor.finished.withLock { finished in
                defer { finished = true }
                return finished
            }
            if !wasFinished { onUnhealthy(failure) }
        }
        monitor.task.withLock { $0 = task }
        return monitor
    }

    /// Stops the monitor: a check under way is cancelled (an exec probe is killed), and
    /// `onUnhealthy` is not called once this has returned, unless that call had already begun.
    /// Calling it again, or after the monitor reported, does nothing.
    func stop() {
        finished.withLock { $0 = true }
        token.cancel()
    }

    /// Suspends until the monitor has ended: it reported, was stopped, or its token was
    /// cancelled. Any `onUnhealthy` call has returned by then.
    func waitUntilFinished() async {
        await task.withLock { $0 }?.value
    }
}
