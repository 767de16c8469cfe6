import CLinuxSupport
import Glibc
public import Logging
import Runner
import Systemd
public import RunnerdConfig

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
        /// No daemon answers on the control socket (a client command).
        public static let unavailable: Int32 = 69
        /// The control socket refused the caller (a client command).
        public static let notAllowed: Int32 = 77
        /// An invalid or missing config.
        public static let config: Int32 = 78
    }

    /// A watchdog shorter than this cannot be honoured: a ping goes through the event loop, a
    /// Swift task and the lifecycle machine, and a busy machine may take milliseconds for that.
    static let shortestHonouredWatchdog: Duration = .milliseconds(20)
    /// However short the watchdog, pings never go out more often than this, so that a tiny
    /// `WATCHDOG_USEC` cannot turn the daemon into a datagram pump.
    static let shortestPingInterval: Duration = .milliseconds(5)

    private let configPath: String
    private let initialConfig: DaemonConfig
    private let logger: Logger
    private let logTarget: LogWriter.Target
    private let stopTimeout: Duration?
    private let controlSocket: String?

    /// Prepares a daemon. Nothing starts until `run()`.
    ///
    /// - Parameters:
    ///   - configPath: Where SIGHUP re-reads the config from.
    ///   - config: The config loaded from `configPath` at start.
    ///   - logger: The daemon's own log.
    ///   - serviceOutputToJournal: Whether services' output goes to journald as native entries
    ///     (when the daemon's stderr is a journal stream) rather than to stdout with
    ///     `group/service | ` prefixes.
    ///   - stopTimeout: The unit's `TimeoutStopSec`, if known: a stop that runs past 75% of it,
    ///     while still within the services' own limits, asks systemd for more time. Without it,
    ///     the daemon asks for 30 more seconds before every 30 seconds of stopping.
    ///   - controlSocket: Where to serve the control socket; nil for the usual place
    ///     (see ``ControlSocketPath``).
    public init(
        configPath: String, config: DaemonConfig, logger: Logger,
        serviceOutputToJournal: Bool, stopTimeout: Duration? = nil, controlSocket: String? = nil
    ) {
        self.controlSocket = controlSocket
        self.configPath = configPath
        self.initialConfig = config
        self.logger = logger
        self.logTarget = serviceOutputToJournal ? .journal : .terminal(fd: 1)
        self.stopTimeout = stopTimeout
    }

    /// Why `config` cannot run here, if it cannot: a config with resource limits needs a
    /// delegated cgroup (the shipped unit's `Delegate=yes`) whose controllers cover them, so that
    /// a limit is never silently absent. The first such limit, as a located error. Reads a few
    /// files; changes nothing.
    public static func cgroupProblem(with config: DaemonConfig) -> ConfigError? {
        switch CgroupTree.detect() {
        case .delegated(let tree): tree.problem(with: config)
        case .unavailable: CgroupTree.refusal(of: config)
        }
    }

    /// Runs until SIGTERM or SIGINT, or until a required group stops for good, and returns the
    /// exit code. A second SIGTERM or SIGINT during the stop kills every service at once.
    ///
    /// The path of a stop, in order: the signal cancels the `signals` token; its handler posts a
    /// stop request to the ``Supervisor``, whose ``DaemonLifecycle`` sends `STOPPING=1` and then
    /// asks each ``GroupLifecycle`` to stop; each group's runner calls its services' stoppers;
    /// the processes stop (or are killed when their group's machine says so); and once every
    /// group has ended, the machine's exit code comes back here.
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
        let cgroups = adoptCgroup(loop: loop)
        if cgroups == nil, let refusal = CgroupTree.refusal(of: initialConfig) {
            logger.critical("\(refusal)")
            return Self.Exit.config
        }
        defer { cgroups?.tree.removeEmpty() }
        let router = OutputRouter(loop: loop, writer: LogWriter(target: logTarget))
        let environment = ProcessEnvironment.current().variables
        let relay = NotifyRelay(loop: loop, directory: NotifyRelay.parentDirectory(environment: environment), logger: logger)
        defer { relay.close() }
        let context = ProcessService.Context(
            processes: processes, router: router, relay: relay,
            baseEnvironment: ChildEnvironment(ProcessEnvironment.forChildren().entries),
            events: ProcessService.Events(), cgroups: cgroups
        )
        // READY=1, STATUS= and the rest go to systemd's NOTIFY_SOCKET without ever waiting for it.
        let outbox = NotifyOutbox(environment: environment, loop: loop, logger: logger)
        let configPath = self.configPath
        let supervisor = Supervisor(
            config: initialConfig, stopTimeout: stopTimeout, loop: loop, logger: logger,
            dependencies: Supervisor.Dependencies(
                makeService: { group, service, _, events in
                    var context = context
                    context.events = events
                    return ProcessService(group: group, config: service, context: context)
                },
                loadConfig: {
                    Result { () throws(ConfigErrors) -> DaemonConfig in
                        let config = try ConfigLoader.load(path: configPath)
                        let problem = cgroups.map { $0.tree.problem(with: config) } ?? CgroupTree.refusal(of: config)
                        if let problem { throw ConfigErrors([problem]) }
                        if let tooMany = DescriptorBudget.problem(with: config) { throw ConfigErrors([tooMany]) }
                        return config
                    }
                },
                notify: { states in outbox.post(states) },
                tagsLogLines: logTarget.isJournal,
                unit: Self.ownUnit()
            )
        )
        let control = ControlServer(
            path: ControlSocketPath.forDaemon(explicit: controlSocket, environment: environment),
            controlGroup: initialConfig.defaults.controlGroup?.gid, loop: loop, logger: logger,
            handler: supervisor, version: RunnerdVersion.current
        )
        do {
            try control.open()
        } catch {
            logger.warning("control socket: \(error); `runnerd status`, `restart` and `reload` cannot reach this daemon")
        }
        defer { control.close() }

        let signals = CancellationToken.signals([SIGTERM, SIGINT]) { signal in
            supervisor.post(.killRequested(signal: "\(UnixSignal(rawValue: signal))"))
        }
        signals.onCancel {
            supervisor.post(.stopRequested(reason: signals.cause.map { "\($0)" } ?? "stop requested"))
        }
        let hangUp = SignalSubscription([SIGHUP]) { _ in supervisor.post(.reloadRequested) }
        let watchdog = startWatchdog(supervisor)
        let code = await withCheckedContinuation { exit in
            supervisor.start { exit.resume(returning: $0) }
        }
        hangUp.cancel()
        watchdog?.cancel()
        // The last messages (STOPPING=1, the final status) go out before the exit, if systemd
        // takes them within a second.
        _ = await outbox.flush(timeout: .seconds(1))
        killOrphans()
        return code
    }

    /// runnerd's delegated cgroup, with this process moved into its own leaf, and the watcher of
    /// its services' cgroups; nil outside a delegated cgroup, or when the move fails (logged),
    /// and services are then tracked by process group and `RUNNERD_SERVICE`.
    private func adoptCgroup(loop: EventLoop) -> (tree: CgroupTree, watcher: CgroupWatcher)? {
        guard case .delegated(let tree) = CgroupTree.detect() else { return nil }
        if let problem = tree.adopt() {
            logger.error("\(problem); services run without cgroups of their own")
            return nil
        }
        guard let watcher = CgroupWatcher(loop: loop) else {
            logger.error("cannot watch cgroups (inotify: errno \(errno)); services run without cgroups of their own")
            return nil
        }
        logger.info("one cgroup per service under \(tree.cgroupPath)")
        return (tree, watcher)
    }

    /// Pings systemd's watchdog at half its timeout, only once the lifecycle machines have
    /// acknowledged a tick since the last ping: the tick goes from the event loop's timer through
    /// a Swift task back onto the loop, where ``DaemonLifecycle`` answers it with the ping. A stall
    /// anywhere on that path (the loop, the concurrency runtime, the machines) stops the pings,
    /// and systemd restarts the unit. Nothing is scheduled without a watchdog (`WATCHDOG_USEC`
    /// unset or meant for another process).
    private func startWatchdog(_ supervisor: Supervisor) -> CancellationToken? {
        let settings: Watchdog?
        do {
            settings = try Watchdog.current()
        } catch {
            logger.warning("ignoring the watchdog settings: \(error)")
            return nil
        }
        guard let settings else { return nil }
        let interval = max(settings.pingInterval, Self.shortestPingInterval)
        if settings.timeout < Self.shortestHonouredWatchdog {
            logger.warning("watchdog: WatchdogSec=\(DurationText.format(settings.timeout)) is shorter than runnerd can honour (\(DurationText.format(Self.shortestHonouredWatchdog))); pinging every \(DurationText.format(interval)), no more often; raise WatchdogSec=")
        } else {
            logger.info("watchdog: \(DurationText.format(settings.timeout)); pinging every \(DurationText.format(interval))")
        }
        let stop = CancellationToken()
        let loop = supervisor.loop
        @Sendable func tick() {
            guard !stop.isCancelled else { return }
            Task { supervisor.post(.watchdogTick) }
            loop.schedule(after: interval) { tick() }
        }
        loop.execute { tick() }
        return stop
    }

    /// The systemd unit whose cgroup runnerd runs in (`runnerd.service`, `runnerd@demo.service`),
    /// from /proc/self/cgroup; nil outside a service unit.
    private static func ownUnit() -> String? {
        CgroupFile.ownCgroupPath()?.split(separator: "/").last { $0.hasSuffix(".service") }.map(String.init)
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
