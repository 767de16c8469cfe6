import Logging
import RunnerdConfig
import Systemd

/// The daemon's lifecycle as a pure state machine: it is fed events (what each group reports, a
/// reload or stop request, a new config, a due timer) and returns the actions that follow, in the
/// order they must be carried out, without any I/O, thread or clock of its own.
///
/// It owns every promise made to systemd:
/// - `READY=1` goes out only when every service of every group of the *current* config that is
///   meant to run is ready, counted from this machine's own state (a group being replaced by a
///   reload counts for nothing until its new run is ready), and never while stopping;
/// - on a stop, `STOPPING=1` is the first action, before any group is told to stop;
/// - `RELOADING=1` with `MONOTONIC_USEC` opens each reload, and its `READY=1` closes it;
/// - `EXTEND_TIMEOUT_USEC` while a long stop is still within the services' limits;
/// - the exit code.
///
/// ```
/// starting ──all ready──▶ running ◀──all ready── reloading(queued)
///     │                     │  └──reload requested──▶──┘   │
///     └─────────────────────┴──stop requested─────────────┴──▶ stopping(reason, forced) ──all ended──▶ stopped(code)
/// ```
struct DaemonLifecycle: Sendable {
    /// Where the daemon is.
    enum State: Sendable, Equatable {
        /// The first run: `READY=1` has not gone out yet.
        case starting
        /// Every group meant to run is up (`READY=1` went out).
        case running
        /// A reload is under way; `queued` when another was asked for meanwhile.
        case reloading(queued: Bool)
        /// Every group is being stopped; `forced` after a second stop request.
        case stopping(reason: String, forced: Bool)
        /// Everything has stopped; the daemon exits with `exitCode`.
        case stopped(exitCode: Int32)
    }

    /// What happened.
    enum Event: Sendable, Equatable {
        /// What the run `generation` of group `name` reported.
        case group(String, generation: Int, GroupLifecycle.Report)
        /// A `STATUS=` a service sent through its notify socket.
        case serviceStatus(String, generation: Int, service: String, text: String)
        /// SIGHUP, or a reload asked for another way.
        case reloadRequested
        /// The config file was read again and is valid.
        case configLoaded(DaemonConfig)
        /// The config file was read again and is invalid: `message` says why (its first located
        /// error), `details` gives every error, for a control client that asked for the reload.
        case configInvalid(String, details: String = "")
        /// SIGTERM, SIGINT, or another reason to stop, as the status line says it. During a stop
        /// it changes nothing.
        case stopRequested(reason: String)
        /// A second SIGTERM or SIGINT (`signal` names it): every service is killed at once. One
        /// within ``repeatedSignalGap`` of the stop, or before it (the two signals' events may
        /// arrive in either order), is the same request delivered twice and only stops.
        case killRequested(signal: String)
        /// The time set with ``Action/scheduleExtend(at:)`` has come.
        case extendDue
        /// The watchdog's timer fired; acknowledging it proves this machine still runs.
        case watchdogTick
        /// A control client asks for whole groups to start, stop or restart, and waits for the outcome.
        case groupCommand(GroupCommand)
        /// A control client asks for a reload and waits for its outcome.
        case controlReload(request: Int)
        /// A control client asks what a reload would do, without doing it.
        case planRequested(request: Int)
        /// The config file read for a plan: valid, or invalid with every error.
        case planConfigLoaded(request: Int, DaemonConfig)
        case planConfigInvalid(request: Int, details: String)
        /// The client of `request` went away; its reply is no longer wanted (what it asked for goes on).
        case requestAbandoned(Int)
    }

    /// What the shell must do, in order.
    enum Action: Sendable, Equatable {
        case notify([NotifyState])
        /// Start supervising `config` as run `generation` of its group.
        case startGroup(GroupConfig, generation: Int)
        /// Ask run `generation` of group `name` to stop for good.
        case stopGroup(String, generation: Int)
        /// SIGKILL to every service of every group (a second stop request).
        case killEverything
        /// Read the config file again, off the event loop, and report back.
        case loadConfig
        /// Read the config file, off the event loop, for the plan of `request`.
        case loadPlanConfig(request: Int)
        /// Answer a control client's request.
        case reply(request: Int, ControlReply)
        /// Feed ``Event/extendDue`` back at `at`.
        case scheduleExtend(at: ContinuousClock.Instant)
        /// The status line changed: render it with ``statusText(at:)`` when it may go out.
        case statusChanged
        /// Send `WATCHDOG=1`.
        case pingWatchdog
        case log(Logger.Level, String)
        /// Everything has stopped: exit with this code.
        case exit(Int32)
    }

    // Internal rather than private from here on where `DaemonLifecycle+Order.swift` needs it.

    enum ServicePhase: Sendable, Equatable {
        case down
        case starting(since: ContinuousClock.Instant)
        case ready
    }

    struct ServiceView: Sendable {
        var name: String
        var phase: ServicePhase = .down
        /// When its current process was spawned.
        var since: ContinuousClock.Instant?
        /// The last `STATUS=` it sent through its notify socket.
        var status: String?
    }

    enum GroupPhase: Sendable, Equatable {
        /// Started, and not told to stop for good.
        case running
        /// Not started yet: what it is `after:` or `binds-to:` is not ready (see `+Order`).
        case waiting(since: ContinuousClock.Instant)
        /// Told to stop because a group it binds to stopped; it starts again once that is ready.
        case rebinding
        case restarting(at: ContinuousClock.Instant, number: Int, limit: Int, cause: String?)
        case ended(GroupLifecycle.Outcome)
    }

    struct GroupView: Sendable {
        var config: GroupConfig
        var generation: Int
        var phase: GroupPhase = .running
        /// The daemon asked this run to stop (a control client's stop or restart, a reload).
        var stopping = false
        /// When the run's first service was spawned.
        var since: ContinuousClock.Instant?
        /// Restarts within the restart window, as of the last one.
        var restarts = 0
        /// How the last run ended.
        var lastExit: String?
        /// In config order.
        var services: [ServiceView]

        init(config: GroupConfig, generation: Int) {
            self.config = config
            self.generation = generation
            services = config.services.map { ServiceView(name: $0.name) }
        }

        func index(of service: String) -> Int? { services.firstIndex { $0.name == service } }

        var isMeantToRun: Bool {
            if case .ended = phase { return false }
            return true
        }
    }

    /// Two signals closer together than this are one request delivered twice, as when a sender
    /// signals both the process and its process group (`timeout(1)` does); a person's second
    /// Ctrl-C always comes later.
    static let repeatedSignalGap: Duration = .milliseconds(50)

    private(set) var state: State = .starting
    private(set) var config: DaemonConfig
    /// The groups of the current config, in its order.
    var groups: [GroupView] = []
    /// Where each generation's view is in `groups`: an event finds its group in O(1), which
    /// with a group per service keeps a stop of thousands of groups linear (a search through
    /// `groups` per event made the stop of 200 groups a third slower).
    var positions: [Int: Int] = [:]
    /// Groups of an earlier config that a reload is stopping: name → generation.
    var retiring: [String: Int] = [:]
    /// Groups a reload starts once the retiring ones have stopped.
    var toStart: [GroupConfig] = []
    /// The log line that ends the reload under way, and the groups it adds.
    var reloadSummary = ""
    private var added: Set<String> = []
    private var reloadError: String?
    var nextGeneration = 1
    /// Counted as states change, so that an event costs O(services of one group), not O(all).
    var readyCount = 0
    var meantToRunCount = 0
    private var startingCount = 0
    /// A `READY=1` is owed once everything meant to run is ready.
    var readyOwed = true
    private var stopStarted: ContinuousClock.Instant?
    private var failedRequired = false
    private var killedDuringStop: [(group: String, services: [String])] = []
    private let stopTimeout: Duration?
    /// Groups stopped by a control client: they stay down, across reloads, until it starts them.
    var stoppedByRequest: Set<String> = []
    /// Groups to start again once their current run has ended (a restart, or a start during a stop).
    var startWhenEnded: Set<String> = []
    /// Control clients waiting for groups to reach what they asked for.
    var waiters: [GroupWaiter] = []
    /// Control clients waiting for the reload under way, and for the one queued after it.
    var reloadWaiters: [Int] = []
    var queuedReloadWaiters: [Int] = []
    /// Group commands that arrived during a reload; they run once it is done.
    var deferredCommands: [GroupCommand] = []
    /// The last reload's outcome, for a client that asked for it.
    var lastReloadSummary = ""
    /// The order between groups, and what a stop in that order has done (see `+Order`).
    var ordering = GroupOrdering()

    /// - Parameters:
    ///   - config: The config loaded at start.
    ///   - stopTimeout: The unit's `TimeoutStopSec`, if known: a stop that runs past 75% of it,
    ///     while still within the services' own limits, asks for more time. Without it, the
    ///     daemon asks for 30 more seconds before every 30 seconds of stopping.
    init(config: DaemonConfig, stopTimeout: Duration? = nil) {
        self.config = config
        self.stopTimeout = stopTimeout
        self.ordering = GroupOrdering(config)
    }

    /// The first actions: start every group.
    mutating func start(at now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for group in config.groups { actions += startOrWait(group, at: now) }
        return actions + [.statusChanged] + readyIfDue(at: now)
    }

    mutating func handle(_ event: Event, at now: ContinuousClock.Instant) -> [Action] {
        switch event {
        case .group(let name, let generation, let report):
            return handle(report, group: name, generation: generation, at: now)

        case .serviceStatus(_, let generation, let service, let text):
            guard let g = groupIndex(generation), let s = groups[g].index(of: service) else { return [] }
            groups[g].services[s].status = text
            return [.statusChanged]

        case .reloadRequested:
            switch state {
            case .starting, .running:
                state = .reloading(queued: false)
                return beginReload(at: now)
            case .reloading:
                state = .reloading(queued: true)
                return [.log(.notice, "received another reload request during a reload; it runs once this one is done")]
            case .stopping, .stopped:
                return []
            }

        case .configLoaded(let new):
            guard case .reloading = state else { return [] }
            return apply(new, at: now)

        case .configInvalid(let message, let details):
            guard case .reloading = state else { return [] }
            reloadError = message
            readyOwed = true
            let answers = replyToReloadWaiters(.reloadFailed(details.isEmpty ? message : details))
            return [.log(.error, "reload: \(config.path) is invalid; keeping the running config:\n\(message)"), .statusChanged]
                + answers + readyIfDue(at: now)

        case .stopRequested(let reason):
            return stop(reason: reason, at: now)

        case .killRequested(let signal):
            switch state {
            case .stopping(let first, false):
                if let started = stopStarted, now - started < Self.repeatedSignalGap {
                    return [.log(.notice, "received \(signal) again within \(DurationText.format(Self.repeatedSignalGap)) of the stop: taken as the same request, not as a second one")]
                }
                state = .stopping(reason: first, forced: true)
                return [.log(.warning, "received \(signal) again: killing every service now")] + stopEveryGroupNow() + [.killEverything]
            case .stopping, .stopped:
                return []
            case .starting, .running, .reloading:
                return stop(reason: "received \(signal)", at: now)
            }

        case .extendDue:
            guard case .stopping = state, let started = stopStarted else { return [] }
            guard now - started < stopLimit else { return [] }
            let extra = stopTimeout ?? .seconds(30)
            return [.notify([.extendTimeout(extra)]), .scheduleExtend(at: now + extra * 3 / 4)]

        case .watchdogTick:
            if case .stopped = state { return [] }
            return [.pingWatchdog]

        case .groupCommand(let command):
            return handle(command, at: now)

        case .controlReload(let request):
            return controlReload(request, at: now)

        case .planRequested(let request):
            guard !isStopping else { return [.reply(request: request, .refused(.stopping))] }
            return [.loadPlanConfig(request: request)]

        case .planConfigLoaded(let request, let new):
            return [.reply(request: request, .plan(ReloadPlan(from: config, to: new, stoppedByRequest: stoppedByRequest)))]

        case .planConfigInvalid(let request, let details):
            return [.reply(request: request, .reloadFailed(details))]

        case .requestAbandoned(let request):
            waiters.removeAll { $0.request == request }
            reloadWaiters.removeAll { $0 == request }
            queuedReloadWaiters.removeAll { $0 == request }
            deferredCommands.removeAll { $0.request == request }
            return []
        }
    }

    // MARK: - Groups

    mutating func startGroup(_ group: GroupConfig) -> Action {
        let generation = nextGeneration
        nextGeneration += 1
        positions[generation] = groups.count
        groups.append(GroupView(config: group, generation: generation))
        meantToRunCount += group.services.count
        return .startGroup(group, generation: generation)
    }

    func groupIndex(_ generation: Int) -> Int? {
        positions[generation]
    }

    /// After `groups` was rebuilt or reordered.
    mutating func reindex() {
        positions = Dictionary(uniqueKeysWithValues: groups.indices.map { (groups[$0].generation, $0) })
    }

    private mutating func handle(_ report: GroupLifecycle.Report, group name: String, generation: Int, at now: ContinuousClock.Instant) -> [Action] {
        guard let g = groupIndex(generation) else {
            // A group that a reload is replacing: only its end matters.
            if case .ended = report, retiring[name] == generation {
                retiring[name] = nil
                return stopDeferredRetiring() + retired(at: now)
            }
            return []
        }
        switch report {
        case .serviceStarting(let service):
            guard let s = groups[g].index(of: service) else { return [] }
            setPhase(.starting(since: now), group: g, service: s)
            groups[g].services[s].since = now
            if case .restarting = groups[g].phase {
                groups[g].phase = .running
                groups[g].since = nil
            }
            if groups[g].since == nil { groups[g].since = now }
            readyOwed = true
            return [.statusChanged]
        case .serviceReady(let service):
            guard let s = groups[g].index(of: service) else { return [] }
            setPhase(.ready, group: g, service: s)
            return [.statusChanged] + readyIfDue(at: now) + groupMayBeReady(g, at: now) + settleWaiters()
        case .serviceDown(let service):
            guard let s = groups[g].index(of: service) else { return [] }
            setPhase(.down, group: g, service: s)
            groups[g].services[s].status = nil
            groups[g].services[s].since = nil
            return [.statusChanged] + (isStopping ? allStoppedIfDone() : []) + groupWentDown(g, at: now)
        case .runEnded(let cause):
            groups[g].lastExit = cause
            return []
        case .restarting(let at, let number, let limit, let cause):
            groups[g].phase = .restarting(at: at, number: number, limit: limit, cause: cause)
            groups[g].restarts = number
            return [.statusChanged] + groupFailedDuringReload(g) + settleWaiters()
        case .ended(let outcome):
            return ended(g, outcome, at: now) + settleWaiters()
        }
    }

    mutating func setPhase(_ new: ServicePhase, group g: Int, service s: Int) {
        let old = groups[g].services[s].phase
        groups[g].services[s].phase = new
        if old == .ready { readyCount -= 1 }
        if case .starting = old { startingCount -= 1 }
        if new == .ready { readyCount += 1 }
        if case .starting = new { startingCount += 1 }
    }

    mutating func ended(_ g: Int, _ outcome: GroupLifecycle.Outcome, at now: ContinuousClock.Instant) -> [Action] {
        // A group bound to one that went down waits to start again, unless a control client
        // stopped it meanwhile (then it stays down) or restarts it (then it waits all the same).
        if !stoppedByRequest.contains(groups[g].config.name), let rebound = reboundEnded(g, at: now) {
            startWhenEnded.remove(groups[g].config.name)
            return rebound
        }
        let group = groups[g].config
        if groups[g].isMeantToRun { meantToRunCount -= group.services.count }
        groups[g].phase = .ended(outcome)
        groups[g].stopping = false
        if startWhenEnded.remove(group.name) != nil, !isStopping {
            return [.statusChanged] + restart(g, at: now)
        }
        var actions: [Action] = [.statusChanged] + (isStopping ? [] : groupFailedDuringReload(g))
        switch outcome {
        case .gaveUp(let reason) where group.required:
            failedRequired = true
            if !isStopping {
                actions.append(.log(.critical, "required group \(group.name) gave up (\(reason)); stopping runnerd"))
                actions += stop(reason: "required group \(group.name) gave up", at: now, logged: true)
            }
        case .finished where group.required && !isStopping:
            actions.append(.log(.notice, "required group \(group.name) finished; stopping runnerd"))
            actions += stop(reason: "required group \(group.name) finished", at: now, logged: true)
        case .stopped(let killed) where !killed.isEmpty && isStopping:
            killedDuringStop.append((group.name, killed))
        default:
            // A group that is not required, down for good: the rest may be ready without it.
            actions += readyIfDue(at: now)
        }
        return actions + (isStopping ? stopNextGroups() + allStoppedIfDone() : groupEnded(at: now))
    }

    // MARK: - Readiness

    var isStopping: Bool {
        switch state {
        case .stopping, .stopped: true
        default: false
        }
    }

    /// `READY=1` (with the status) when it is owed and everything meant to run is ready, with
    /// no reload still replacing groups.
    mutating func readyIfDue(at now: ContinuousClock.Instant) -> [Action] {
        guard readyOwed, !isStopping, retiring.isEmpty, toStart.isEmpty, readyCount == meantToRunCount else { return [] }
        readyOwed = false
        var actions: [Action] = [.notify([.ready, .status(statusText(at: now))])]
        switch state {
        case .starting:
            state = .running
        case .reloading(let queued):
            state = .running
            actions += replyToReloadWaiters(reloadError == nil ? .reloaded(lastReloadSummary) : nil)
            if queued {
                state = .reloading(queued: false)
                reloadWaiters = queuedReloadWaiters
                queuedReloadWaiters = []
                actions += beginReload(at: now)
            } else {
                actions += runDeferredCommands(at: now)
            }
        default:
            break
        }
        return actions
    }

    // MARK: - Reload

    mutating func beginReload(at now: ContinuousClock.Instant) -> [Action] {
        reloadError = nil
        return [
            .log(.notice, "reloading \(config.path)"),
            .notify([.reloading, .status("reloading the config")]),
            .loadConfig,
        ]
    }

    /// Applies a valid new config as a diff: unchanged groups keep running untouched, removed and
    /// changed groups stop, and once they have, changed and added groups start.
    private mutating func apply(_ new: DaemonConfig, at now: ContinuousClock.Instant) -> [Action] {
        let newByName = Dictionary(new.groups.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let running = Set(groups.map(\.config.name))
        var removed: [String] = []
        var changed: [String] = []
        var kept: [String: GroupView] = [:]
        var actions: [Action] = []
        // A changed group restarts the groups bound to it too.
        let bound = new.bindsToDependents(of: Set(groups.filter { newByName[$0.config.name] != $0.config }.map(\.config.name)))
        var rebound: [String] = []
        var stopping: [GroupView] = []
        for view in groups {
            let name = view.config.name
            if let reason = bound[name], newByName[name] == view.config, !stoppedByRequest.contains(name) {
                rebound.append("\(name) (\(reason))")
                actions.append(.log(.notice, "reload: stopping group \(name) (\(reason))"))
                stopping.append(view)
                readyCount -= view.services.count { $0.phase == .ready }
                startingCount -= view.services.count { if case .starting = $0.phase { true } else { false } }
                continue
            }
            guard newByName[name] != view.config else {
                // Unchanged: it keeps its run, its view and its counts.
                kept[name] = view
                continue
            }
            let wasRemoved = newByName[name] == nil
            startWhenEnded.remove(name)
            if stoppedByRequest.contains(name) {
                // Stopped by a control client: it stays down, with its new config if it has one.
                if let changedConfig = newByName[name] {
                    kept[name] = heldView(changedConfig)
                    changed.append(name)
                } else {
                    stoppedByRequest.remove(name)
                    removed.append(name)
                }
                continue
            }
            if wasRemoved { removed.append(name) } else { changed.append(name) }
            actions.append(.log(.notice, "reload: stopping group \(name) (\(wasRemoved ? "removed" : "changed"))"))
            stopping.append(view)
            readyCount -= view.services.count { $0.phase == .ready }
            startingCount -= view.services.count { if case .starting = $0.phase { true } else { false } }
        }
        actions += retire(stopping)
        let added = new.groups.map(\.name).filter { !running.contains($0) }
        if !kept.isEmpty {
            let unchanged = groups.map(\.config.name).filter { kept[$0] != nil && !changed.contains($0) }
            actions.append(.log(.info, "reload: unchanged: \(unchanged.joined(separator: ", "))"))
        }
        groups = new.groups.compactMap { kept[$0.name] }
        reindex()
        config = new
        ordering.adopt(new)
        toStart = new.groups.filter { kept[$0.name] == nil }
        var parts: [String] = []
        if !added.isEmpty { parts.append("added \(added.joined(separator: ", "))") }
        let restarted = changed.filter { !stoppedByRequest.contains($0) }
        let held = changed.filter { stoppedByRequest.contains($0) }
        if !restarted.isEmpty { parts.append("restarted \(restarted.joined(separator: ", ")) (changed)") }
        if !held.isEmpty { parts.append("changed \(held.joined(separator: ", ")) (stays stopped by request)") }
        if !rebound.isEmpty { parts.append("restarted \(rebound.joined(separator: ", "))") }
        if !removed.isEmpty { parts.append("removed \(removed.joined(separator: ", "))") }
        self.added = Set(added)
        reloadSummary = "reload: done; " + (parts.isEmpty ? "no group changed" : parts.joined(separator: "; "))
        readyOwed = true
        return actions + [.statusChanged] + retired(at: now)
    }

    /// Once no group of the old config is still stopping, the reload starts what it adds and changes.
    private mutating func retired(at now: ContinuousClock.Instant) -> [Action] {
        guard retiring.isEmpty else { return [] }
        if isStopping { return allStoppedIfDone() }
        guard case .reloading = state else { return [] }
        var actions: [Action] = []
        let starting = toStart
        toStart = []
        for group in starting {
            actions.append(.log(.notice, "reload: starting group \(group.name) (\(added.contains(group.name) ? "added" : "changed"))"))
            actions += startOrWait(group, at: now)
        }
        if !reloadSummary.isEmpty {
            actions.append(.log(.notice, reloadSummary))
            lastReloadSummary = reloadSummary
            reloadSummary = ""
        }
        // Groups keep their config order: re-sort the views after the appended starts.
        let order = config.groups.map(\.name)
        let rank = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        groups.sort { (rank[$0.config.name] ?? 0) < (rank[$1.config.name] ?? 0) }
        reindex()
        return actions + [.statusChanged] + readyIfDue(at: now)
    }

    // MARK: - Stop

    /// The longest any group may take to stop, including the SIGKILL of what would not.
    private var stopLimit: Duration {
        ordering.stopLimit(groups.map(\.config)) + .seconds(5)
    }

    mutating func stop(reason: String, at now: ContinuousClock.Instant, logged: Bool = false) -> [Action] {
        switch state {
        case .stopping(let first, _):
            return [.log(.notice, "\(reason) while already stopping (\(first)); a second one kills every service")]
        case .stopped:
            return []
        case .starting, .running, .reloading:
            break
        }
        state = .stopping(reason: reason, forced: false)
        stopStarted = now
        toStart = []
        let answers = refuseEveryWaiter()
        // STOPPING=1 first, before any service hears of the stop.
        var actions: [Action] = [.notify([.stopping, .status("stopping: \(reason)")])]
        if !logged { actions.append(.log(.notice, "\(reason); stopping every group")) }
        actions += stopGroupsInOrder()
        let firstCheck = stopTimeout.map { $0 * 3 / 4 } ?? .seconds(25)
        actions.append(.scheduleExtend(at: now + firstCheck))
        actions.append(.statusChanged)
        return actions + answers + allStoppedIfDone()
    }

    /// Once every group has ended, the exit code.
    private mutating func allStoppedIfDone() -> [Action] {
        // Every group has at least one service, so no service meant to run means no group.
        guard case .stopping = state, retiring.isEmpty, meantToRunCount == 0 else { return [] }
        var actions: [Action] = []
        var code = failedRequired ? Daemon.Exit.failure : Daemon.Exit.success
        for (group, services) in killedDuringStop {
            actions.append(.log(.error, "group \(group): \(services.joined(separator: ", ")) had to be killed during the stop"))
            code = Daemon.Exit.failure
        }
        state = .stopped(exitCode: code)
        actions.append(.log(.notice, "stopped; exit code \(code)"))
        actions.append(.exit(code))
        return actions
    }

    // MARK: - Status

    /// Whether the status line ages (a service starting "for 3s", a group restarting "in 4s"),
    /// so that it should be rendered again in a second.
    var statusAges: Bool {
        guard !isStopping else { return false }
        return startingCount > 0 || groups.contains {
            switch $0.phase {
            case .restarting, .waiting: true
            default: false
            }
        }
    }

    /// The `STATUS=` line now: the counts, what is starting and for how long, what services said,
    /// which groups restart and when, which are down, a failed reload; while stopping, what the
    /// stop waits for.
    func statusText(at now: ContinuousClock.Instant) -> String {
        if case .stopping(let reason, _) = state {
            var running: [String] = []
            for view in groups {
                for service in view.services where service.phase != .down { running.append("\(view.config.name)/\(service.name)") }
            }
            return running.isEmpty ? "stopping: \(reason)" : "stopping: waiting for \(running.joined(separator: ", "))"
        }
        if case .stopped = state { return "stopped" }
        let total = groups.reduce(0) { $0 + $1.services.count }
        let count = config.groups.count
        var parts = ["\(count) group\(count == 1 ? "" : "s"), \(readyCount)/\(total) services ready"]
        for view in groups {
            for service in view.services {
                if case .starting(let since) = service.phase {
                    parts.append("\(view.config.name)/\(service.name) starting for \(DurationText.format(Self.rounded(now - since)))")
                }
            }
        }
        for view in groups {
            for service in view.services {
                if let text = service.status { parts.append("\(view.config.name)/\(service.name): \(text)") }
            }
        }
        for view in groups.sorted(by: { $0.config.name < $1.config.name }) {
            if case .restarting(let at, let number, let limit, let cause) = view.phase {
                let wait = at > now ? Self.rounded(at - now) : .zero
                // The cause too, so that `systemctl status` says why (an OOM kill, a crash).
                parts.append("group \(view.config.name) restarting in \(DurationText.format(wait)) (restart \(number) of \(limit))" + (cause.map { ": \($0)" } ?? ""))
            }
        }
        for view in groups.sorted(by: { $0.config.name < $1.config.name }) {
            switch view.phase {
            case .ended(.finished): parts.append("group \(view.config.name) is down: finished")
            case .ended(.gaveUp): parts.append("group \(view.config.name) is down: gave up")
            case .ended(.stopped) where stoppedByRequest.contains(view.config.name): parts.append("\(view.config.name): stopped by request")
            default: break
            }
        }
        parts += waitingText(at: now)
        if let error = reloadError {
            parts.append("reload failed, still running the previous config: \(error)")
        }
        return parts.joined(separator: "; ")
    }

    /// Whole seconds for status text, or whole milliseconds when under a second.
    static func rounded(_ duration: Duration) -> Duration {
        let (seconds, attoseconds) = duration.components
        return seconds == 0 ? .milliseconds(attoseconds / 1_000_000_000_000_000) : .seconds(seconds)
    }
}
