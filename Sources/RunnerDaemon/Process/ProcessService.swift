import Glibc
import Runner
import Synchronization
import Systemd
import RunnerdConfig

/// One configured service as a `Runner`: its task spawns the process and waits until the process
/// and everything left in its process group have exited; its stopper sends the stop signal to
/// the process group.
///
/// It decides nothing about time: when a service must be killed is decided by its group's
/// ``GroupLifecycle``, which hears of everything that needs a decision (a failed probe through
/// `Events.failed`, processes left behind through `Events.lingering`, the runner's `TimeoutError`)
/// and answers with ``signalRemaining()`` or ``kill()``, which sends SIGKILL to the whole process
/// group and to what escaped it, so nothing of a service outlives its stop.
///
/// A process can leave the group and the session (a daemon that forks twice and calls `setsid`);
/// once its parent exits it is re-parented to runnerd, the child subreaper. In the daemon, every
/// service's environment carries `RUNNERD_SERVICE=group/service`, which such a process inherits,
/// so that when the service's process group has emptied, its escaped processes are found through
/// `/proc` and stopped too, under the same orders. One that also replaced its environment is only
/// killed when runnerd exits.
///
/// In a delegated cgroup (`Context.cgroups`) none of that guesswork is needed: each run gets a
/// cgroup of its own (``ServiceCgroup``) that the child is spawned into, and that nothing it
/// starts can leave. What is left of the service is then what is in its cgroup, wherever its
/// process group, session or environment; the stop signal goes to each of those processes,
/// SIGKILL is one write to `cgroup.kill`, the run ends when the cgroup is empty, and an OOM kill
/// in it (`memory.events`) is the run's failure.
final class ProcessService: Sendable {
    /// The variable that marks a service's processes, so that those that leave its process group
    /// and session can still be found: `RUNNERD_SERVICE=group/service`.
    static let markerVariable = "RUNNERD_SERVICE"
    /// Escaped processes can orphan their own children in turn: look this many times at most.
    static let escapeRounds = 8

    let group: String
    let config: ServiceConfig
    private let context: Context
    private var processes: ProcessTable { context.processes }
    private let state = Mutex(State())

    private struct State {
        /// The process group (the service's pid: it leads its own session).
        var processGroup: pid_t?
        /// The group runner's stopper asked the service to stop.
        var stopRequested = false
        /// What the service was last told to do with whatever of it is left: a standing order
        /// that also covers escaped processes found later.
        var order = Order.none
        /// Killed after a stop request: it counts as "had to be killed during the stop".
        var killed = false
        /// A failed probe or watchdog, which stopped the service and becomes its result.
        var failure: ServiceFailure?
        /// Escaped processes being stopped, which `kill()` kills too.
        var escaped: [pid_t] = []
        /// The run's cgroup, from before the spawn until the run is over.
        var cgroup: ServiceCgroup?
    }

    private enum Order {
        case none
        case stop
        case kill
    }

    init(group: String, config: ServiceConfig, context: Context) {
        self.group = group
        self.config = config
        self.context = context
    }

    /// What every service of a daemon shares.
    struct Context: Sendable {
        var processes: ProcessTable
        var router: OutputRouter
        /// Serves `NOTIFY_SOCKET` for services with `ready: notify`.
        var relay: NotifyRelay?
        /// The daemon's environment, scrubbed of what belongs to its own service manager.
        var baseEnvironment: ChildEnvironment
        var events: Events
        /// runnerd's delegated cgroup and the watcher of its services' cgroups; nil outside one,
        /// where services are tracked by process group and `RUNNERD_SERVICE`.
        var cgroups: (tree: CgroupTree, watcher: CgroupWatcher)?
    }

    /// What the daemon hears from a service as it goes.
    struct Events: Sendable {
        var spawned: @Sendable (ProcessService, pid_t) -> Void = { _, _ in }
        var ready: @Sendable (ProcessService) -> Void = { _ in }
        /// A `STATUS=` the service sent through its notify socket.
        var status: @Sendable (ProcessService, String) -> Void = { _, _ in }
        /// Processes that left the service's process group and session were found after it
        /// exited, and are sent this signal.
        var escaped: @Sendable (ProcessService, [pid_t], Int32) -> Void = { _, _, _ in }
        /// A probe or the service's watchdog failed: the service must stop.
        var failed: @Sendable (ProcessService) -> Void = { _ in }
        /// The service's main process exited and left processes behind that were not told to
        /// stop yet: they must stop.
        var lingering: @Sendable (ProcessService) -> Void = { _ in }
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

    /// The cgroup of the run in progress, if the service runs in one: its path and accounting.
    var cgroup: ServiceCgroup? { state.withLock { $0.cgroup } }

    /// The stopper: asks the whole process group to stop with the configured signal.
    func stop() {
        let target = state.withLock { state -> pid_t? in
            state.stopRequested = true
            if state.order == .none { state.order = .stop }
            return state.processGroup
        }
        if let target { Glibc.kill(-target, config.stopSignal) }
    }

    /// Sends the stop signal to whatever is left of the service: its process group and the
    /// escaped processes being stopped. Escaped processes found later get it too.
    func signalRemaining() {
        let (target, escaped, signal, cgroup) = state.withLock { state -> (pid_t?, [pid_t], Int32, ServiceCgroup?) in
            if state.order == .none { state.order = .stop }
            return (state.processGroup, state.escaped, state.order == .kill ? SIGKILL : config.stopSignal, state.cgroup)
        }
        if let cgroup { return cgroup.signalAll(signal) }
        if let target { Glibc.kill(-target, signal) }
        for pid in escaped { Self.signal(escaped: pid, signal) }
    }

    /// Sends SIGKILL to the whole process group and to the escaped processes being stopped;
    /// escaped processes found later get it too. In a cgroup, `cgroup.kill` instead: everything
    /// in it, escaped or not. After a stop request, the service then counts as killed.
    func kill() {
        let (target, escaped, cgroup) = state.withLock { state -> (pid_t?, [pid_t], ServiceCgroup?) in
            state.order = .kill
            guard state.processGroup != nil else { return (nil, [], nil) }
            if state.stopRequested { state.killed = true }
            return (state.processGroup, state.escaped, state.cgroup)
        }
        if let cgroup { return cgroup.kill() }
        if let target { Glibc.kill(-target, SIGKILL) }
        for pid in escaped { Self.signal(escaped: pid, SIGKILL) }
    }

    /// One run of the service: spawn, wait for the exit, stop what it left behind, and the result.
    private func run() async throws {
        let launch = try prepare()
        let pid: pid_t
        do {
            pid = try await spawn(launch)
        } catch {
            abandon(launch)
            throw error
        }
        started(launch, pid: pid)
        let status = await processes.waitForExit(pid)
        exited(launch)
        if let cgroup = launch.cgroup, let watcher = context.cgroups?.watcher {
            // Whatever the process left in its cgroup goes with it, under the orders its group's
            // lifecycle gives.
            if leftBehind(cgroup: cgroup, mainPID: pid) { await watcher.waitUntilEmpty(cgroup) }
            let oomKilled = cgroup.oomKills > 0
            release(cgroup)
            try finish(status, oomKilled: oomKilled ? cgroup.memoryMax.map { "\($0)" } ?? "" : nil)
            return
        }
        // Whatever the process left in its process group goes with it, under the orders its
        // group's lifecycle gives; then what escaped.
        if leftBehind(processGroup: pid) { await processes.waitUntilEmpty(processGroup: pid) }
        if processes.adoptsOrphans { await stopEscaped() }
        try finish(status)
    }

    /// The run is over and its cgroup empty: remove it.
    private func release(_ cgroup: ServiceCgroup) {
        state.withLock { $0.cgroup = nil }
        _ = context.cgroups?.tree.remove(cgroup)
    }

    /// What one run of the process needs besides the process itself.
    private struct Launch {
        let stdout: OutputPipe
        let stderr: OutputPipe
        let monitor: ServiceMonitor
        let endpoint: NotifyEndpoint?
        let cgroup: ServiceCgroup?
    }

    /// The process never started: nothing will read or write through the launch's pipes and
    /// socket, and its cgroup is empty.
    private func abandon(_ launch: Launch) {
        launch.stdout.abandon()
        launch.stderr.abandon()
        launch.endpoint?.close()
        if let cgroup = launch.cgroup { release(cgroup) }
    }

    private func prepare() throws -> Launch {
        let source = LogWriter.Source(
            group: group, service: config.name, stderrPriority: SyslogPriority(rawValue: config.stderrPriority) ?? .warning,
            levelPrefix: config.levelPrefix, rateLimit: config.logRateLimit
        )
        let stdout = try OutputPipe(source: source, stream: .stdout, router: context.router)
        let stderr: OutputPipe
        do {
            stderr = try OutputPipe(source: source, stream: .stderr, router: context.router)
        } catch {
            stdout.abandon()
            throw error
        }
        let monitor = ServiceMonitor(
            config: config,
            prober: Prober(
                processes: processes, environment: config.environment,
                workingDirectory: config.workingDirectory, credentials: config.credentials
            ),
            onReady: { [self] in context.events.ready(self) },
            onFailure: { [self] failure in failed(failure) }
        )
        var endpoint: NotifyEndpoint?
        if case .notify? = config.ready?.check, let relay = context.relay {
            do {
                endpoint = try relay.open(for: key, owner: config.credentials?.uid) { [self] message in
                    // The status first, so that a READY=1 in the same message goes out with it.
                    if let status = message.status { context.events.status(self, status) }
                    monitor.notifyMessage(message)
                }
            } catch {
                stdout.abandon()
                stderr.abandon()
                throw ServiceFailure.notReady("cannot open its notify socket: \(error)")
            }
        }
        var cgroup: ServiceCgroup?
        if let tree = context.cgroups?.tree {
            do {
                cgroup = try tree.makeServiceCgroup(group: group, service: config)
            } catch {
                stdout.abandon()
                stderr.abandon()
                endpoint?.close()
                throw ServiceFailure.notStarted("\(error)")
            }
            state.withLock { $0.cgroup = cgroup }
        }
        return Launch(stdout: stdout, stderr: stderr, monitor: monitor, endpoint: endpoint, cgroup: cgroup)
    }

    /// Spawns the service's process. The request, and its environment in particular, lives only
    /// in this call.
    private func spawn(_ launch: Launch) async throws -> pid_t {
        // One continuation, rather than `processes.spawn(_:) async`: see there.
        try await withUnsafeContinuation { continuation in
            processes.spawn(request(for: launch)) { continuation.resume(returning: $0) }
        }.get()
    }

    private func request(for launch: Launch) -> ProcessTable.Request {
        var environment = environment()
        if let endpoint = launch.endpoint { environment += endpoint.environment }
        return ProcessTable.Request(
            executable: config.executable, arguments: config.command, environment: environment,
            workingDirectory: config.workingDirectory, credentials: config.credentials,
            stdoutFD: launch.stdout.writeFD, stderrFD: launch.stderr.writeFD,
            cgroupProcsFD: launch.cgroup?.procsFD ?? -1
        )
    }

    private func started(_ launch: Launch, pid: pid_t) {
        launch.endpoint?.authorize(processGroup: pid)
        let monitor = launch.monitor
        var watchLines: (@Sendable (UnsafeRawBufferPointer) -> Bool)?
        if monitor.wantsLines {
            watchLines = { line in
                monitor.lineArrived(line)
                return monitor.wantsLines
            }
        }
        let lineWatcher = watchLines
        let (stdout, stderr) = (launch.stdout, launch.stderr)
        let order = state.withLock { state -> Order in
            state.processGroup = pid
            return state.order
        }
        // An order given before the process existed applies to it at once.
        if order != .none { Glibc.kill(-pid, order == .kill ? SIGKILL : config.stopSignal) }
        // The spawn is reported before the output is read: the loop reads the pipes, and the
        // ready that a line can bring must reach the group's machine after the start, which it
        // would otherwise ignore.
        context.events.spawned(self, pid)
        processes.loop.execute {
            stdout.start(pid: pid, lineWatcher: lineWatcher)
            stderr.start(pid: pid, lineWatcher: lineWatcher)
        }
        monitor.started()
    }

    /// The process has exited: its probes, watchdog and notify socket end with it.
    private func exited(_ launch: Launch) {
        launch.monitor.stop()
        launch.endpoint?.close()
    }

    /// Whether the main process left processes in its process group. Under a standing order they
    /// get it at once; otherwise the group's lifecycle hears of them and decides.
    private func leftBehind(processGroup pid: pid_t) -> Bool {
        guard Glibc.kill(-pid, 0) == 0 else { return false }
        switch state.withLock({ $0.order }) {
        case .none: context.events.lingering(self)
        case .stop: Glibc.kill(-pid, config.stopSignal)
        case .kill: Glibc.kill(-pid, SIGKILL)
        }
        return true
    }

    /// Whether the main process left processes in its cgroup, as ``leftBehind(processGroup:)``
    /// decides for a process group. Those outside the main process's group are logged as escaped.
    private func leftBehind(cgroup: ServiceCgroup, mainPID: pid_t) -> Bool {
        guard cgroup.isPopulated else { return false }
        let order = state.withLock { $0.order }
        let signal = order == .kill ? SIGKILL : config.stopSignal
        let escaped = cgroup.processes.filter { getpgid($0) != mainPID }
        if !escaped.isEmpty { context.events.escaped(self, escaped, signal) }
        switch order {
        case .none: context.events.lingering(self)
        case .stop: cgroup.signalAll(signal)
        case .kill: cgroup.kill()
        }
        return true
    }

    /// The run's result: killed, killed by the OOM killer (`oomKilled` holds the memory-max, or
    /// is empty without one), failed (a probe or the watchdog), or how the process ended, where
    /// the stop signal after a stop request counts as a clean stop.
    private func finish(_ status: ProcessExit, oomKilled: String? = nil) throws {
        let (stopRequested, killed, failure) = state.withLock { state in
            state.processGroup = nil
            return (state.stopRequested, state.killed, state.failure)
        }
        if killed { throw ServiceFailure.killed(after: config.interruptTimeout) }
        if let oomKilled { throw ServiceFailure.oomKilled(memoryMax: oomKilled.isEmpty ? nil : oomKilled) }
        if let failure { throw failure }
        if status.isSuccess { return }
        if stopRequested && status == .signaled(config.stopSignal, coreDumped: false) { return }
        throw ServiceFailure.exited(status)
    }

    /// Stops the service's escaped processes (see the type's notes) under the standing order: the
    /// stop signal, or SIGKILL once the service is being killed; without an order yet, the group's
    /// lifecycle hears of them (`Events.lingering`) and gives one. Each round waits until the
    /// processes found are gone, then looks again, for the children they orphaned in turn.
    private func stopEscaped() async {
        let marker = "\(Self.markerVariable)=\(key)"
        for _ in 0..<Self.escapeRounds {
            let escaped = await processes.escapedProcesses(marker: marker)
            guard !escaped.isEmpty else { break }
            let order = state.withLock { state in
                state.escaped = escaped
                return state.order
            }
            let signal = order == .kill ? SIGKILL : config.stopSignal
            context.events.escaped(self, escaped, signal)
            if order == .none {
                context.events.lingering(self)
            } else {
                for pid in escaped { Self.signal(escaped: pid, signal) }
            }
            await processes.waitUntilGone(escaped)
        }
        state.withLock { $0.escaped = [] }
    }

    /// Signals an escaped process and, since one that called `setsid` leads a process group of
    /// its own, that group too. (A group's id stays taken while the group exists, so `-pid` can
    /// only be a group this process created.)
    private static func signal(escaped pid: pid_t, _ signal: Int32) {
        Glibc.kill(pid, signal)
        Glibc.kill(-pid, signal)
    }

    /// A probe or watchdog failed: the run fails with `failure` rather than with how the process
    /// ends, and the group's lifecycle decides how the service stops.
    private func failed(_ failure: ServiceFailure) {
        let first = state.withLock { state -> Bool in
            guard state.failure == nil, state.processGroup != nil else { return false }
            state.failure = failure
            return true
        }
        if first { context.events.failed(self) }
    }

    /// The daemon's scrubbed environment, then the login variables of its user, as systemd sets
    /// them for `User=` (`HOME`, `USER`, `LOGNAME`, `SHELL`), then the service's own variables,
    /// which may override those, and last, in the daemon, the marker `RUNNERD_SERVICE=group/service`.
    private func environment() -> [String] {
        var environment = context.baseEnvironment
        if let credentials = config.credentials, let user = credentials.userName {
            if let home = credentials.home { environment.set("HOME", home) }
            environment.set("USER", user)
            environment.set("LOGNAME", user)
            if let shell = credentials.shell { environment.set("SHELL", shell) }
        }
        for variable in config.environment { environment.set(variable.name, variable.value) }
        if processes.adoptsOrphans { environment.set(Self.markerVariable, key) }
        return environment.entries
    }
}
