import ArgumentParser
import RunnerDaemon
import RunnerdConfig

/// The option every command that talks to a running daemon takes.
struct ControlSocketOption: ParsableArguments {
    @Option(help: ArgumentHelp("The daemon's control socket (default: $RUNTIME_DIRECTORY/control.sock under systemd, else /run/runnerd/control.sock, or $XDG_RUNTIME_DIR/runnerd/control.sock for other users).", valueName: "path"))
    var controlSocket: String?

    var target: ControlCommands.Target { .init(explicitPath: controlSocket) }
}

/// Completes group names by asking the running daemon (`--control-socket` on the command line
/// is honoured). Every name is offered; the shell keeps those that match what was typed.
private let groupNameCompletion = CompletionKind.custom { words, _, _ in
    let explicit = words.firstIndex(of: "--control-socket").flatMap { $0 + 1 < words.count ? words[$0 + 1] : nil }
    return ControlCommands.groupNames(.init(explicitPath: explicit))
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what every group and service of the running daemon is doing."
    )

    @Argument(help: ArgumentHelp("Only these groups.", valueName: "group"), completion: groupNameCompletion)
    var groups: [String] = []
    @Flag(help: "Print the daemon's JSON reply (io.runnerd.Manager.Status).")
    var json = false
    @Flag(help: "Print again on every change, until interrupted.")
    var watch = false
    @OptionGroup var socket: ControlSocketOption

    func run() throws {
        DaemonExecutors.releaseStopAndReloadSignals()
        let code = ControlCommands.status(socket.target, groups: groups, json: json, watch: watch)
        if code != 0 { throw ExitCode(code) }
    }
}

/// What every command that waits for an outcome takes: how long to wait, and the output's form.
struct OutcomeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("How long to wait for the outcome (e.g. 90s).", valueName: "duration"))
    var timeout = "90s"
    @Flag(help: "Print the daemon's JSON reply.")
    var json = false
    @OptionGroup var socket: ControlSocketOption

    func validate() throws {
        guard DurationText.duration(timeout) != nil else { throw ValidationError("--timeout: \"\(timeout)\" is not a duration; write e.g. 90s") }
    }

    /// The validated `--timeout`.
    var limit: Duration { DurationText.duration(timeout) ?? .seconds(90) }
}

/// `start`, `stop` and `restart`: one shape, three verbs.
struct GroupCommandOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The groups.", valueName: "group"), completion: groupNameCompletion)
    var groups: [String]
    @OptionGroup var outcome: OutcomeOptions

    func validate() throws {
        guard !groups.isEmpty else { throw ValidationError("name at least one group") }
    }

    func run(_ verb: ControlInterface.GroupVerb) throws {
        DaemonExecutors.releaseStopAndReloadSignals()
        let code = ControlCommands.group(outcome.socket.target, verb, groups: groups, timeout: outcome.limit, json: outcome.json)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start groups stopped with `runnerd stop` (or that ended), and wait until they are ready."
    )
    @OptionGroup var options: GroupCommandOptions
    func run() throws { try options.run(.start) }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop groups and wait until they have stopped.",
        discussion: "A group stopped this way stays stopped, across reloads, until `runnerd start` or a restart of the daemon. A required group stopped this way does not stop the daemon."
    )
    @OptionGroup var options: GroupCommandOptions
    func run() throws { try options.run(.stop) }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Restart whole groups (a group is all-or-nothing) and wait until they are ready again."
    )
    @OptionGroup var options: GroupCommandOptions
    func run() throws { try options.run(.restart) }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Reload the config as SIGHUP does, and wait until it runs; exits 78 when it is invalid.",
        discussion: "The units' ExecReload= runs this, so that `systemctl reload runnerd` returns once the new config runs and fails when it is invalid."
    )

    @Flag(help: "Print what a reload would start, stop, restart or keep, and why; change nothing.")
    var dryRun = false
    @OptionGroup var outcome: OutcomeOptions

    func run() throws {
        DaemonExecutors.releaseStopAndReloadSignals()
        let code = ControlCommands.reload(outcome.socket.target, dryRun: dryRun, timeout: outcome.limit, json: outcome.json)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show a group's or a service's journal entries (runs journalctl with the right matches)."
    )

    @Argument(help: ArgumentHelp("GROUP or GROUP/SERVICE.", valueName: "group[/service]"), completion: groupNameCompletion)
    var selector: String
    @Flag(name: [.short, .long], help: "Follow new entries.")
    var follow = false
    @Option(name: [.customShort("n"), .long], help: "Show the last N entries.")
    var lines: Int?
    @OptionGroup var socket: ControlSocketOption

    func run() throws {
        DaemonExecutors.releaseStopAndReloadSignals()
        throw ExitCode(ControlCommands.logs(socket.target, selector: selector, follow: follow, lines: lines))
    }
}
