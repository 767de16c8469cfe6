import CLinuxSupport
import Glibc
public import Logging
import Runner
import Synchronization
public import Systemd

/// The runnerd daemon: it runs every configured group under supervision, tells systemd what it
/// is doing, feeds its watchdog while it is healthy, reloads its config on SIGHUP, and stops
/// everything on SIGTERM or SIGINT.
public final class Daemon: Sendable {
    /// The exit codes, as `runnerd --help` documents them.
    public enum Exit {
        /// Stopped on request, and every service stopped within its limits.
        public static let success: Int32 = 0
        /// A required group failed and gave up, or a service had to be killed during a stop.
        public static let failure: Int32 = 1
        /// Bad command-line usage.
        public static let usage: Int32 = 64
        /// An invalid or missing config.
        public static let config: Int32 = 78
    }

    private let configPath: String
    private let initialConfig: DaemonConfig
    private let logger: Logger
    private let notifier: Notifier
    private let logTarget: LogWriter.Target
    private let stopTimeout: Duration?

    /// Prepares a daemon. Nothing starts until `run()`.
    ///
    /// - Parameters:
    ///   - configPath: Where SIGHUP re-reads the config from.
    ///   - config: The config loaded from `configPath` at start.
    ///   - logger: The daemon's own log.
    ///   - notifier: Where `READY=1`, `STATUS=` and the rest go (systemd's `NOTIFY_SOCKET`).
    ///   - serviceOutputToJournal: Whether services' output goes to journald as native entries
    ///     (when the daemon's stderr is a journal stream) rather than to stdout with
    ///     `group/service | ` prefixes.
    ///   - stopTimeout: The unit's `TimeoutStopSec`, if known: a stop that runs past 75% of it,
    ///     while still within the services' own limits, asks systemd for more time. Without it,
    ///     the daemon asks for 30 more seconds before every 30 seconds of stopping.
    public init(
        configPath: String, config: DaemonConfig, logger: Logger, notifier: Notifier = Notifier(),
        serviceOutputToJournal: Bool, stopTimeout: Duration? = nil
    ) {
        self.configPath = configPath
        self.initialConfig = config
        self.logger = logger
        self.notifier = notifier
        self.logTarget = serviceOutputToJournal ? .journal : .terminal(fd: 1)
        self.stopTimeout = stopTimeout
    }

    /// Runs until SIGTERM or SIGINT, or until a required group stops for good, and returns the
    /// exit code. A second SIGTERM or SIGINT during the stop kills every service at once.
    public func run() async -> Int32 {
        if runnerd_raise_open_files_limit() != 0 {
            logger.warning("cannot raise the open-files limit (errno \(errno)); every service needs two descriptors")
        }
        if runnerd_become_subreaper() != 0 {
            logger.warning("cannot become a child subreaper (errno \(errno)); orphaned grandchildren will not be reaped by runnerd")
        }
        // Before the loop and the pipes exist, so that the slots sit below them (a spawn's cost
        // then does not grow with the number of services).
        runnerd_reserve_spawn_slots()
        let logger = self.logger
        let loop = EventLoop(name: "runnerd-loop")
        let processes = ProcessTable(loop: loop, reapsEveryChild: true)
        let router = OutputRouter(loop: loop, writer: LogWriter(target: logTarget))
        let status = DaemonStatus(notifier: notifier, logger: logger, loop: loop)
        let environment = ProcessEnvironment.current().variables
        let relay = NotifyRelay(loop: loop, directory: NotifyRelay.parentDirectory(environment: environment), logger: logger)
        defer { relay.close() }
        let context = ProcessService.Context(
            processes: processes, router: router, relay: relay,
            baseEnvironment: ChildEnvironment(ProcessEnvironment.forChildren().entries),
            events: ProcessService.Events(
                spawned: { service, pid in
                    logger.info("group \(service.group): service \(service.config.name) started (pid \(pid))")
                    status.serviceStarting(service.key)
                },
                ready: { service in
                    if service.config.ready != nil { logger.info("group \(service.group): service \(service.config.name) is ready") }
                    status.serviceReady(service.key)
                },
                status: { service, text in status.serviceStatus(service.key, text) },
                exited: { service, _ in status.serviceDown(service.key) },
                escaped: { service, pids, signal in
                    let one = pids.count == 1
                    let list = pids.map(String.init).joined(separator: ", ")
                    logger.warning("group \(service.group): service \(service.config.name) left \(one ? "1 process" : "\(pids.count) processes") outside its process group (\(one ? "pid" : "pids") \(list)); sending \(one ? "it" : "them") \(UnixSignal(rawValue: signal))")
                }
            )
        )

        let running = Mutex<GroupSet?>(nil)
        let signals = CancellationToken.signals([SIGTERM, SIGINT]) { signal in
            logger.warning("received \(UnixSignal(rawValue: signal)) again: killing every service now")
            running.withLock { $0 }?.killAll()
        }
        let shutdown = signals.child()
        let failedRequired = Mutex<String?>(nil)
        // A flapping group's runs start their services without a line each.
        var quietContext = context
        quietContext.events.spawned = { service, _ in status.serviceStarting(service.key) }
        let groups = GroupSet(parent: shutdown, makeSupervisor: { [quietContext] group in
            // The service maker keeps the group's name, not a copy of its whole config.
            GroupSupervisor(config: group, status: status, logger: logger) { [name = group.name] service, quiet in
                ProcessService(group: name, config: service, context: quiet ? quietContext : context)
            }
        }, onRequiredGroupEnded: { group, outcome in
            switch outcome {
            case .gaveUp(let reason):
                logger.critical("required group \(group.name) gave up (\(reason)); stopping runnerd")
                failedRequired.withLock { $0 = group.name }
                status.stopping(reason: "required group \(group.name) gave up")
            default:
                logger.notice("required group \(group.name) finished; stopping runnerd")
                status.stopping(reason: "required group \(group.name) finished")
            }
            shutdown.cancel()
        })
        running.withLock { $0 = groups }

        signals.onCancel {
            let reason = signals.cause.map { "\($0)" } ?? "stop requested"
            logger.notice("\(reason); stopping every group")
            status.stopping(reason: reason)
        }

        status.configure(initialConfig)
        for group in initialConfig.groups { groups.start(group) }

        let reloads = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let hangUp = SignalSubscription([SIGHUP]) { _ in reloads.continuation.yield() }
        let reloader = Task {
            for await _ in reloads.stream {
                if shutdown.isCancelled { break }
                await reload(groups: groups, status: status)
            }
        }
        let watchdog = startWatchdog(loop: loop)

        await shutdown.wait()
        hangUp.cancel()
        reloads.continuation.finish()
        extendStopWhileNeeded(loop: loop, status: status, limit: groups.stopLimit)
        let outcomes = await groups.waitForAll()
        _ = await reloader.value
        watchdog?.cancel()
        killOrphans()
        let code = exitCode(outcomes)
        logger.notice("stopped; exit code \(code)")
        return code
    }

    private func reload(groups: GroupSet, status: DaemonStatus) async {
        logger.notice("received SIGHUP; reloading \(configPath)")
        status.reloading()
        let config: DaemonConfig
        do {
            config = try ConfigLoader.load(path: configPath)
        } catch {
            logger.error("reload: \(configPath) is invalid; keeping the running config:\n\(error)")
            status.reloadFailed(error.errors.first.map { "\($0)" + (error.errors.count > 1 ? " (and \(error.errors.count - 1) more)" : "") } ?? "\(error)")
            return
        }
        status.configure(config)
        let restarted = await groups.apply(config, logger: logger)
        logger.notice("reload: done; \(restarted.isEmpty ? "no group changed" : "restarted \(restarted.joined(separator: ", "))")")
    }

    /// Pings systemd's watchdog at half its timeout, from the event loop, which also reaps
    /// children and reads their output: if that loop hangs, the pings stop and systemd restarts
    /// the unit. Each ping also needs the Swift concurrency side to have answered the previous
    /// one, so a deadlocked supervisor stops the pings too. Nothing is scheduled without a
    /// watchdog (`WATCHDOG_USEC` unset or meant for another process).
    private func startWatchdog(loop: EventLoop) -> CancellationToken? {
        let settings: Watchdog?
        do {
            settings = try Watchdog.current()
        } catch {
            logger.warning("ignoring the watchdog settings: \(error)")
            return nil
        }
        guard let settings else { return nil }
        logger.info("watchdog: \(DurationText.format(settings.timeout)); pinging every \(DurationText.format(settings.pingInterval))")
        let stop = CancellationToken()
        let heartbeat = Heartbeat()
        let notifier = self.notifier
        let logger = self.logger
        @Sendable func tick() {
            guard !stop.isCancelled else { return }
            if heartbeat.answered.load(ordering: .acquiring) {
                do {
                    _ = try notifier.send(.watchdog)
                } catch {
                    logger.warning("cannot ping the watchdog: \(error)")
                }
                heartbeat.answered.store(false, ordering: .releasing)
                Task { heartbeat.answered.store(true, ordering: .releasing) }
            }
            loop.schedule(after: settings.pingInterval) { tick() }
        }
        loop.execute { tick() }
        return stop
    }

    /// Keeps systemd from killing a stop that is still within the services' own limits.
    private func extendStopWhileNeeded(loop: EventLoop, status: DaemonStatus, limit: Duration) {
        let started = ContinuousClock.now
        let (firstCheck, extension_) = stopTimeout.map { ($0 * 3 / 4, $0) } ?? (.seconds(25), .seconds(30))
        @Sendable func check() {
            let elapsed = ContinuousClock.now - started
            guard elapsed < limit else { return }
            status.extendStop(by: extension_)
            loop.schedule(after: extension_ * 3 / 4) { check() }
        }
        loop.execute { loop.schedule(after: firstCheck) { check() } }
    }

    private func exitCode(_ outcomes: [(group: GroupConfig, outcome: GroupSupervisor.Outcome)]) -> Int32 {
        var code = Exit.success
        for (group, outcome) in outcomes {
            switch outcome {
            case .gaveUp where group.required:
                code = Exit.failure
            case .stopped(let killed) where !killed.isEmpty:
                logger.error("group \(group.name): \(killed.joined(separator: ", ")) had to be killed during the stop")
                code = Exit.failure
            default:
                break
            }
        }
        return code
    }

    /// Kills and reaps whatever is still a child of ours: processes that escaped their service's
    /// process group and were re-parented to this subreaper. Every spawned child has been reaped
    /// by now, so any child left is such an orphan. They are found through the kernel's lists of
    /// our children, not by reading every process's stat: that cost grew with everything else
    /// running on the host, and was most of the time a stop took.
    private func killOrphans() {
        var info = siginfo_t()
        if waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD { return }
        let orphans = ProcessTable.children(of: getpid())
        for pid in orphans {
            logger.warning("killing pid \(pid), left behind by a service")
            kill(pid, SIGKILL)
        }
        for pid in orphans {
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }
}

/// Whether the Swift concurrency side answered the last watchdog tick.
private final class Heartbeat: Sendable {
    let answered = Atomic(true)
}
