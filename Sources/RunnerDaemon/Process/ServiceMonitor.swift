import Glibc
import Runner
import Synchronization
import RunnerdConfig

/// Watches one run of a service from its spawn to its exit: decides when it is ready (its
/// `ready:` probe, a matching output line, or `READY=1` through its notify socket), then keeps
/// checking its `health:` probe and its notify `watchdog:`. A failure of any of these is reported
/// once through `onFailure`, which makes the service stop; the service's run then fails with it.
///
/// Everything it starts is bound to its token, which the service cancels when the process exits.
final class ServiceMonitor: Sendable {
    private let config: ServiceConfig
    private let prober: Prober
    private let token = CancellationToken()
    private let onReady: @Sendable () -> Void
    private let onFailure: @Sendable (ServiceFailure) -> Void
    private let state = Mutex(State())

    private struct State {
        var ready = false
        var failed = false
        var health: HealthMonitor?
        var matcher: LogLineMatcher?
        /// When the service must ping next (notify `watchdog:`), as a token that fires then.
        var watchdogDeadline: CancellationToken?
        var readinessDeadline: CancellationToken?
    }

    init(
        config: ServiceConfig, prober: Prober,
        onReady: @escaping @Sendable () -> Void, onFailure: @escaping @Sendable (ServiceFailure) -> Void
    ) {
        self.config = config
        self.prober = prober
        self.onReady = onReady
        self.onFailure = onFailure
        if case .logLine(let pattern)? = config.ready?.check {
            // The loader compiled this pattern already; a failure here cannot happen.
            state.withLock { $0.matcher = try? LogLineMatcher(pattern: pattern) }
        }
    }

    /// Whether output lines still need to be shown to `lineArrived` (a `log-line` probe that has
    /// not matched yet).
    var wantsLines: Bool { state.withLock { $0.matcher != nil && !$0.ready } }

    /// The service has been spawned: start waiting for it to become ready.
    func started() {
        guard let ready = config.ready else {
            becameReady()
            return
        }
        if let check = ProbeCheck(ready.check) {
            let waiter = ReadinessWaiter(prober: prober)
            Task { [self] in
                switch await waiter.waitUntilReady(check, timeout: ready.timeout, cancellation: token) {
                case .success: becameReady()
                case .failure(.cancelled): break
                case .failure(let failure): fail(.notReady("\(failure)"))
                }
            }
            return
        }
        // log-line and notify: the service tells us; the deadline is ours to keep.
        let what: String
        switch ready.check {
        case .logLine(let pattern): what = "no output line matched /\(pattern)/"
        default: what = "no READY=1 arrived"
        }
        startReadinessDeadline(ready.timeout, what: what)
    }

    /// One line of the service's output (loop thread), while `wantsLines`.
    func lineArrived(_ line: UnsafeRawBufferPointer) {
        let matched = state.withLock { state -> Bool in
            guard let matcher = state.matcher, !state.ready else { return false }
            return matcher.matches(line)
        }
        if matched { becameReady() }
    }

    /// A message from the service's notify socket (loop thread).
    func notifyMessage(_ message: NotifyMessage) {
        if let extra = message.extendTimeout, state.withLock({ !$0.ready }) {
            // EXTEND_TIMEOUT_USEC while starting: the readiness deadline moves out to now + extra.
            startReadinessDeadline(extra, what: "no READY=1 arrived")
        }
        if message.ready { becameReady() }
        switch message.watchdog {
        case .ping?: armWatchdog()
        case .trigger?: fail(.watchdog("it asked for the watchdog to fire (WATCHDOG=trigger)"))
        case nil: break
        }
    }

    /// The process has exited: stop every check.
    func stop() {
        let health = state.withLock { state -> HealthMonitor? in
            state.failed = true
            return state.health
        }
        health?.stop()
        token.cancel()
    }

    private func becameReady() {
        let first = state.withLock { state -> Bool in
            guard !state.ready && !state.failed else { return false }
            state.ready = true
            state.matcher = nil
            return true
        }
        guard first else { return }
        state.withLock { $0.readinessDeadline }?.cancel()
        onReady()
        if let health = config.health {
            let monitor = HealthMonitor.start(health, prober: prober, cancellation: token) { [self] failure in
                fail(.unhealthy("\(failure)"))
            }
            state.withLock { $0.health = monitor }
        }
        if config.watchdog != nil { armWatchdog() }
    }

    private func startReadinessDeadline(_ timeout: Duration, what: String) {
        let deadline = token.child(timeout: timeout)
        // The loop reads the service's output as soon as the pipes start, which can be before
        // `started()` runs: a ready line may have come already, and then no deadline applies
        // (one armed after it failed a ready service at its timeout; a wave released by `after:`
        // hit it often).
        let (previous, ready) = state.withLock { state -> (CancellationToken?, Bool) in
            guard !state.ready else { return (nil, true) }
            defer { state.readinessDeadline = deadline }
            return (state.readinessDeadline, false)
        }
        previous?.cancel()
        if ready {
            deadline.cancel()
            return
        }
        deadline.onCancel { [self] in
            if deadline.cause == .timeout(timeout), !state.withLock({ $0.ready }) {
                fail(.notReady("\(what) within \(DurationText.format(timeout))"))
            }
        }
    }

    private func armWatchdog() {
        guard let limit = config.watchdog, state.withLock({ $0.ready }) else { return }
        let deadline = token.child(timeout: limit)
        let previous = state.withLock { state -> CancellationToken? in
            defer { state.watchdogDeadline = deadline }
            return state.watchdogDeadline
        }
        previous?.cancel()
        deadline.onCancel { [self] in
            if deadline.cause == .timeout(limit) { fail(.watchdog("no WATCHDOG=1 for \(DurationText.format(limit))")) }
        }
    }

    private func fail(_ failure: ServiceFailure) {
        let first = state.withLock { state -> Bool in
            guard !state.failed else { return false }
            state.failed = true
            return true
        }
        if first { onFailure(failure) }
    }
}
