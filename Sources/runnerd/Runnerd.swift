import ArgumentParser
import Glibc
import Logging
import RunnerDaemon
import Systemd
import RunnerdConfig

@main
struct Runnerd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        // Every command names itself: a name the parser must derive from the type takes a dynamic
        // cast that scans every protocol conformance in the binary, a third of a client
        // command's start (`runnerd status`; Benchmarks/run-control-bench.sh).
        commandName: "runnerd",
        abstract: "Keeps services running as all-or-nothing groups under systemd.",
        discussion: """
            With no subcommand, runnerd runs in the foreground (`runnerd run`).

            EXIT CODES
              0   stopped on request, and every service stopped within its limits
                  (status, start, stop, restart, reload: done)
              1   a required group failed and gave up, or a service had to be killed during a stop
                  (start, restart, reload: a group failed)
              64  bad command-line usage, or an unknown group
              69  no daemon answers on the control socket
              77  the control socket refused the caller
              78  an invalid or missing config
            """,
        version: RunnerdVersion.current,
        subcommands: [Run.self, Check.self, Status.self, Start.self, Stop.self, Restart.self, Reload.self, Logs.self],
        defaultSubcommand: Run.self
    )

    /// The entry point: runnerd's own executors first (`DaemonExecutors`), then the command.
    static func main() {
        DaemonExecutors.run { await main() as Void }
    }
}

/// The options both subcommands take.
struct ConfigOption: ParsableArguments {
    @Option(name: [.short, .long], help: "The config file.")
    var config = "/etc/runnerd/runnerd.yaml"
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the configured groups in the foreground, the way systemd runs runnerd."
    )

    @OptionGroup var options: ConfigOption

    @Option(help: ArgumentHelp("The unit's TimeoutStopSec (e.g. 90s), so that a long stop can ask systemd for more time in good time.", valueName: "duration"))
    var stopTimeout: String?

    @Option(help: ArgumentHelp("How many of runnerd's own log lines may wait for a stalled journald or standard error; later ones are dropped and counted.", valueName: "lines"))
    var logQueueCapacity = LogQueue.defaultCapacity

    @Option(help: ArgumentHelp("Where to serve the control socket (default: $RUNTIME_DIRECTORY/control.sock under systemd, else /run/runnerd/control.sock for root, $XDG_RUNTIME_DIR/runnerd/control.sock for other users).", valueName: "path"))
    var controlSocket: String?

    func validate() throws {
        if logQueueCapacity < 1 {
            throw ValidationError("--log-queue-capacity: \(logQueueCapacity) is too small; give at least 1 (the default is \(LogQueue.defaultCapacity))")
        }
        if let stopTimeout, DurationText.duration(stopTimeout) == nil {
            throw ValidationError("--stop-timeout: \"\(stopTimeout)\" is not a duration; write e.g. 90s")
        }
    }

    func run() async throws {
        let logging = DaemonLogging.bootstrap(queueCapacity: logQueueCapacity)
        let logger = Logger(label: "runnerd")
        let config: DaemonConfig
        do {
            config = try ConfigLoader.load(path: options.config)
        } catch {
            printError("\(error)")
            logger.critical("invalid config \(options.config); nothing started")
            logging.flushBeforeExit()
            throw ExitCode(Daemon.Exit.config)
        }
        if let problem = Daemon.cgroupProblem(with: config) {
            printError("\(problem)")
            logger.critical("config \(options.config) has limits runnerd cannot apply here; nothing started")
            logging.flushBeforeExit()
            throw ExitCode(Daemon.Exit.config)
        }
        if let problem = DescriptorBudget.problem(with: config) {
            printError("\(problem)")
            logger.critical("config \(options.config) needs more open files than runnerd may have; nothing started")
            logging.flushBeforeExit()
            throw ExitCode(Daemon.Exit.config)
        }
        let daemon = Daemon(
            configPath: options.config, config: config, logger: logger,
            serviceOutputToJournal: ServiceManager.isStandardErrorJournalStream,
            stopTimeout: stopTimeout.flatMap(DurationText.duration),
            controlSocket: controlSocket
        )
        let code = await daemon.run()
        logging.flushBeforeExit()
        throw ExitCode(code)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the config without starting anything, and summarise it."
    )

    @OptionGroup var options: ConfigOption

    func run() throws {
        // check never subscribes to them: SIGTERM and SIGINT end it as they end any command.
        DaemonExecutors.releaseStopAndReloadSignals()
        do {
            let config = try ConfigLoader.load(path: options.config)
            print(ConfigSummary(config))
            // Limits are the unit's business: checked here, where runnerd usually has no
            // delegated cgroup, they only warn.
            if let problem = Daemon.cgroupProblem(with: config) {
                printError("warning: \(problem) (runnerd run refuses this config here)")
            }
        } catch {
            printError("\(error)")
            throw ExitCode(Daemon.Exit.config)
        }
    }
}

/// Writes `text` and a newline to standard error, unbuffered.
private func printError(_ text: String) {
    let line = Array((text.hasSuffix("\n") ? text : text + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
