import Logging
import Synchronization
import Systemd

/// What the daemon tells systemd: `READY=1` once every service of every group has been spawned,
/// and a `STATUS=` line that follows every change.
final class DaemonStatus: Sendable {
    private struct State {
        var running: Set<String> = []
        var restarting: [String: String] = [:]
        var readySent = false
        var stopping = false
        var lastStatus = ""
    }

    private let notifier: Notifier
    private let logger: Logger
    private let groupCount: Int
    private let serviceCount: Int
    private let state = Mutex(State())

    init(config: DaemonConfig, notifier: Notifier, logger: Logger) {
        self.notifier = notifier
        self.logger = logger
        groupCount = config.groups.count
        serviceCount = config.groups.reduce(0) { $0 + $1.services.count }
    }

    func serviceSpawned(group: String, service: String) {
        update { state in
            state.running.insert("\(group)/\(service)")
            state.restarting[group] = nil
        }
    }

    func serviceExited(group: String, service: String) {
        update { $0.running.remove("\(group)/\(service)") }
    }

    func groupRestarting(_ group: String, after delay: Duration, number: Int, limit: Int) {
        update { $0.restarting[group] = "group \(group) restarting in \(DurationText.format(delay)) (restart \(number) of \(limit))" }
    }

    func groupDown(_ group: String, reason: String) {
        update { $0.restarting[group] = "group \(group) is down: \(reason)" }
    }

    /// `STOPPING=1`, first thing on a requested stop.
    func stopping(reason: String) {
        let first = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        send([.stopping, .status("stopping: \(reason)")])
    }

    private func update(_ change: (inout State) -> Void) {
        let message = state.withLock { state -> [NotifyState]? in
            change(&state)
            guard !state.stopping else { return nil }
            var parts = ["\(groupCount) group\(groupCount == 1 ? "" : "s"), \(state.running.count)/\(serviceCount) services running"]
            parts += state.restarting.keys.sorted().map { state.restarting[$0]! }
            let status = parts.joined(separator: "; ")
            var states: [NotifyState] = []
            if !state.readySent && state.running.count == serviceCount {
                state.readySent = true
                states.append(.ready)
            }
            guard status != state.lastStatus || !states.isEmpty else { return nil }
            state.lastStatus = status
            return states + [.status(status)]
        }
        if let message { send(message) }
    }

    private func send(_ states: [NotifyState]) {
        do {
            _ = try notifier.send(states)
        } catch {
            logger.warning("cannot notify the service manager: \(error)")
        }
    }
}
