import Glibc
import RunnerdConfig

/// Why a readiness or health probe failed. Each message names the address, URL or program, so
/// that an operator reading `STATUS=` or the journal can tell what the service did not do.
///
/// One attempt fails with one of the first cases; `ReadinessWaiter` wraps the last of them in
/// `timedOut`, and `HealthMonitor` in `unhealthy`.
enum ProbeFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing listens there: `connect to 127.0.0.1:8080 refused`.
    case refused(address: String)
    /// The connect failed otherwise (unreachable network, no IPv6, ...), with its errno.
    case connectFailed(address: String, errno: Int32)
    /// The host name did not resolve; `reason` is getaddrinfo's.
    case unresolved(host: String, reason: String)
    /// The server answered with a status outside 200–299.
    case httpStatus(url: String, status: Int)
    /// The server's reply was no HTTP status line, or the connection broke before one came.
    case badReply(url: String, problem: String)
    /// The exec probe's program ended other than with status 0.
    case exited(executable: String, status: ProcessExit)
    /// The exec probe's program could not be started.
    case spawnFailed(SpawnError)
    /// One attempt ran out of its time: `connect to 127.0.0.1:8080 timed out after 2s`. `action`
    /// is the check's `ProbeCheck.action`.
    case attemptTimedOut(action: String, after: Duration)
    /// The readiness wait ran out; `lastError` is its last attempt's failure, nil when none had
    /// finished.
    indirect case timedOut(after: Duration, lastError: ProbeFailure?)
    /// `failures` health checks in a row failed; `lastError` is the last one's failure.
    indirect case unhealthy(failures: Int, lastError: ProbeFailure)
    /// The caller cancelled the wait (or its task was cancelled).
    case cancelled
    /// The http probe's URL is not `http://host[:port][/path]`. The config loader rejects such a
    /// URL, so this shows only for a check built in code.
    case invalidURL(url: String, problem: String)
    /// The log-line pattern is not one `LogLinePattern` can run; `reason` completes a sentence
    /// that starts with the quoted pattern. The config loader rejects such a pattern, so this
    /// shows only for a matcher built in code.
    case invalidPattern(pattern: String, reason: String)
    /// A system call the probe needs failed (descriptors or memory ran out).
    case system(call: String, errno: Int32)

    var description: String {
        switch self {
        case .refused(let address):
            "connect to \(address) refused"
        case .connectFailed(let address, let errno):
            "connect to \(address) failed: \(Self.reason(errno))"
        case .unresolved(let host, let reason):
            "cannot resolve \(host): \(reason)"
        case .httpStatus(let url, let status):
            "GET \(url) returned \(status)"
        case .badReply(let url, let problem):
            "GET \(url): \(problem)"
        case .exited(let executable, .exited(let code)):
            "\(executable) exited with status \(code)"
        case .exited(let executable, let status):
            "\(executable) was killed by \(status)"
        case .spawnFailed(let error):
            error.description
        case .attemptTimedOut(let action, let after):
            "\(action) timed out after \(DurationText.format(after))"
        case .timedOut(let after, let lastError):
            "not ready within \(DurationText.format(after))" + (lastError.map { ": \($0)" } ?? "")
        case .unhealthy(let failures, let lastError):
            "\(failures) health \(failures == 1 ? "check" : "checks") in a row failed, the last with: \(lastError)"
        case .cancelled:
            "cancelled"
        case .invalidURL(let url, let problem):
            "\(url.debugDescription) is not a probe URL: \(problem); write e.g. http://127.0.0.1:8080/healthz"
        case .invalidPattern(let pattern, let reason):
            "\(pattern.debugDescription) \(reason)"
        case .system(let call, let errno):
            "\(call) failed: \(Self.reason(errno)); the daemon is short of file descriptors or memory"
        }
    }

    static func reason(_ errno: Int32) -> String {
        String(cString: strerror(errno))
    }
}
