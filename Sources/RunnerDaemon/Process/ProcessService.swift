import Glibc
import Runner
import Synchronization
import Systemd

/// One configured service as a `Runner`: its task spawns the process and waits until the process
/// and everything left in its process group have exited; its stopper sends the stop signal to
/// the process group.
///
/// The daemon answers a runner's `TimeoutError` with `kill()`, which sends SIGKILL to the whole
/// process group, so nothing of a service outlives its stop.
final class ProcessService: Sendable {
    let group: String
    let config: ServiceConfig
    private let processes: ProcessTable
    private let router: OutputRouter
    private let baseEnvironment: [String]
    private let events: Events
    private let state = Mutex(State())

    private struct State {
        /// The process group (the service's pid: it leads its own session).
        var processGroup: pid_t?
        var stopRequested = false
        var killed = false
    }

    init(
        group: String, config: ServiceConfig, processes: ProcessTable, router: OutputRouter,
        baseEnvironment: [String], events: Events
    ) {
        self.group = group
        self.config = config
        self.processes = processes
        self.router = router
        self.baseEnvironment = baseEnvironment
        self.events = events
    }

    /// What the daemon hears from a service as it goes.
    struct Events: Sendable {
        var spawned: @Sendable (ProcessService, pid_t) -> Void = { _, _ in }
        var exited: @Sendable (ProcessService, ExitStatus) -> Void = { _, _ in }
    }

    /// A fresh runner for one run of this service.
    func makeRunner(interruptDuration: Duration? = nil) -> Runner {
        Runner(
            id: config.name, interruptDuration: interruptDuration ?? config.interruptTimeout,
            task: { [self] in try await run() }, stopper: { [self] in stop() }
        )
    }

    /// `group/service`: the service's name within the daemon.
    var key: String { "\(group)/\(config.name)" }

    /// The pid of the running process, if it has been spawned and has not been reaped.
    var processGroup: pid_t? { state.withLock { $0.processGroup } }

    /// Whether the service had to be killed.
    var wasKilled: Bool { state.withLock { $0.killed } }

    /// The stopper: asks the whole process group to stop with the configured signal.
    func stop() {
        let target = state.withLock { state -> pid_t? in
            state.stopRequested = true
            return state.processGroup
        }
        if let target { Glibc.kill(-target, config.stopSignal) }
    }

    /// Sends SIGKILL to the whole process group, once its limit has run out or on a forced stop.
    func kill() {
        let target = state.withLock { state -> pid_t? in
            guard state.processGroup != nil else { return nil }
            state.stopRequested = true
            state.killed = true
            return state.processGroup
        }
        if let target { Glibc.kill(-target, SIGKILL) }
    }

    private func run() async throws {
        let source = LogWriter.Source(group: group, service: config.name)
        let stdout = try OutputPipe(source: source, stream: .stdout, router: router)
        let stderr: OutputPipe
        do {
            stderr = try OutputPipe(source: source, stream: .stderr, router: router)
        } catch {
            stdout.abandon()
            throw error
        }
        let request = ProcessTable.Request(
            executable: config.executable, arguments: config.command, environment: environment(),
            workingDirectory: config.workingDirectory, credentials: config.credentials,
            stdoutFD: stdout.writeFD, stderrFD: stderr.writeFD
        )
        let pid: pid_t
        do {
            pid = try await processes.spawn(request)
        } catch {
            stdout.abandon()
            stderr.abandon()
            throw error
        }
        processes.loop.execute {
            stdout.start(pid: pid)
            stderr.start(pid: pid)
        }
        let stopNow = state.withLock { state -> Bool in
            state.processGroup = pid
            return state.stopRequested
        }
        if stopNow { Glibc.kill(-pid, state.withLock { $0.killed } ? SIGKILL : config.stopSignal) }
        events.spawned(self, pid)

        let status = await processes.waitForExit(pid)
        events.exited(self, status)
        // Whatever the process left in its process group goes with it: the stop signal first,
        // SIGKILL once the interrupt timeout has passed.
        if Glibc.kill(-pid, config.stopSignal) == 0 {
            let deadline = CancellationToken(timeout: config.interruptTimeout)
            deadline.onCancel { [weak deadline] in
                // Only the timeout kills; the explicit cancel below just means the group emptied.
                if deadline?.cause != .explicit { Glibc.kill(-pid, SIGKILL) }
            }
            await processes.waitUntilEmpty(processGroup: pid)
            deadline.cancel()
        }
        let (stopRequested, killed) = state.withLock { state in
            state.processGroup = nil
            return (state.stopRequested, state.killed)
        }
        if killed { throw ServiceFailure.killed(after: config.interruptTimeout) }
        if status.isSuccess { return }
        if stopRequested && status == .signaled(config.stopSignal, coreDumped: false) { return }
        throw ServiceFailure.exited(status)
    }

    /// The daemon's scrubbed environment, then the service's own variables, then the identity
    /// variables of its user, as systemd sets them for `User=`.
    private func environment() -> [String] {
        var order: [String] = []
        var values: [String: String] = [:]
        func set(_ name: String, _ value: String) {
            if values.updateValue(value, forKey: name) == nil { order.append(name) }
        }
        for entry in baseEnvironment {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            set(String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
        }
        for variable in config.environment { set(variable.name, variable.value) }
        if let credentials = config.credentials, let user = credentials.userName {
            set("USER", user)
            set("LOGNAME", user)
            if let home = credentials.home { set("HOME", home) }
        }
        return order.map { "\($0)=\(values[$0]!)" }
    }
}
