import Glibc
import Logging
import Runner
import RunnerdConfig
import Systemd

/// The thin shell around the lifecycle machines: it feeds them events and carries out the
/// actions they return. It decides nothing itself.
///
/// Everything here runs on the event loop's thread, one event at a time, so the machines see a
/// single ordered stream of events and their actions run in the order returned. Other threads
/// (the signal thread, the runners' tasks, the services' monitors) hand events in through
/// `post(_:)` and the service callbacks, which only hop onto the loop. Nothing here blocks: the
/// notify messages go through a non-blocking sender, log lines through the logging system's
/// queue, and config files are read off the loop.
final class Supervisor: ControlHandler, @unchecked Sendable {
    // @unchecked: every stored property except the immutable ones is touched only on the loop
    // thread; other threads reach this object only through `loop.execute`.

    /// What a service reports, routed to its group's machine.
    private enum ServiceReport {
        case started
        case ready
        case failed
        case lingering
        case status(String)
    }

    /// What the shell needs from the rest of the daemon.
    struct Dependencies: Sendable {
        /// Makes a service for one run of group `group`; `quiet` while the group flaps.
        var makeService: @Sendable (_ group: String, _ service: ServiceConfig, _ quiet: Bool, _ events: ProcessService.Events) -> ProcessService
        /// Reads and validates the config file (blocking; called off the loop).
        var loadConfig: @Sendable () -> Result<DaemonConfig, ConfigErrors>
        /// Hands a notify message to systemd without blocking.
        var notify: @Sendable ([NotifyState]) -> Void
        /// Whether log lines about a group or service carry `RUNNERD_GROUP=` and
        /// `RUNNERD_SERVICE=` (as journal fields), so that `journalctl RUNNERD_GROUP=web` finds
        /// them beside the group's output. Off on a terminal, where they would only clutter lines.
        var tagsLogLines = false
        /// The systemd unit runnerd runs as, if any, for `runnerd logs`.
        var unit: String?
    }

    let loop: EventLoop
    private let logger: Logger
    private let dependencies: Dependencies
    private var daemon: DaemonLifecycle
    /// The groups being supervised, by generation (a reload's new run of a group has a new one).
    private var groups: [Int: GroupShell] = [:]
    private var status = StatusThrottle()
    private var onExit: (@Sendable (Int32) -> Void)?
    private let restartLog: RestartLogThrottle
    /// Control clients waiting for the machine's answer, by request.
    private var pendingReplies: [Int: (VarlinkReply) -> Void] = [:]
    /// Control clients watching the status (`runnerd status --watch`): the groups they asked for.
    private var watchers: [Int: (groups: [String], respond: (VarlinkReply) -> Void)] = [:]
    private var watchUpdateScheduled = false
    /// Status reports whose cgroup figures are being read off the loop, by token.
    private var reportsBeingRead: [Int: (StatusReport) -> Void] = [:]
    private var nextReportToken = 0

    /// - Parameter restartLog: When a group counts as flapping, and how often it is summarised then.
    init(
        config: DaemonConfig, stopTimeout: Duration?, loop: EventLoop, logger: Logger,
        restartLog: RestartLogThrottle = .standard, dependencies: Dependencies
    ) {
        self.loop = loop
        self.restartLog = restartLog
        self.logger = logger
        self.dependencies = dependencies
        self.daemon = DaemonLifecycle(config: config, stopTimeout: stopTimeout)
    }

    /// Starts every group; `onExit` is called once with the exit code when everything has stopped.
    func start(onExit: @escaping @Sendable (Int32) -> Void) {
        loop.execute { [self] in
            self.onExit = onExit
            perform(daemon.start(at: .now))
        }
    }

    /// Hands an event to the daemon's machine, from any thread.
    func post(_ event: DaemonLifecycle.Event) {
        loop.execute { [self] in perform(daemon.handle(event, at: .now)) }
    }

    // MARK: - The daemon's actions

    private func perform(_ actions: [DaemonLifecycle.Action]) {
        for action in actions {
            switch action {
            case .notify(let states):
                if let text = states.compactMap(\.statusText).last { status.sent(text) }
                dependencies.notify(states)
            case .startGroup(let config, let generation):
                let group = GroupShell(config: config, generation: generation, restartLog: restartLog)
                groups[generation] = group
                perform(group.machine.start(), in: group)
            case .stopGroup(_, let generation):
                guard let group = groups[generation] else { continue }
                perform(group.machine.handle(.stopRequested(at: .now)), in: group)
            case .killEverything:
                for group in groups.values { perform(group.machine.handle(.killRequested), in: group) }
            case .loadConfig:
                loadConfig { result in
                    switch result {
                    case .success(let config): .configLoaded(config)
                    case .failure(let errors): .configInvalid(Self.summary(errors), details: "\(errors)")
                    }
                }
            case .loadPlanConfig(let request):
                loadConfig { result in
                    switch result {
                    case .success(let config): .planConfigLoaded(request: request, config)
                    case .failure(let errors): .planConfigInvalid(request: request, details: "\(errors)")
                    }
                }
            case .reply(let request, let reply):
                pendingReplies.removeValue(forKey: request)?(reply.varlink)
            case .scheduleExtend(let at):
                schedule(at: at) { [self] in perform(daemon.handle(.extendDue, at: .now)) }
            case .statusChanged:
                publishStatus()
                updateWatchers()
            case .pingWatchdog:
                dependencies.notify([.watchdog])
            case .log(let level, let message):
                logger.log(level: level, "\(message)")
            case .exit(let code):
                onExit?(code)
                onExit = nil
            }
        }
    }

    /// Reads the config file off the loop and posts the event `outcome` makes of it.
    private func loadConfig(_ outcome: @escaping @Sendable (Result<DaemonConfig, ConfigErrors>) -> DaemonLifecycle.Event) {
        let load = dependencies.loadConfig
        Task { [self] in post(outcome(load())) }
    }

    /// The first error of a reload's invalid config, for the status line, and how many more.
    private static func summary(_ errors: ConfigErrors) -> String {
        guard let first = errors.errors.first else { return "\(errors)" }
        return "\(first)" + (errors.errors.count > 1 ? " (and \(errors.errors.count - 1) more)" : "")
    }

    // MARK: - The control socket

    func handleControl(_ request: ControlInterface.Request, id: Int, respond: @escaping (VarlinkReply) -> Void) {
        switch request {
        case .status(let names, let watch):
            if let unknown = names.first(where: { name in !daemon.config.groups.contains { $0.name == name } }) {
                return respond(DaemonLifecycle.ControlReply.refused(.noSuchGroup(unknown)).varlink)
            }
            if watch { watchers[id] = (names, respond) }
            statusReport { report in respond(VarlinkReply(parameters: report.only(names).json, continues: watch)) }
        case .group(let kind, let names):
            pendingReplies[id] = respond
            perform(daemon.handle(.groupCommand(.init(request: id, kind: kind, groups: names)), at: .now))
        case .reload(let dryRun):
            pendingReplies[id] = respond
            perform(daemon.handle(dryRun ? .planRequested(request: id) : .controlReload(request: id), at: .now))
        case .getInfo, .describe:
            // Answered by the socket itself.
            break
        }
    }

    func abandonControl(_ id: Int) {
        watchers[id] = nil
        guard pendingReplies.removeValue(forKey: id) != nil else { return }
        perform(daemon.handle(.requestAbandoned(id), at: .now))
    }

    /// The machine's report with each running service's pid, taken on the loop, and then, where
    /// services run in cgroups of their own, what each has used (`memory.current`, `cpu.stat`),
    /// read off the loop: thousands of small files are no reads for the loop's thread. `deliver`
    /// runs on the loop.
    func statusReport(_ deliver: @escaping (StatusReport) -> Void) {
        var report = daemon.report(at: .now)
        report.unit = dependencies.unit
        report.journal = dependencies.tagsLogLines
        var cgroups: [(group: Int, service: Int, cgroup: ServiceCgroup)] = []
        for g in report.groups.indices {
            guard let shell = groups[report.groups[g].generation] else { continue }
            for s in report.groups[g].services.indices where report.groups[g].services[s].state != "down" {
                guard let service = shell.service(report.groups[g].services[s].name) else { continue }
                report.groups[g].services[s].pid = service.processGroup
                if let cgroup = service.cgroup { cgroups.append((g, s, cgroup)) }
            }
        }
        guard !cgroups.isEmpty else { return deliver(report) }
        let token = nextReportToken
        nextReportToken += 1
        reportsBeingRead[token] = deliver
        Task { [self, report] in
            var report = report
            for (g, s, cgroup) in cgroups {
                let used = cgroup.accounting
                report.groups[g].services[s].memoryBytes = used.memoryBytes
                report.groups[g].services[s].cpuUsage = used.cpuUsage
            }
            for g in report.groups.indices { report.groups[g].addUpServices() }
            loop.execute { [self, report] in reportsBeingRead.removeValue(forKey: token)?(report) }
        }
    }

    /// Watchers get the new status at most every 100 ms, however fast it changes, so that a
    /// start of thousands of services costs a watcher a handful of reports, not one per service.
    private func updateWatchers() {
        guard !watchers.isEmpty, !watchUpdateScheduled else { return }
        watchUpdateScheduled = true
        loop.schedule(after: .milliseconds(100)) { [self] in
            watchUpdateScheduled = false
            guard !watchers.isEmpty else { return }
            statusReport { [self] report in
                for watcher in watchers.values {
                    watcher.respond(VarlinkReply(parameters: report.only(watcher.groups).json, continues: true))
                }
            }
        }
    }

    // MARK: - A group's actions

    private func perform(_ actions: [GroupLifecycle.Action], in group: GroupShell) {
        for action in actions {
            switch action {
            case .launch(let quiet):
                launch(group, quiet: quiet)
            case .interrupt:
                group.runner?.interrupt()
            case .prepare(let quiet):
                prepare(group, quiet: quiet)
            case .startService(let name):
                startService(name, in: group)
            case .stopService(let name):
                group.members[name]?.interrupt()
            case .armGroupDeadline(let at):
                let run = group.run
                schedule(at: at) { [self] in
                    guard group.run == run else { return }
                    perform(group.machine.handle(.groupDeadline(at: .now)), in: group)
                }
            case .signal(let name):
                group.service(name)?.signalRemaining()
            case .kill(let name):
                guard let service = group.service(name) else { continue }
                service.kill()
                awaitEnd(of: name, in: group)
            case .killAll:
                for service in group.services { service.kill() }
            case .armDeadline(let name, let at):
                let run = group.run
                schedule(at: at) { [self] in
                    guard group.run == run else { return }
                    perform(group.machine.handle(.deadline(name, at: .now)), in: group)
                }
            case .scheduleRestart(let at):
                schedule(at: at) { [self] in perform(group.machine.handle(.backOffEnded(at: .now)), in: group) }
            case .scheduleSummary(let at):
                schedule(at: at) { [self] in perform(group.machine.handle(.summaryDue(at: .now)), in: group) }
            case .log(let level, let message):
                log(level, message, group: group.config.name)
            case .report(let report):
                if case .ended = report { groups[group.generation] = nil }
                perform(daemon.handle(.group(group.config.name, generation: group.generation, report), at: .now))
            }
        }
    }

    /// Starts one run of `group`: a fresh service and runner for each configured service, all in
    /// one `GroupRunner`, whose results come back to the group's machine.
    private func launch(_ group: GroupShell, quiet: Bool) {
        group.run += 1
        let run = group.run
        let services = group.config.services.map { service in
            dependencies.makeService(group.config.name, service, quiet, events(for: group, run: run, quiet: quiet))
        }
        let runners = services.map { $0.makeRunner() }
        let groupRunner = GroupRunner(interruptDuration: group.config.groupInterruptTimeout)
        for runner in runners { try? groupRunner.add(runner) }
        group.services = services
        group.runners = runners
        group.runner = groupRunner
        try? groupRunner.runAsync(onResult: results(of: group, run: run))
    }

    /// Where a run's results go: each hops onto the loop and reaches the group's machine only if
    /// the run is still the current one.
    private func results(of group: GroupShell, run: Int) -> @Sendable (RunResult) -> Void {
        { [self] result in
            let converted = Self.serviceResult(result)
            loop.execute { [self] in
                guard group.run == run else { return }
                perform(group.machine.handle(.serviceResult(result.runnerID, converted, at: .now)), in: group)
            }
        }
    }

    /// Prepares one run of an ordered group: a fresh service and runner for each configured
    /// service, none started; the group's machine starts them one by one (``startService(_:in:)``).
    private func prepare(_ group: GroupShell, quiet: Bool) {
        group.run += 1
        let run = group.run
        group.services = group.config.services.map { service in
            dependencies.makeService(group.config.name, service, quiet, events(for: group, run: run, quiet: quiet))
        }
        group.runners = group.services.map { $0.makeRunner() }
        group.runner = nil
        group.members = [:]
    }

    /// Starts one service of an ordered group's run, as a group runner of its own, so that its
    /// stop (``GroupLifecycle/Action/stopService(_:)``) comes when the machine says, not when a
    /// sibling ends.
    private func startService(_ name: String, in group: GroupShell) {
        guard let index = group.runners.firstIndex(where: { $0.id == name }), group.members[name] == nil else { return }
        let service = group.services[index]
        let member = GroupRunner(interruptDuration: max(service.config.interruptTimeout, group.config.groupInterruptTimeout))
        try? member.add(group.runners[index])
        group.members[name] = member
        try? member.runAsync(onResult: results(of: group, run: group.run))
    }

    /// The callbacks of one run's services: each hops onto the loop and reaches the group's
    /// machine only if the run is still the current one.
    /// While the group flaps (`quiet`), its services do not log their starts.
    private func events(for group: GroupShell, run: Int, quiet: Bool) -> ProcessService.Events {
        let report: @Sendable (ProcessService, ServiceReport) -> Void = { [self] service, what in
            loop.execute { [self] in
                guard group.run == run else { return }
                let name = service.config.name
                let now = ContinuousClock.now
                switch what {
                case .started: perform(group.machine.handle(.serviceStarted(name, at: now)), in: group)
                case .ready: perform(group.machine.handle(.serviceReady(name)), in: group)
                case .failed: perform(group.machine.handle(.serviceFailed(name, at: now)), in: group)
                case .lingering: perform(group.machine.handle(.serviceLingering(name, at: now)), in: group)
                case .status(let text):
                    perform(daemon.handle(.serviceStatus(group.config.name, generation: group.generation, service: name, text: text), at: now))
                }
            }
        }
        return ProcessService.Events(
            spawned: { [self] service, pid in
                if !quiet { log(.info, "group \(service.group): service \(service.config.name) started (pid \(pid))", group: service.group, service: service.config.name) }
                report(service, .started)
            },
            ready: { [self] service in
                if !quiet, service.config.ready != nil { log(.info, "group \(service.group): service \(service.config.name) is ready", group: service.group, service: service.config.name) }
                report(service, .ready)
            },
            status: { service, text in report(service, .status(text)) },
            escaped: { [self] service, pids, signal in
                let one = pids.count == 1
                let list = pids.map(String.init).joined(separator: ", ")
                log(.warning, "group \(service.group): service \(service.config.name) left \(one ? "1 process" : "\(pids.count) processes") outside its process group (\(one ? "pid" : "pids") \(list)); sending \(one ? "it" : "them") \(UnixSignal(rawValue: signal))", group: service.group, service: service.config.name)
            },
            failed: { service in report(service, .failed) },
            lingering: { service in report(service, .lingering) }
        )
    }

    /// Logs a line about a group, or one of its services, tagged with their names where the
    /// destination keeps such fields. Safe from any thread.
    private func log(_ level: Logger.Level, _ message: String, group: String, service: String? = nil) {
        guard dependencies.tagsLogLines else { return logger.log(level: level, "\(message)") }
        var metadata: Logger.Metadata = ["RUNNERD_GROUP": .string(group)]
        if let service { metadata["RUNNERD_SERVICE"] = .string("\(group)/\(service)") }
        logger.log(level: level, "\(message)", metadata: metadata)
    }

    /// A killed service's task ends once its process group is gone, which SIGKILL ensures; the
    /// group's run ends only then, so that nothing of it outlives the run.
    private func awaitEnd(of name: String, in group: GroupShell) {
        guard let runner = group.runners.first(where: { $0.id == name }) else { return }
        let run = group.run
        Task { [self] in
            await runner.waitUntilFinished()
            loop.execute { [self] in
                guard group.run == run else { return }
                perform(group.machine.handle(.serviceGone(name, at: .now)), in: group)
            }
        }
    }

    /// How a runner's result reads for the group's machine.
    static func serviceResult(_ result: RunResult) -> GroupLifecycle.ServiceResult {
        switch result.error {
        case nil:
            return .init(kind: .clean, description: "exited with status 0")
        case let timeout as TimeoutError:
            return .init(kind: .timedOut(timeout.duration), description: "did not stop within \(DurationText.format(timeout.duration))")
        case let failure as ServiceFailure:
            if case .killed = failure { return .init(kind: .killed, description: "\(failure)") }
            return .init(kind: .failed, description: "\(failure)")
        case let spawn as SpawnError:
            return .init(kind: .failed, description: "failed to start: \(spawn)")
        case let error?:
            return .init(kind: .failed, description: "failed: \(error)")
        }
    }

    // MARK: - Timers and the status line

    /// Runs `action` on the loop at `at`.
    private func schedule(at: ContinuousClock.Instant, _ action: @escaping () -> Void) {
        let now = ContinuousClock.now
        loop.schedule(after: at > now ? at - now : .zero, action)
    }

    /// Sends the status line when it may go out: at once when the last one is older than
    /// ``StatusThrottle/minimumInterval``, else once that has passed (the latest text wins);
    /// and again every second while it ages.
    private func publishStatus() {
        let now = ContinuousClock.now
        switch status.changed(at: now) {
        case .sendNow:
            let text = daemon.statusText(at: now)
            if status.shouldSend(text) { dependencies.notify([.status(text)]) }
        case .sendAt(let at):
            schedule(at: at) { [self] in
                status.trailingDone()
                publishStatus()
            }
        case .later:
            break
        }
        if daemon.statusAges && status.claimRefresh() {
            loop.schedule(after: .seconds(1)) { [self] in
                status.refreshDone()
                publishStatus()
            }
        }
    }
}

/// One supervised group on the loop: its machine and its current run.
private final class GroupShell: @unchecked Sendable {
    // @unchecked: like the supervisor that owns it, touched only on the loop thread; other
    // threads only carry a reference to hand back to the loop.
    let config: GroupConfig
    let generation: Int
    var machine: GroupLifecycle
    /// Counts the runs; events of an earlier run are dropped.
    var run = 0
    var services: [ProcessService] = []
    var runners: [Runner] = []
    var runner: GroupRunner?
    /// An ordered group's run: each started service as a group runner of its own, by name.
    var members: [String: GroupRunner] = [:]

    init(config: GroupConfig, generation: Int, restartLog: RestartLogThrottle) {
        self.config = config
        self.generation = generation
        self.machine = GroupLifecycle(config: config, throttle: restartLog)
    }

    func service(_ name: String) -> ProcessService? {
        services.first { $0.config.name == name }
    }
}

/// When a changed status line may go out: no more than one `STATUS=` per `minimumInterval`, so
/// that a flapping service cannot flood the manager, and only when the text changed.
private struct StatusThrottle {
    static let minimumInterval: Duration = .milliseconds(250)

    enum Decision {
        case sendNow
        case sendAt(ContinuousClock.Instant)
        case later
    }

    private var lastSent = ContinuousClock.Instant.now - .seconds(3600)
    private var lastText = ""
    private var trailingScheduled = false
    private var refreshScheduled = false

    mutating func changed(at now: ContinuousClock.Instant) -> Decision {
        if now - lastSent >= Self.minimumInterval { return .sendNow }
        guard !trailingScheduled else { return .later }
        trailingScheduled = true
        return .sendAt(lastSent + Self.minimumInterval)
    }

    /// Whether `text` differs from the last status sent; if so it counts as sent now.
    mutating func shouldSend(_ text: String) -> Bool {
        guard text != lastText else { return false }
        sent(text)
        return true
    }

    /// A status that went out with another message (READY=1, STOPPING=1).
    mutating func sent(_ text: String) {
        lastText = text
        lastSent = .now
    }

    mutating func trailingDone() { trailingScheduled = false }

    mutating func claimRefresh() -> Bool {
        guard !refreshScheduled else { return false }
        refreshScheduled = true
        return true
    }

    mutating func refreshDone() { refreshScheduled = false }
}
