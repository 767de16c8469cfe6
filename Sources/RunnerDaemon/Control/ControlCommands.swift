import Glibc
import RunnerdConfig
import Systemd

/// What the `runnerd` subcommands that talk to a running daemon do: `status`, `start`, `stop`,
/// `restart`, `reload` and `logs`. Each prints its outcome and returns the exit code that
/// `runnerd --help` documents:
/// 0 done, 1 a group or the reload failed, 64 an unknown group, 69 no daemon answers,
/// 77 not allowed, 78 an invalid config (reload).
package enum ControlCommands {
    /// Where to reach the daemon: the candidates of ``ControlSocketPath``.
    package struct Target: Sendable {
        package var explicitPath: String?

        package init(explicitPath: String?) {
            self.explicitPath = explicitPath
        }

        var paths: [String] {
            ControlSocketPath.candidates(explicit: explicitPath, environment: ProcessEnvironment.current().variables, isRoot: geteuid() == 0)
        }
    }

    // MARK: - status

    package static func status(_ target: Target, groups: [String], json: Bool, watch: Bool) -> Int32 {
        run { () throws(ControlClientError) -> Int32 in
            let client = try ControlClient(paths: target.paths)
            let call = VarlinkCall(method: "\(ControlInterface.name).Status", parameters: .object(groups.isEmpty ? [] : [("groups", .array(groups.map { .string($0) }))]))
            let colour = isatty(1) != 0
            guard watch else {
                if json {
                    writeOut(try client.callReturningText(call, timeout: .seconds(10)) + [UInt8(ascii: "\n")])
                } else {
                    let reply = try client.call(call, timeout: .seconds(10))
                    writeOut(Array(StatusTable(try StatusReport(json: reply), colour: colour).text.utf8))
                }
                return 0
            }
            var failure: ControlClientError?
            // A watch waits as long as the daemon runs; each reply comes when something changed.
            try client.stream(call, timeout: .seconds(Int64(Int32.max))) { reply in
                if json {
                    print(reply.text)
                } else {
                    do throws(ControlClientError) {
                        let table = StatusTable(try StatusReport(json: reply), colour: colour).text
                        print((colour ? "\u{1B}[H\u{1B}[2J" : "\n") + table, terminator: "")
                    } catch {
                        failure = error
                        return false
                    }
                }
                fflush(nil)
                return true
            }
            if let failure { throw failure }
            return 0
        }
    }

    /// The names of the running daemon's groups, for shell completion; empty when none answers.
    package static func groupNames(_ target: Target) -> [String] {
        guard let client = try? ControlClient(paths: target.paths),
              let reply = try? client.call(VarlinkCall(method: "\(ControlInterface.name).Status"), timeout: .seconds(2)),
              let report = try? StatusReport(json: reply)
        else { return [] }
        return report.groups.map(\.name)
    }

    // MARK: - start, stop, restart

    package static func group(_ target: Target, _ verb: ControlInterface.GroupVerb, groups: [String], timeout: Duration, json: Bool) -> Int32 {
        run { () throws(ControlClientError) -> Int32 in
            let client = try ControlClient(paths: target.paths)
            let reply = try client.call(VarlinkCall(method: verb.method, parameters: .object([("groups", .array(groups.map { .string($0) }))])), timeout: timeout)
            if json { print(reply.text) }
            var code: Int32 = 0
            for outcome in reply["groups"]?.arrayValue ?? [] {
                let succeeded = outcome["succeeded"]?.boolValue ?? false
                if !succeeded { code = 1 }
                if !json { print("\(outcome["group"]?.stringValue ?? "?"): \(outcome["message"]?.stringValue ?? "")") }
            }
            return code
        }
    }

    // MARK: - reload

    package static func reload(_ target: Target, dryRun: Bool, timeout: Duration, json: Bool) -> Int32 {
        run { () throws(ControlClientError) -> Int32 in
            let client = try ControlClient(paths: target.paths)
            let reply = try client.call(VarlinkCall(method: "\(ControlInterface.name).Reload", parameters: .object([("dryRun", .bool(dryRun))])), timeout: timeout)
            if json {
                print(reply.text)
                return 0
            }
            guard dryRun else {
                print(reply["summary"]?.stringValue ?? "reload: done")
                return 0
            }
            let plan = try ReloadPlan(json: reply["plan"] ?? .array([]))
            let width = plan.steps.map(\.group.count).max() ?? 0
            let actionWidth = plan.steps.map(\.action.rawValue.count).max() ?? 0
            print("reload --dry-run: nothing was changed; a reload would do this:")
            for step in plan.steps {
                let name = step.group + String(repeating: " ", count: width - step.group.count)
                let action = step.action.rawValue + String(repeating: " ", count: actionWidth - step.action.rawValue.count)
                print("  \(name)  \(action)  \(step.reason)")
            }
            return 0
        }
    }

    // MARK: - logs

    /// Replaces this process with `journalctl`, matching what runnerd logged about `selector`
    /// (`GROUP` or `GROUP/SERVICE`) and what its services wrote. Returns only on failure.
    package static func logs(_ target: Target, selector: String, follow: Bool, lines: Int?) -> Int32 {
        let parts = selector.split(separator: "/", maxSplits: 1).map(String.init)
        guard let group = parts.first, !group.isEmpty else {
            printError("runnerd logs: give GROUP or GROUP/SERVICE")
            return Daemon.Exit.usage
        }
        let service = parts.count > 1 ? parts[1] : nil
        var unit = "runnerd.service"
        if let client = try? ControlClient(paths: target.paths),
           let reply = try? client.call(VarlinkCall(method: "\(ControlInterface.name).Status"), timeout: .seconds(5)),
           let report = try? StatusReport(json: reply) {
            guard report.journal else {
                printError("""
                    runnerd logs: this runnerd is not under journald; its services' output goes to its own standard \
                    output, each line prefixed with "group/service | " (the terminal or file it was started with)
                    """)
                return 1
            }
            guard let found = report.groups.first(where: { $0.name == group }) else {
                printError("runnerd logs: no group named \(group); the groups are \(report.groups.map(\.name).joined(separator: ", "))")
                return Daemon.Exit.usage
            }
            if let service, !found.services.contains(where: { $0.name == service }) {
                printError("runnerd logs: group \(group) has no service \(service); it has \(found.services.map(\.name).joined(separator: ", "))")
                return Daemon.Exit.usage
            }
            unit = report.unit ?? unit
        }
        var arguments = ["journalctl"]
        if follow { arguments.append("--follow") }
        if let lines { arguments += ["--lines", "\(lines)"] }
        if let service {
            // The service's own output and runnerd's lines about it both carry RUNNERD_SERVICE.
            arguments += ["_SYSTEMD_UNIT=\(unit)", "RUNNERD_SERVICE=\(group)/\(service)"]
        } else {
            arguments += ["_SYSTEMD_UNIT=\(unit)", "RUNNERD_GROUP=\(group)"]
        }
        let argv = arguments.map { strdup($0) } + [nil]
        execvp("journalctl", argv)
        printError("runnerd logs: cannot run journalctl: \(String(cString: strerror(errno))); the same entries: \(arguments.joined(separator: " "))")
        return 1
    }

    // MARK: - Errors and exit codes

    private static func run(_ body: () throws(ControlClientError) -> Int32) -> Int32 {
        do {
            return try body()
        } catch {
            switch error {
            case .noDaemon:
                printError("runnerd: \(error)")
                return Daemon.Exit.unavailable
            case .notAllowed:
                printError("runnerd: \(error)")
                return Daemon.Exit.notAllowed
            case .failed(let name, let parameters):
                return reportFailure(name, parameters)
            case .timedOut(let limit):
                printError("runnerd: no outcome within \(DurationText.format(limit)); what was asked goes on (see `runnerd status`)")
                return 1
            case .badReply:
                printError("runnerd: \(error)")
                return 1
            }
        }
    }

    private static func reportFailure(_ name: String, _ parameters: JSONValue) -> Int32 {
        switch name {
        case "\(ControlInterface.name).NoSuchGroup":
            printError("runnerd: no group named \(parameters["group"]?.stringValue ?? "?") (see `runnerd status`)")
            return Daemon.Exit.usage
        case "\(ControlInterface.name).ConfigInvalid":
            printError(parameters["errors"]?.stringValue ?? "the config is invalid")
            printError("runnerd: the config is invalid; the running config stays")
            return Daemon.Exit.config
        case "\(ControlInterface.name).GroupFailed":
            printError("runnerd: reload applied, but \(parameters["message"]?.stringValue ?? "a group failed")")
            return 1
        case "\(ControlInterface.name).Stopping":
            printError("runnerd: the daemon is stopping")
            return 1
        default:
            printError("runnerd: the daemon answered \(name) \(parameters.text)")
            return 1
        }
    }

    /// Writes all of `bytes` to standard output, unbuffered (a status of thousands of services
    /// is hundreds of kilobytes).
    private static func writeOut(_ bytes: [UInt8]) {
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            written += count
        }
    }

    private static func printError(_ text: String) {
        let line = Array((text.hasSuffix("\n") ? text : text + "\n").utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
