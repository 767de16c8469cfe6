import Glibc
import Runner
import Synchronization
import RunnerdConfig

/// Runs single attempts of tcp, http and exec checks, each within a time limit. `ReadinessWaiter`
/// and `HealthMonitor` decide when to attempt; this type only knows how.
///
/// - tcp and http attempts run on a short-lived thread of their own, since connect, send and
///   receive block; a cancellation or the deadline wakes that thread at once. The awaiting task
///   never waits past the deadline, not even for a name resolution that hangs.
/// - exec attempts spawn the program through the daemon's `ProcessTable` in a process group of
///   its own, with stdin, stdout and stderr on `/dev/null` and the environment
///   `PATH=/usr/local/bin:/usr/bin:/bin` plus `environment`. When the deadline passes, or the
///   caller cancels, the whole process group gets SIGKILL and is reaped before `attempt`
///   returns. Whatever the program leaves running in its group after it exits is killed too.
struct Prober: Sendable {
    /// The `PATH` of exec probes, unless `environment` sets another.
    static let path = "/usr/local/bin:/usr/bin:/bin"

    /// Spawns and reaps exec probes.
    let processes: ProcessTable
    /// Variables exec probes get besides `PATH` (a `PATH` here replaces the default one).
    let environment: [EnvironmentVariable]
    /// The directory exec probes run in; nil means the daemon's own.
    let workingDirectory: String?
    /// The identity exec probes run as; nil means the daemon's own.
    let credentials: Credentials?

    /// A prober whose exec probes run through `processes`. For a service's probes, pass the
    /// service's environment, working directory and credentials, so that its check runs the way
    /// the service itself does.
    init(
        processes: ProcessTable, environment: [EnvironmentVariable] = [],
        workingDirectory: String? = nil, credentials: Credentials? = nil
    ) {
        self.processes = processes
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.credentials = credentials
    }

    /// Runs one attempt of `check`, and returns once it has succeeded or failed.
    ///
    /// - Returns: `.success` when a connect succeeded (tcp), the reply's status was 2xx (http) or
    ///   the program exited 0 (exec). Otherwise the attempt's failure: `.attemptTimedOut` when
    ///   `timeout` passed first, `.cancelled` (promptly) when `cancellation` was cancelled first
    ///   or already is.
    func attempt(_ check: ProbeCheck, timeout: Duration, cancellation: CancellationToken) async -> Result<Void, ProbeFailure> {
        let deadline = cancellation.child(timeout: timeout)
        // Releases the timer of an attempt that ended early.
        defer { deadline.cancel() }
        let result: Result<Void, ProbeFailure>?
        switch check {
        case .tcp(let host, let port):
            result = await onProbeThread(deadline) { wakeup in
                ProbeSocket.connect(host: host, port: port, wakeup: wakeup).map { _ in () }
            }
        case .http(let url):
            let probe: HTTPProbe
            do {
                probe = try HTTPProbe(url: url)
            } catch {
                return .failure(error)
            }
            result = await onProbeThread(deadline) { probe.attempt(wakeup: $0) }
        case .exec(let command, let executable):
            result = await exec(command: command, executable: executable, deadline: deadline)
        }
        switch result {
        case .some(.failure(.cancelled)), nil:
            // Only the deadline's own timer is a timeout; a cancelled parent is the caller's doing.
            return deadline.cause == .timeout(timeout)
                ? .failure(.attemptTimedOut(action: check.action, after: timeout))
                : .failure(.cancelled)
        case .some(let result):
            return result
        }
    }

    /// The exec probe's environment: `PATH`, then `environment`, a later name replacing an earlier one.
    var environmentStrings: [String] {
        var order = ["PATH"]
        var values = ["PATH": Self.path]
        for variable in environment where values.updateValue(variable.value, forKey: variable.name) == nil {
            order.append(variable.name)
        }
        return order.map { "\($0)=\(values[$0]!)" }
    }

    /// Runs `body` on a thread of its own. Returns its result, or nil as soon as `deadline` is
    /// cancelled, without waiting for the thread, which the wake-up then ends promptly.
    private func onProbeThread(
        _ deadline: CancellationToken,
        _ body: @escaping @Sendable (ProbeWakeup) -> Result<Void, ProbeFailure>
    ) async -> Result<Void, ProbeFailure>? {
        let wakeup: ProbeWakeup
        switch ProbeWakeup.make() {
        case .success(let made): wakeup = made
        case .failure(let failure): return .failure(failure)
        }
        return await withCheckedContinuation { continuation in
            let once = ResumeOnce(continuation)
            // Resume before waking the thread, so that the thread's own `.cancelled` never wins.
            guard let key = deadline.addHandler({
                once.resume(nil)
                wakeup.signal()
            }) else { return }
            spawnThread(name: "runnerd-probe") {
                let result = body(wakeup)
                deadline.removeHandler(key)
                once.resume(result)
            }
        }
    }

    /// Returns nil when the deadline ended the program.
    private func exec(command: [String], executable: String, deadline: CancellationToken) async -> Result<Void, ProbeFailure>? {
        guard !deadline.isCancelled else { return nil }
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard null >= 0 else { return .failure(.system(call: "open /dev/null", errno: errno)) }
        let request = ProcessTable.Request(
            executable: executable, arguments: command, environment: environmentStrings,
            workingDirectory: workingDirectory, credentials: credentials, stdoutFD: null, stderrFD: null
        )
        let pid: pid_t
        do {
            pid = try await processes.spawn(request)
            close(null)
        } catch {
            close(null)
            return .failure(.spawnFailed(error))
        }
        // The spawn put the program in a process group of its own, so this reaches what it forked.
        let key = deadline.addHandler { kill(-pid, SIGKILL) }
        let status = await processes.waitForExit(pid)
        if let key { deadline.removeHandler(key) }
        kill(-pid, SIGKILL)
        if status.isSuccess { return .success(()) }
        return deadline.isCancelled ? nil : .failure(.exited(executable: executable, status: status))
    }
}

/// A continuation that the first of several racing parties resumes; later calls do nothing.
private final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<Result<Void, ProbeFailure>?, Never>?>

    init(_ continuation: CheckedContinuation<Result<Void, ProbeFailure>?, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume(_ value: Result<Void, ProbeFailure>?) {
        continuation.withLock { taken in
            defer { taken = nil }
            return taken
        }?.resume(returning: value)
    }
}
