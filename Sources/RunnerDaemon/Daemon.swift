import CLinuxSupport
import Glibc
public import Logging
import Runner
import Synchronization
public import Systemd

/// The runnerd daemon: it loads the config, runs every group under supervision, tells systemd
/// what it is doing, and stops everything on SIGTERM or SIGINT.
///
/// The daemon as a whole is a `GroupRunner` of its groups. Each group's runner supervises the
/// group (restarts included) and finishes only when a *required* group has stopped for good, so
/// that such a group takes the whole daemon down, while the trouble of any other group stays
/// its own.
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

    private let config: DaemonConfig
    private let logger: Logger
    private let notifier: Notifier
    private let logTarget: LogWriter.Target

    /// Prepares a daemon for `config`. Nothing starts until `run()`.
    ///
    /// - Parameters:
    ///   - logger: The daemon's own log.
    ///   - notifier: Where `READY=1`, `STATUS=` and `STOPPING=1` go (systemd's `NOTIFY_SOCKET`).
    ///   - serviceOutputToJournal: Whether services' output goes to journald as native entries
    ///     (when the daemon's stderr is a journal stream) rather than to stdout with
    ///     `group/service | ` prefixes.
    public init(config: DaemonConfig, logger: Logger, notifier: Notifier = Notifier(), serviceOutputToJournal: Bool) {
        self.config = config
        self.logger = logger
        self.notifier = notifier
        self.logTarget = serviceOutputToJournal ? .journal : .terminal(fd: 1)
    }

    /// Runs until SIGTERM or SIGINT (or until a required group stops for good) and returns the
    /// exit code. A second SIGTERM or SIGINT during the stop kills every service at once.
    public func run() async -> Int32 {
        if runnerd_become_subreaper() != 0 {
            logger.warning("cannot become a child subreaper (errno \(errno)); orphaned grandchildren will not be reaped by runnerd")
        }
        let loop = EventLoop(name: "runnerd-loop")
        let processes = ProcessTable(loop: loop, reapsEveryChild: true)
        let router = OutputRouter(loop: loop, writer: LogWriter(target: logTarget))
        let status = DaemonStatus(config: config, notifier: notifier, logger: logger)
        let baseEnvironment = ProcessEnvironment.forChildren().entries
        let logger = self.logger
        let events = ProcessService.Events(
            spawned: { service, pid in
                logger.info("group \(service.group): service \(service.config.name) started (pid \(pid))")
                status.serviceSpawned(group: service.group, service: service.config.name)
            },
            exited: { service, _ in status.serviceExited(group: service.group, service: service.config.name) }
        )
        let supervisors = config.groups.map { group in
            GroupSupervisor(config: group, status: status, logger: logger) { service in
                ProcessService(
                    group: group.name, config: service, processes: processes, router: router,
                    baseEnvironment: baseEnvironment, events: events
                )
            }
        }

        let stop = CancellationToken.signals([SIGTERM, SIGINT]) { signal in
            logger.warning("received \(signalName(signal)) again: killing every service now")
            for supervisor in supervisors { supervisor.killAll() }
        }
        stop.onCancel {
            let reason = stop.cause.map { "\($0)" } ?? "stop requested"
            logger.notice("\(reason); stopping every group")
            status.stopping(reason: reason)
        }
        let hangUp = SignalSubscription([SIGHUP]) { _ in
            logger.notice("received SIGHUP; this version does not reload its config, so nothing changes")
        }
        defer { hangUp.cancel() }

        let outcomes = Mutex<[String: GroupSupervisor.Outcome]>([:])
        let daemon = GroupRunner(interruptDuration: daemonStopLimit())
        for supervisor in supervisors {
            let group = supervisor.config
            let groupStop = CancellationToken()
            try? daemon.add(Runner(id: group.name, interruptDuration: group.groupInterruptTimeout + .seconds(5), task: {
                let outcome = await supervisor.run(groupStop)
                outcomes.withLock { $0[group.name] = outcome }
                switch outcome {
                case .gaveUp(let reason) where group.required:
                    status.stopping(reason: "required group \(group.name) gave up")
                    logger.critical("required group \(group.name) gave up (\(reason)); stopping runnerd")
                    return
                case .finished where group.required:
                    status.stopping(reason: "required group \(group.name) finished")
                    logger.notice("required group \(group.name) finished; stopping runnerd")
                    return
                default:
                    // A group that is down for good but not required leaves the others running.
                    await groupStop.wait()
                }
            }, stopper: { groupStop.cancel() }))
        }

        let results = (try? await daemon.run(stop)) ?? []
        killOrphans()
        return exitCode(results: results, outcomes: outcomes.withLock { $0 })
    }

    /// Long enough for every group to stop within its own limits, and to kill what would not.
    private func daemonStopLimit() -> Duration {
        config.groups.map(\.groupInterruptTimeout).max().map { $0 + .seconds(10) } ?? .seconds(10)
    }

    private func exitCode(results: [RunResult], outcomes: [String: GroupSupervisor.Outcome]) -> Int32 {
        var code = Exit.success
        for group in config.groups {
            switch outcomes[group.name] {
            case .gaveUp where group.required:
                code = Exit.failure
            case .stopped(let killed) where !killed.isEmpty:
                logger.error("group \(group.name): \(killed.joined(separator: ", ")) had to be killed during the stop")
                code = Exit.failure
            default:
                break
            }
        }
        for result in results {
            if let timeout = result.timeout {
                logger.error("group \(timeout.runnerID) did not finish stopping within \(DurationText.format(timeout.duration))")
                code = Exit.failure
            }
        }
        return code
    }

    /// Kills and reaps whatever is still a child of ours: processes that escaped their service's
    /// process group and were re-parented to this subreaper.
    private func killOrphans() {
        let me = getpid()
        var orphans: [pid_t] = []
        guard let proc = opendir("/proc") else { return }
        defer { closedir(proc) }
        while let entry = readdir(proc) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = pid_t(name), pid != me, parentPID(of: pid) == me else { continue }
            orphans.append(pid)
        }
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

/// The parent pid from `/proc/PID/stat`, or nil if the process is gone.
func parentPID(of pid: pid_t) -> pid_t? {
    guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 512)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
    let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    // The command name is in parentheses and may contain spaces; fields resume after the last ')'.
    guard let close = line.lastIndex(of: ")") else { return nil }
    let fields = line[line.index(after: close)...].split(separator: " ")
    return fields.count > 1 ? pid_t(fields[1]) : nil
}
