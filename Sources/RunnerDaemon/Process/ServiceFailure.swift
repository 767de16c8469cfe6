import RunnerdConfig
/// Why a service's task ended other than cleanly: the error in its `RunResult`.
public enum ServiceFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The process exited with a non-zero status, or was killed by a signal it was not asked
    /// to stop with.
    case exited(ProcessExit)
    /// The process did not stop within its limit and its process group was sent SIGKILL.
    case killed(after: Duration)
    /// It did not become ready: its probe timed out, or no matching line or READY=1 came in time.
    case notReady(String)
    /// Its health probe failed too many times in a row.
    case unhealthy(String)
    /// It stopped pinging its notify watchdog, or asked for the watchdog to fire.
    case watchdog(String)
    /// The OOM killer killed one of its processes (its cgroup's `memory.events` counted an
    /// `oom_kill`); `memoryMax` is its `memory-max`, if it has one.
    case oomKilled(memoryMax: String?)
    /// It could not be started at all (its cgroup could not be made).
    case notStarted(String)

    /// What happened, as a log line says it after the service's name.
    public var description: String {
        switch self {
        case .exited(let status): "exited with \(status)"
        case .killed(let limit): "did not stop within \(DurationText.format(limit)) and was killed"
        case .notReady(let reason): "was not ready: \(reason)"
        case .unhealthy(let reason): "was unhealthy: \(reason)"
        case .watchdog(let reason): "failed its watchdog: \(reason)"
        case .oomKilled(let limit?): "was killed by the OOM killer (memory-max \(limit))"
        case .oomKilled(nil): "was killed by the OOM killer"
        case .notStarted(let reason): "failed to start: \(reason)"
        }
    }
}
