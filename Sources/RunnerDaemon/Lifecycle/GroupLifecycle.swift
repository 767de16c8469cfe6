import Logging
import RunnerdConfig

/// One group's lifecycle as a pure state machine: it is fed events (a service started, became
/// ready, failed a probe, stopped; a deadline passed; the daemon asked the group to stop) and
/// returns the actions that follow, without doing any I/O, starting any timer or reading any
/// clock of its own. The shell carries the actions out and feeds back what happens.
///
/// It is the one place that decides:
/// - when a service gets SIGKILL: when its runner reports that it did not stop within its
///   interrupt timeout, when a service that must stop (a failed probe, what its main process left
///   behind) outlives its deadline, and on a forced stop;
/// - what follows a run: a restart after a back-off, the end of the group, or giving up, by the
///   group's ``RestartPolicy``;
/// - what reaches the log, through a ``RestartLogThrottle`` while the group flaps;
/// - in a group whose services are ordered (`after:`, `type: oneshot`), who starts when and who
///   is signalled when: a service is released once every service it is `after:` is ready (a
///   oneshot: done), and at a stop it gets its stop signal once every service `after:` it has
///   stopped; the whole stop is bounded by the group's interrupt timeout. A group without order
///   launches and interrupts all its services at once, as one `GroupRunner`.
///
/// ```
/// launching ──every service ready──▶ running
///     │                                 │
///     └──a service stopped, or a stop ──┴──▶ stopping ──every result in──▶ backingOff ──▶ launching
///                                                                    └──▶ ended
/// ```
struct GroupLifecycle: Sendable {
    /// Where the group is.
    enum State: Sendable, Equatable {
        /// A run has started; some of its services are not ready yet.
        case launching
        /// Every service of the run is ready.
        case running
        /// The run is stopping, because of `trigger`.
        case stopping(Trigger)
        /// The run has ended and the next one starts at `until`.
        case backingOff(until: ContinuousClock.Instant)
        /// The group will not run again.
        case ended(Outcome)
    }

    /// What made a run stop.
    enum Trigger: Sendable, Equatable {
        /// A service stopped on its own: the first result of the run.
        case service(String, ServiceResult)
        /// The daemon asked the group to stop (a stop, a reload).
        case request
    }

    /// How a group's supervision ended.
    enum Outcome: Sendable, Equatable {
        /// The daemon asked it to stop; `killed` names the services that had to be killed.
        case stopped(killed: [String])
        /// It stopped cleanly and its policy does not restart it.
        case finished
        /// It failed and may not restart again.
        case gaveUp(reason: String)
    }

    /// How one service's run ended, as its runner reported it.
    struct ServiceResult: Sendable, Equatable {
        enum Kind: Sendable, Equatable {
            /// Exited 0, or stopped by its stop signal after a stop request.
            case clean
            /// Anything else that is the service's own doing: a non-zero exit, a failed probe, a
            /// spawn failure.
            case failed
            /// Its runner's interrupt timeout ran out before it stopped.
            case timedOut(Duration)
            /// It was killed (a forced stop, or a deadline this machine set).
            case killed
        }

        var kind: Kind
        /// What happened, as a log line says it after the service's name ("exited with status 3").
        var description: String
    }

    /// What the group tells the daemon's machine.
    enum Report: Sendable, Equatable {
        case serviceStarting(String)
        case serviceReady(String)
        case serviceDown(String)
        /// The run ended because a service stopped on its own; `cause` says how ("service api
        /// exited with status 3"). What follows (a restart, the end) comes next.
        case runEnded(cause: String)
        /// The group restarts at `at`; restart `number` of `limit` in the window, because of
        /// `cause` (`service api exited with status 3`).
        case restarting(at: ContinuousClock.Instant, number: Int, limit: Int, cause: String? = nil)
        case ended(Outcome)
    }

    /// What happened to the group.
    enum Event: Sendable, Equatable {
        /// The deadline set with ``Action/armGroupDeadline(at:)`` passed: the ordered stop ran
        /// out of the group's interrupt timeout.
        case groupDeadline(at: ContinuousClock.Instant)
        /// The service's process was spawned.
        case serviceStarted(String, at: ContinuousClock.Instant)
        case serviceReady(String)
        /// A probe or the service's watchdog failed: the service must stop.
        case serviceFailed(String, at: ContinuousClock.Instant)
        /// The service's main process exited and left processes behind: they must stop.
        case serviceLingering(String, at: ContinuousClock.Instant)
        /// The service's runner reported its result.
        case serviceResult(String, ServiceResult, at: ContinuousClock.Instant)
        /// A service that was killed after its runner gave up on it has finally ended.
        case serviceGone(String, at: ContinuousClock.Instant)
        /// The deadline set with ``Action/armDeadline(_:at:)`` for this service passed.
        case deadline(String, at: ContinuousClock.Instant)
        /// The daemon asks the group to stop for good.
        case stopRequested(at: ContinuousClock.Instant)
        /// The daemon asks for every service to be killed now (a second stop request).
        case killRequested
        /// The back-off set with ``Action/scheduleRestart(at:)`` is over.
        case backOffEnded(at: ContinuousClock.Instant)
        /// The summary set with ``Action/scheduleSummary(at:)`` is due.
        case summaryDue(at: ContinuousClock.Instant)
    }

    /// What the shell must do.
    enum Action: Sendable, Equatable {
        /// Start a run: every service, as one `GroupRunner`. `quiet` while the group flaps: the
        /// services do not log their starts.
        case launch(quiet: Bool)
        /// Ask every service of the run to stop (the group runner's stoppers).
        case interrupt
        /// Prepare a run whose services start one by one, with ``startService(_:)``; `quiet` as
        /// for ``launch(quiet:)``. Only for a group whose services are ordered.
        case prepare(quiet: Bool)
        /// Start this service of the prepared run; its result comes back as ``Event/serviceResult(_:_:at:)``.
        case startService(String)
        /// Ask this service to stop (its stopper), starting its own interrupt timeout, whose end
        /// comes back as a `timedOut` result.
        case stopService(String)
        /// Feed ``Event/groupDeadline(at:)`` back at `at`.
        case armGroupDeadline(at: ContinuousClock.Instant)
        /// Send the service's stop signal to what is left of it.
        case signal(String)
        /// SIGKILL to the service's process group and whatever escaped it.
        case kill(String)
        /// SIGKILL to every service of the run.
        case killAll
        /// Feed ``Event/deadline(_:at:)`` back at `at`.
        case armDeadline(String, at: ContinuousClock.Instant)
        /// Feed ``Event/backOffEnded(at:)`` back at `at`.
        case scheduleRestart(at: ContinuousClock.Instant)
        /// Feed ``Event/summaryDue(at:)`` back at `at`.
        case scheduleSummary(at: ContinuousClock.Instant)
        case log(Logger.Level, String)
        case report(Report)
    }

    private enum ServicePhase: Sendable, Equatable {
        /// Ordered groups only: not started yet, waiting for what it is `after:`.
        case waiting
        /// Started (launched or released), not spawned yet.
        case pending
        case starting
        case ready
        /// Told to stop, outside the group runner's own stop (a failed probe, leftovers).
        case stopping
        /// A oneshot that exited 0: it counts as ready, and its result is in.
        case done
        case ended
    }

    /// The order of an ordered group's services, worked out once from its config.
    private struct ServiceOrder: Sendable {
        var dependencies: [String: [String]]
        var dependents: [String: [String]]
        /// The oneshots and their `timeout:`.
        var oneshots: [String: Duration]

        init(_ config: GroupConfig) {
            let order = config.serviceOrder
            dependencies = order.dependencies
            dependents = order.dependents
            oneshots = Dictionary(config.services.filter { $0.type == .oneshot }.map { ($0.name, $0.timeout) }, uniquingKeysWith: { first, _ in first })
        }
    }

    let config: GroupConfig
    private(set) var state: State = .launching
    private var policy: RestartPolicy
    private var throttle: RestartLogThrottle
    /// The services of the current run, in config order, and where each is.
    private var phases: [String: ServicePhase] = [:]
    private var results = 0
    /// Services killed during this run; those the shell still waits for.
    private var killed: [String] = []
    private var awaitingGone: Set<String> = []
    private var stopRequested = false
    private var quiet = false
    /// Set for a group whose services start in order; nil for one that starts all at once.
    private let order: ServiceOrder?
    /// Ordered groups: the services told to stop during this run's stop.
    private var stopSent: Set<String> = []

    init(config: GroupConfig, throttle: RestartLogThrottle = .standard) {
        self.config = config
        self.policy = RestartPolicy(config)
        self.throttle = throttle
        self.order = config.startsInOrder ? ServiceOrder(config) : nil
    }

    /// Whether the group will run again, or is running now.
    var hasEnded: Bool {
        if case .ended = state { return true }
        return false
    }

    /// The first run.
    mutating func start() -> [Action] {
        launch()
    }

    mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .serviceStarted(let name, let now):
            guard isRunning, phases[name] == .pending else { return [] }
            phases[name] = .starting
            if let timeout = order?.oneshots[name] {
                return [.report(.serviceStarting(name)), .armDeadline(name, at: now + timeout)]
            }
            return [.report(.serviceStarting(name))]

        case .serviceReady(let name):
            // A oneshot is ready when it is done, not when it is spawned.
            guard isRunning, phases[name] == .starting, order?.oneshots[name] == nil else { return [] }
            phases[name] = .ready
            return [.report(.serviceReady(name))] + becameReady(name)

        case .serviceFailed(let name, let now), .serviceLingering(let name, let now):
            guard let phase = phases[name], phase != .ended, phase != .stopping, phase != .done, phase != .waiting else { return [] }
            phases[name] = .stopping
            return [.signal(name), .armDeadline(name, at: now + interruptTimeout(of: name))]

        case .deadline(let name, let now):
            if let timeout = order?.oneshots[name], isRunning, phases[name] == .starting {
                return oneshotTimedOut(name, after: timeout, at: now)
            }
            guard phases[name] == .stopping, !killed.contains(name) else { return [] }
            killed.append(name)
            return [
                .log(.error, "group \(config.name): service \(name) did not stop within \(DurationText.format(interruptTimeout(of: name))); sending SIGKILL to its process group"),
                .kill(name),
            ]

        case .serviceResult(let name, let result, let now):
            return serviceEnded(name, result, at: now)

        case .serviceGone(let name, let now):
            guard awaitingGone.remove(name) != nil else { return [] }
            return stopNextInOrder() + runMayHaveEnded(at: now)

        case .stopRequested(let now):
            stopRequested = true
            switch state {
            case .launching, .running:
                state = .stopping(.request)
                // With nothing left up (every service done or never started), the run ends here.
                if order != nil { return beginOrderedStop(at: now) + runMayHaveEnded(at: now) }
                return [.interrupt]
            case .stopping:
                return []
            case .backingOff:
                return end(.stopped(killed: []), at: now)
            case .ended:
                return []
            }

        case .groupDeadline(let now):
            return groupDeadlinePassed(at: now)

        case .killRequested:
            guard isRunning || isStopping else { return [] }
            return [.killAll]

        case .backOffEnded:
            guard case .backingOff = state else { return [] }
            return launch()

        case .summaryDue(let now):
            guard let summary = throttle.intervalEnded(at: now) else { return [] }
            var actions = [log(summary)]
            if summary.stillFlapping, !hasEnded { actions.append(.scheduleSummary(at: now + throttle.interval)) }
            return actions
        }
    }

    private var isRunning: Bool { state == .launching || state == .running }

    private var isStopping: Bool {
        if case .stopping = state { return true }
        return false
    }

    private func interruptTimeout(of name: String) -> Duration {
        config.services.first { $0.name == name }?.interruptTimeout ?? .zero
    }

    private mutating func launch() -> [Action] {
        state = .launching
        results = 0
        killed = []
        awaitingGone = []
        stopSent = []
        quiet = throttle.isFlapping
        guard let order else {
            phases = Dictionary(uniqueKeysWithValues: config.services.map { ($0.name, ServicePhase.pending) })
            return [.launch(quiet: quiet)]
        }
        phases = Dictionary(uniqueKeysWithValues: config.services.map { ($0.name, ServicePhase.waiting) })
        var actions: [Action] = [.prepare(quiet: quiet)]
        for service in config.services where order.dependencies[service.name]?.isEmpty ?? true {
            phases[service.name] = .pending
            actions.append(.startService(service.name))
        }
        return actions
    }

    private mutating func serviceEnded(_ name: String, _ result: ServiceResult, at now: ContinuousClock.Instant) -> [Action] {
        guard let phase = phases[name], phase != .ended, phase != .done, phase != .waiting else { return [] }
        if order?.oneshots[name] != nil, result.kind == .clean, isRunning {
            // Done: it counts as ready, and the group runs on.
            phases[name] = .done
            results += 1
            let logged: [Action] = quiet ? [] : [.log(.info, "group \(config.name): service \(name) is done (\(result.description))")]
            return logged + [.report(.serviceReady(name))] + becameReady(name)
        }
        phases[name] = .ended
        results += 1
        var actions: [Action] = [.report(.serviceDown(name))]
        switch result.kind {
        case .timedOut(let limit):
            // The runner gave up waiting: the service is killed, and the run ends only once its
            // task has (the shell reports `serviceGone`), so that nothing of it outlives the run.
            if !killed.contains(name) {
                killed.append(name)
                actions.append(.log(.error, "group \(config.name): service \(name) did not stop within \(DurationText.format(limit)); sending SIGKILL to its process group"))
            }
            actions.append(.kill(name))
            awaitingGone.insert(name)
        case .killed:
            if !killed.contains(name) { killed.append(name) }
        case .clean, .failed:
            break
        }
        if isRunning {
            state = .stopping(.service(name, result))
            if !stopRequested && config.services.count > 1 && !quiet {
                actions.append(.log(.info, "group \(config.name): service \(name) \(result.description); stopping the others"))
            }
            if order != nil { actions += beginOrderedStop(at: now) }
        } else {
            actions += stopNextInOrder()
        }
        return actions + runMayHaveEnded(at: now)
    }

    // MARK: - Order

    /// `name` is ready (or done): release the services waiting only for it and what else they are
    /// after; the run is up once every service is.
    private mutating func becameReady(_ name: String) -> [Action] {
        var actions: [Action] = []
        if let order {
            for dependent in order.dependents[name] ?? [] where phases[dependent] == .waiting {
                let deps = order.dependencies[dependent] ?? []
                guard deps.allSatisfy({ phases[$0] == .ready || phases[$0] == .done }) else { continue }
                phases[dependent] = .pending
                actions.append(.startService(dependent))
            }
        }
        if state == .launching && phases.values.allSatisfy({ $0 == .ready || $0 == .done }) { state = .running }
        return actions
    }

    /// A oneshot ran past its `timeout:`: the group's start fails, as with a non-zero exit.
    private mutating func oneshotTimedOut(_ name: String, after timeout: Duration, at now: ContinuousClock.Instant) -> [Action] {
        let result = ServiceResult(kind: .failed, description: "did not finish within \(DurationText.format(timeout))")
        state = .stopping(.service(name, result))
        var actions: [Action] = []
        if !quiet {
            actions.append(.log(.warning, "group \(config.name): service \(name) \(result.description); stopping \(config.services.count > 1 ? "the group" : "it")"))
        }
        return actions + beginOrderedStop(at: now)
    }

    /// The start of an ordered stop: what never started never will, the whole stop gets the
    /// group's interrupt timeout, and the services that nothing running is after get their stop
    /// signal first.
    private mutating func beginOrderedStop(at now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for service in config.services {
            switch phases[service.name] {
            case .waiting?:
                phases[service.name] = .ended
                results += 1
            case .done?:
                // A finished oneshot is no longer up.
                actions.append(.report(.serviceDown(service.name)))
            default:
                break
            }
        }
        actions.append(.armGroupDeadline(at: now + config.groupInterruptTimeout))
        return actions + stopNextInOrder()
    }

    /// During an ordered stop: the stop signal to each service still up once every service that
    /// is `after:` it has stopped (ended, and gone if it was killed).
    private mutating func stopNextInOrder() -> [Action] {
        guard let order, isStopping else { return [] }
        var actions: [Action] = []
        for service in config.services {
            let name = service.name
            guard let phase = phases[name], phase != .ended, phase != .done, phase != .waiting, !stopSent.contains(name) else { continue }
            let dependentsStopped = (order.dependents[name] ?? []).allSatisfy { dependent in
                (phases[dependent] == .ended || phases[dependent] == .done) && !awaitingGone.contains(dependent)
            }
            guard dependentsStopped else { continue }
            stopSent.insert(name)
            actions.append(.stopService(name))
        }
        return actions
    }

    /// The ordered stop ran out of the group's interrupt timeout: SIGKILL to every service still up.
    private mutating func groupDeadlinePassed(at now: ContinuousClock.Instant) -> [Action] {
        guard order != nil, isStopping else { return [] }
        var late: [String] = []
        for service in config.services {
            guard let phase = phases[service.name], phase != .ended, phase != .done, phase != .waiting else { continue }
            if !killed.contains(service.name) { late.append(service.name) }
        }
        guard !late.isEmpty else { return [] }
        killed += late
        return [.log(.error, "group \(config.name): \(late.joined(separator: ", ")) did not stop within the group's \(DurationText.format(config.groupInterruptTimeout)); sending SIGKILL")]
            + late.map { .kill($0) }
    }

    /// Once every service has reported and every killed one is gone, the run is over: the
    /// policy decides what follows.
    private mutating func runMayHaveEnded(at now: ContinuousClock.Instant) -> [Action] {
        guard results == phases.count, awaitingGone.isEmpty, case .stopping(let trigger) = state else { return [] }
        if stopRequested { return end(.stopped(killed: killed), at: now) }
        guard case .service(let name, let result) = trigger else { return end(.stopped(killed: killed), at: now) }
        let cause = "service \(name) \(result.description)"
        let what = "group \(config.name): \(cause)"
        let others = config.services.count - 1
        let stopped = others == 0 ? "" : "; stopped \(others) other service\(others == 1 ? "" : "s")"
        let failed = result.kind != .clean
        let ending = Action.report(.runEnded(cause: cause))
        switch policy.groupStopped(failed: failed, at: now) {
        case .restart(let delay, let number, let limit):
            let line = "\(what)\(stopped); restarting in \(DurationText.format(delay)) (restart \(number) of \(limit))"
            var actions: [Action] = [ending]
            switch throttle.restarted(at: now, cause: cause) {
            case .log:
                actions.append(.log(.warning, line))
            case .startFlapping:
                actions.append(.log(.warning, line))
                actions.append(.log(.warning, "group \(config.name) is flapping: restarted \(throttle.threshold) times within \(DurationText.format(throttle.window)); logging a summary every \(DurationText.format(throttle.interval)) instead of a line per restart"))
                actions.append(.scheduleSummary(at: now + throttle.interval))
            case .quiet:
                break
            }
            state = .backingOff(until: now + delay)
            actions.append(.report(.restarting(at: now + delay, number: number, limit: limit, cause: cause)))
            actions.append(.scheduleRestart(at: now + delay))
            return actions
        case .finished:
            return [ending, .log(.notice, "\(what)\(stopped); restart \(config.restart.rawValue) leaves it down")] + end(.finished, at: now)
        case .giveUp(let reason):
            return [ending, .log(.error, "\(what)\(stopped); giving up because \(reason)")] + end(.gaveUp(reason: "\(cause), and \(reason)"), at: now)
        }
    }

    private mutating func end(_ outcome: Outcome, at now: ContinuousClock.Instant) -> [Action] {
        state = .ended(outcome)
        var actions: [Action] = []
        if let summary = throttle.finish(at: now) { actions.append(log(summary, last: true)) }
        actions.append(.report(.ended(outcome)))
        return actions
    }

    /// A flapping summary; the `last` one, when supervision ends, says nothing about flapping.
    private func log(_ summary: RestartLogThrottle.Summary, last: Bool = false) -> Action {
        let times = summary.restarts == 1 ? "1 time" : "\(summary.restarts) times"
        let cause = summary.lastCause.map { " (last: \($0))" } ?? ""
        let state = last ? "" : summary.stillFlapping ? "; still flapping" : "; no longer flapping"
        return .log(.warning, "group \(config.name): restarted \(times) in the last \(Self.roughly(summary.period))\(cause)\(state)")
    }

    /// A summary's period as people say it: whole seconds, or whole milliseconds under a second.
    static func roughly(_ period: Duration) -> String {
        let milliseconds = Int64((period / .milliseconds(1)).rounded())
        return DurationText.format(milliseconds >= 1000 ? .seconds((milliseconds + 500) / 1000) : .milliseconds(milliseconds))
    }
}
