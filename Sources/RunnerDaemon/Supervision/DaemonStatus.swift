import Logging
import Synchronization
import Systemd
import RunnerdConfig

/// What the daemon tells systemd: `READY=1` whenever every service of every group has become
/// ready (at start, after a group restart, after a reload, never before), and a `STATUS=` line
/// that follows every change: the counts, what is still starting and for how long, which group
/// is restarting and when it retries, a failed reload, and during a stop what it waits for.
///
/// Changes arrive from any thread. `STATUS=` is throttled to one datagram per `minimumInterval`
/// (the latest text wins), so a flapping service cannot flood the manager; `READY=1`,
/// `RELOADING=1` and `STOPPING=1` go out at once.
final class DaemonStatus: Sendable {
    /// The shortest time between two `STATUS=` datagrams.
    static let minimumInterval: Duration = .milliseconds(250)

    private enum ServiceState {
        case starting(since: ContinuousClock.Instant)
        case ready
        case down
    }

    private struct State {
        /// Every service of the running config, by "group/service", in config order.
        var order: [String] = []
        var groupCount = 0
        var services: [String: ServiceState] = [:]
        /// How many services of `order` are ready, and how many are starting: kept as the states
        /// change, so that a change costs O(1) rather than a pass over every service.
        var readyCount = 0
        var startingCount = 0
        var configured: Set<String> = []
        var restarting: [String: (at: ContinuousClock.Instant, number: Int, limit: Int)] = [:]
        var down: [String: String] = [:]
        var serviceStatus: [String: String] = [:]
        var reloadError: String?
        /// A READY=1 is owed once everything is ready.
        var readyOwed = true
        var stopping = false
        var stopReason = ""
        var lastStatus = ""
        var lastSent = ContinuousClock.Instant.now - .seconds(3600)
        var trailingScheduled = false
        var refreshScheduled = false

        /// Sets one service's state and keeps the counts of the configured ones.
        mutating func set(_ key: String, _ new: ServiceState) {
            let old = services.updateValue(new, forKey: key)
            guard configured.contains(key) else { return }
            if let old { count(old, by: -1) }
            count(new, by: 1)
        }

        mutating func recount() {
            readyCount = 0
            startingCount = 0
            for key in order { if let state = services[key] { count(state, by: 1) } }
        }

        private mutating func count(_ state: ServiceState, by step: Int) {
            switch state {
            case .ready: readyCount += step
            case .starting: startingCount += step
            case .down: break
            }
        }

        var allReady: Bool { !order.isEmpty && readyCount == order.count }
    }

    private let notifier: Notifier
    private let logger: Logger
    private let loop: EventLoop
    private let state = Mutex(State())

    init(notifier: Notifier, logger: Logger, loop: EventLoop) {
        self.notifier = notifier
        self.logger = logger
        self.loop = loop
    }

    /// The services of a (new) config: those not yet known start as down; those no longer
    /// configured are forgotten. A READY=1 becomes owed.
    func configure(_ config: DaemonConfig) {
        update { state in
            let keys = config.groups.flatMap { group in group.services.map { "\(group.name)/\($0.name)" } }
            var services: [String: ServiceState] = [:]
            for key in keys { services[key] = state.services[key] ?? .down }
            state.order = keys
            state.services = services
            state.configured = Set(keys)
            state.recount()
            state.groupCount = config.groups.count
            let names = Set(config.groups.map(\.name))
            state.restarting = state.restarting.filter { names.contains($0.key) }
            state.down = state.down.filter { names.contains($0.key) }
            state.readyOwed = true
        }
    }

    func serviceStarting(_ key: String) {
        update { state in
            state.set(key, .starting(since: .now))
            state.restarting[String(key.prefix { $0 != "/" })] = nil
            state.readyOwed = true
        }
    }

    /// A `STATUS=` the service sent through its notify socket, shown after its name.
    func serviceStatus(_ key: String, _ text: String) {
        update { $0.serviceStatus[key] = text }
    }

    func serviceReady(_ key: String) {
        update { $0.set(key, .ready) }
    }

    func serviceDown(_ key: String) {
        update { state in
            state.set(key, .down)
            state.serviceStatus[key] = nil
        }
    }

    func groupRestarting(_ group: String, after delay: Duration, number: Int, limit: Int) {
        update { $0.restarting[group] = (.now + delay, number, limit) }
    }

    func groupDown(_ group: String, reason: String) {
        update { state in
            state.down[group] = reason
            state.restarting[group] = nil
        }
    }

    func groupUp(_ group: String) {
        update { $0.down[group] = nil }
    }

    /// `RELOADING=1` with `MONOTONIC_USEC`, at once.
    func reloading() {
        update { $0.reloadError = nil }
        send([.reloading, .status("reloading the config")])
    }

    /// A reload that found an invalid config: shown until the next successful reload.
    func reloadFailed(_ message: String) {
        update { state in
            state.reloadError = message
            state.readyOwed = true
        }
    }

    /// `STOPPING=1`, first thing on a stop. From then on the status names what the stop waits for.
    func stopping(reason: String) {
        let text = state.withLock { state -> String? in
            guard !state.stopping else { return nil }
            state.stopping = true
            state.stopReason = reason
            state.lastStatus = "stopping: \(reason)"
            state.lastSent = .now
            return state.lastStatus
        }
        guard let text else { return }
        send([.stopping, .status(text)])
        // Then, throttled, what the stop waits for.
        update { _ in }
    }

    /// `EXTEND_TIMEOUT_USEC`, for a long stop that is still within its limits.
    func extendStop(by extra: Duration) {
        send([.extendTimeout(extra)])
    }

    /// The current status line (for tests and logs).
    var text: String {
        state.withLock { Self.render($0, now: .now) }
    }

    /// Applies a change. The status line is rendered only when a datagram may go out (at once,
    /// or by the trailing timer), never per change: with thousands of services starting, a
    /// render per change would cost O(n) each and O(n²) in all.
    private func update(_ change: (inout State) -> Void) {
        enum Next { case ready(String), status(String), trailing(Duration), nothing }
        let (next, refresh) = state.withLock { state -> (Next, Bool) in
            change(&state)
            let refresh = !state.stopping && !state.refreshScheduled
                && (state.startingCount > 0 || !state.restarting.isEmpty)
            if refresh { state.refreshScheduled = true }
            if !state.stopping && state.allReady && state.readyOwed {
                state.readyOwed = false
                let text = Self.render(state, now: .now)
                state.lastStatus = text
                state.lastSent = .now
                return (.ready(text), refresh)
            }
            let sinceLast = ContinuousClock.now - state.lastSent
            if sinceLast >= Self.minimumInterval {
                let text = state.stopping ? Self.renderStopping(state) : Self.render(state, now: .now)
                guard text != state.lastStatus else { return (.nothing, refresh) }
                state.lastStatus = text
                state.lastSent = .now
                return (.status(text), refresh)
            }
            guard !state.trailingScheduled else { return (.nothing, refresh) }
            state.trailingScheduled = true
            return (.trailing(Self.minimumInterval - sinceLast), refresh)
        }
        if refresh {
            // While a service is starting or a group waits to restart, the "for 3s" and "in 4s"
            // parts of the line age; refresh it every second then, and not at all otherwise.
            loop.execute { [self] in
                loop.schedule(after: .seconds(1)) { [self] in
                    state.withLock { $0.refreshScheduled = false }
                    update { _ in }
                }
            }
        }
        switch next {
        case .ready(let text): send([.ready, .status(text)])
        case .status(let text): send([.status(text)])
        case .trailing(let wait):
            loop.execute { [self] in
                loop.schedule(after: wait) { [self] in sendTrailing() }
            }
        case .nothing: break
        }
    }

    private func sendTrailing() {
        let text = state.withLock { state -> String? in
            state.trailingScheduled = false
            let text = state.stopping ? Self.renderStopping(state) : Self.render(state, now: .now)
            guard text != state.lastStatus else { return nil }
            state.lastStatus = text
            state.lastSent = .now
            return text
        }
        if let text { send([.status(text)]) }
    }

    private static func renderStopping(_ state: State) -> String {
        let running = state.order.filter {
            if case .down = state.services[$0] { return false }
            return true
        }
        guard !running.isEmpty else { return "stopping: \(state.stopReason)" }
        return "stopping: waiting for \(running.joined(separator: ", "))"
    }

    private static func render(_ state: State, now: ContinuousClock.Instant) -> String {
        let ready = state.order.filter {
            if case .ready = state.services[$0] { return true }
            return false
        }.count
        var parts = ["\(state.groupCount) group\(state.groupCount == 1 ? "" : "s"), \(ready)/\(state.order.count) services ready"]
        for key in state.order {
            if case .starting(let since) = state.services[key] {
                parts.append("\(key) starting for \(DurationText.format(roundedToSeconds(now - since)))")
            }
        }
        for key in state.order {
            if let text = state.serviceStatus[key] { parts.append("\(key): \(text)") }
        }
        for (group, retry) in state.restarting.sorted(by: { $0.key < $1.key }) {
            let wait = retry.at > now ? roundedToSeconds(retry.at - now) : .zero
            parts.append("group \(group) restarting in \(DurationText.format(wait)) (restart \(retry.number) of \(retry.limit))")
        }
        for (group, reason) in state.down.sorted(by: { $0.key < $1.key }) {
            parts.append("group \(group) is down: \(reason)")
        }
        if let error = state.reloadError {
            parts.append("reload failed, still running the previous config: \(error)")
        }
        return parts.joined(separator: "; ")
    }

    private func send(_ states: [NotifyState]) {
        do {
            _ = try notifier.send(states)
        } catch {
            logger.warning("cannot notify the service manager: \(error)")
        }
    }
}

/// Whole seconds for status text, or whole milliseconds when under a second.
private func roundedToSeconds(_ duration: Duration) -> Duration {
    let (seconds, attoseconds) = duration.components
    return seconds == 0 ? .milliseconds(attoseconds / 1_000_000_000_000_000) : .seconds(seconds)
}
