/// Why a service's task ended other than cleanly: the error in its `RunResult`.
public enum ServiceFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The process exited with a non-zero status, or was killed by a signal it was not asked
    /// to stop with.
    case exited(ExitStatus)
    /// The process did not stop within its limit and its process group was sent SIGKILL.
    case killed(after: Duration)

    public var description: String {
        switch self {
        case .exited(let status): "exited with \(status)"
        case .killed(let limit): "did not stop within \(DurationText.format(limit)) and was killed"
        }
    }
}
