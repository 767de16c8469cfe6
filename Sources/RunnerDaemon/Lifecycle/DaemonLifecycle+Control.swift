import Logging
import RunnerdConfig

/// What a control client may ask of the daemon's machine: start, stop or restart whole groups,
/// a reload that answers with its outcome, a plan of a reload, and the status report. Every
/// decision stays here; the control socket only carries requests in and replies out.
///
/// - A group stopped with `stop` stays stopped (across reloads too) until `start`, or until the
///   daemon restarts. While it is down, `READY=1` counts only the groups meant to run, and a
///   required group stopped this way does not stop the daemon.
/// - A request is answered once its groups are where it asked: ready (or failed) after a start or
///   a restart, ended after a stop. Group requests that arrive during a reload run once it is done.
/// - A stop of the daemon answers every waiting request with ``ControlReply/refused(_:)``.
extension DaemonLifecycle {
    /// A control client's request about whole groups.
    struct GroupCommand: Sendable, Equatable {
        typealias Kind = ControlInterface.GroupVerb

        /// Identifies the request, for the reply.
        var request: Int
        var kind: Kind
        var groups: [String]
    }

    /// Why a request was not carried out.
    enum Refusal: Sendable, Equatable {
        case noSuchGroup(String)
        case stopping
    }

    /// The answer to a control client.
    enum ControlReply: Sendable, Equatable {
        /// A group command is done: how each group ended up.
        case groups([GroupOutcome])
        /// The reload is applied and every group is ready; its summary.
        case reloaded(String)
        /// The config is invalid (every located error); the running config stays.
        case reloadFailed(String)
        /// The reload is applied, but a group it starts failed: what happened.
        case reloadGroupFailed(String)
        case plan(ReloadPlan)
        case refused(Refusal)
    }

    /// Where one group ended up for a command.
    struct GroupOutcome: Sendable, Equatable {
        var group: String
        var succeeded: Bool
        /// "ready", "stopped", "already running", or what went wrong.
        var message: String
    }

    /// A group command still waiting for its groups.
    struct GroupWaiter: Sendable, Equatable {
        var request: Int
        var kind: GroupCommand.Kind
        /// In the order asked.
        var groups: [String]
        /// A group counts once a run of at least this generation is where the command wants it.
        var generations: [String: Int]
        var outcomes: [String: GroupOutcome] = [:]
    }

    // MARK: - Group commands

    mutating func handle(_ command: GroupCommand, at now: ContinuousClock.Instant) -> [Action] {
        if isStopping { return [.reply(request: command.request, .refused(.stopping))] }
        if let unknown = command.groups.first(where: { name in !groups.contains { $0.config.name == name } }) {
            return [.reply(request: command.request, .refused(.noSuchGroup(unknown)))]
        }
        if case .reloading = state {
            deferredCommands.append(command)
            return [.log(.info, "\(command.kind.rawValue) \(command.groups.joined(separator: ", ")): waiting for the reload under way")]
        }
        var actions: [Action] = []
        var waiter = GroupWaiter(request: command.request, kind: command.kind, groups: command.groups, generations: [:])
        for name in command.groups {
            guard let g = groups.firstIndex(where: { $0.config.name == name }) else { continue }
            switch command.kind {
            case .stop:
                actions += stopByRequest(g, at: now)
                waiter.generations[name] = groups[g].generation
            case .start:
                actions += startByRequest(g, at: now)
                // The run now, or the one that follows once this one has stopped.
                waiter.generations[name] = startWhenEnded.contains(name) ? groups[g].generation + 1 : groups[g].generation
            case .restart:
                let stillRunning = groups[g].isMeantToRun && !groups[g].isWaiting
                stoppedByRequest.remove(name)
                if stillRunning {
                    actions.append(.log(.notice, "group \(name): restarting (requested)"))
                    startWhenEnded.insert(name)
                    actions += askToStop(g)
                    waiter.generations[name] = groups[g].generation + 1
                } else {
                    actions += startByRequest(g, at: now)
                    waiter.generations[name] = groups[g].generation
                }
            }
        }
        waiters.append(waiter)
        return actions + [.statusChanged] + settleWaiters()
    }

    private mutating func stopByRequest(_ g: Int, at now: ContinuousClock.Instant) -> [Action] {
        let name = groups[g].config.name
        startWhenEnded.remove(name)
        stoppedByRequest.insert(name)
        guard groups[g].isMeantToRun else { return [] }
        let line = Action.log(.notice, "group \(name): stopping (requested); it stays stopped until `runnerd start \(name)`")
        // A group still waiting for the groups it starts after has no run to stop.
        if groups[g].isWaiting { return [line] + ended(g, .stopped(killed: []), at: now) }
        return [line] + askToStop(g)
    }

    private mutating func startByRequest(_ g: Int, at now: ContinuousClock.Instant) -> [Action] {
        let name = groups[g].config.name
        stoppedByRequest.remove(name)
        if groups[g].isMeantToRun {
            // Still stopping after a stop: it starts again once it has.
            if groups[g].stopping { startWhenEnded.insert(name) }
            return []
        }
        return [.log(.notice, "group \(name): starting (requested)")] + restart(g, at: now)
    }

    /// Asks the current run of the group at `g` to stop.
    private mutating func askToStop(_ g: Int) -> [Action] {
        guard groups[g].phase != .rebinding else {
            // Already stopping because a group it binds to went down.
            groups[g].stopping = true
            return []
        }
        guard !groups[g].stopping else { return [] }
        groups[g].stopping = true
        return [.stopGroup(groups[g].config.name, generation: groups[g].generation)]
    }

    /// Starts a new run of the group at `g`, whose last run has ended, in the same place; with
    /// groups it starts after that are not ready, it waits for them first.
    mutating func restart(_ g: Int, at now: ContinuousClock.Instant) -> [Action] {
        let config = groups[g].config
        let old = groups[g].generation
        let generation = nextGeneration
        nextGeneration += 1
        positions[old] = nil
        positions[generation] = g
        var view = GroupView(config: config, generation: generation)
        view.lastExit = groups[g].lastExit
        groups[g] = view
        meantToRunCount += config.services.count
        readyOwed = true
        if ordering.isOrdered, !unmetDependencies(of: config.name).isEmpty {
            groups[g].phase = .waiting(since: now)
            return [.log(.info, "group \(config.name) waits for \(unmetDependencies(of: config.name).joined(separator: ", ")) before it starts"), .statusChanged]
        }
        return [.startGroup(config, generation: generation), .statusChanged]
    }

    /// The view of a group held down by a control client, with its (new) config.
    mutating func heldView(_ config: GroupConfig) -> GroupView {
        var view = GroupView(config: config, generation: nextGeneration)
        nextGeneration += 1
        view.phase = .ended(.stopped(killed: []))
        return view
    }

    /// Answers every waiter whose groups are all where it asked.
    mutating func settleWaiters() -> [Action] {
        guard !waiters.isEmpty else { return [] }
        var actions: [Action] = []
        var index = 0
        while index < waiters.count {
            for name in waiters[index].groups where waiters[index].outcomes[name] == nil {
                if let outcome = outcome(of: name, for: waiters[index]) { waiters[index].outcomes[name] = outcome }
            }
            let waiter = waiters[index]
            if waiter.outcomes.count == waiter.groups.count {
                actions.append(.reply(request: waiter.request, .groups(waiter.groups.compactMap { waiter.outcomes[$0] })))
                waiters.remove(at: index)
            } else {
                index += 1
            }
        }
        return actions
    }

    /// Where `name` stands for `waiter`, or nil while it is still on its way.
    private func outcome(of name: String, for waiter: GroupWaiter) -> GroupOutcome? {
        guard let view = groups.first(where: { $0.config.name == name }) else {
            return GroupOutcome(group: name, succeeded: false, message: "removed by a reload")
        }
        guard view.generation >= waiter.generations[name] ?? 0 else { return nil }
        switch (waiter.kind, view.phase) {
        case (.stop, .ended):
            return GroupOutcome(group: name, succeeded: true, message: "stopped")
        case (.stop, _):
            return nil
        case (_, .ended(.stopped)):
            return GroupOutcome(group: name, succeeded: false, message: "stopped before it was ready")
        case (_, .ended(.finished)):
            return GroupOutcome(group: name, succeeded: true, message: "finished: \(view.lastExit ?? "every service exited")")
        case (_, .ended(.gaveUp(let reason))):
            return GroupOutcome(group: name, succeeded: false, message: "gave up: \(reason)")
        case (_, .restarting(_, let number, let limit, _)):
            let cause = view.lastExit ?? "a service stopped"
            return GroupOutcome(group: name, succeeded: false, message: "\(cause); restarting (restart \(number) of \(limit))")
        case (_, .running):
            guard !view.stopping, view.services.allSatisfy({ $0.phase == .ready }) else { return nil }
            return GroupOutcome(group: name, succeeded: true, message: "ready")
        case (_, .waiting), (_, .rebinding):
            return nil
        }
    }

    /// Group commands held back by a reload, now that it is done.
    mutating func runDeferredCommands(at now: ContinuousClock.Instant) -> [Action] {
        let commands = deferredCommands
        deferredCommands = []
        return commands.flatMap { handle($0, at: now) }
    }

    /// Answers every request still waiting, now that the daemon stops.
    mutating func refuseEveryWaiter() -> [Action] {
        let requests = waiters.map(\.request) + reloadWaiters + queuedReloadWaiters + deferredCommands.map(\.request)
        waiters = []
        reloadWaiters = []
        queuedReloadWaiters = []
        deferredCommands = []
        startWhenEnded = []
        return requests.map { .reply(request: $0, .refused(.stopping)) }
    }

    // MARK: - Reload for a client

    mutating func controlReload(_ request: Int, at now: ContinuousClock.Instant) -> [Action] {
        switch state {
        case .stopping, .stopped:
            return [.reply(request: request, .refused(.stopping))]
        case .reloading:
            queuedReloadWaiters.append(request)
        case .starting, .running:
            reloadWaiters.append(request)
        }
        return handle(.reloadRequested, at: now)
    }

    /// Answers the clients waiting for the reload under way; nil answers nobody.
    mutating func replyToReloadWaiters(_ reply: ControlReply?) -> [Action] {
        guard let reply else { return [] }
        let requests = reloadWaiters
        reloadWaiters = []
        return requests.map { .reply(request: $0, reply) }
    }

    /// A group failed during a reload: the clients waiting for it hear so now, rather than wait
    /// for a readiness that may never come.
    mutating func groupFailedDuringReload(_ g: Int) -> [Action] {
        guard case .reloading = state, !reloadWaiters.isEmpty else { return [] }
        let view = groups[g]
        let what: String
        switch view.phase {
        case .restarting(_, let number, let limit, _): what = "\(view.lastExit ?? "a service stopped"); restarting (restart \(number) of \(limit))"
        case .ended(.gaveUp(let reason)): what = "gave up: \(reason)"
        default: return []
        }
        return replyToReloadWaiters(.reloadGroupFailed("group \(view.config.name): \(what)"))
    }

    // MARK: - The status report

    /// Every group and service as the machine sees them now; the shell adds the pids.
    func report(at now: ContinuousClock.Instant) -> StatusReport {
        let daemonState: String
        switch state {
        case .starting: daemonState = "starting"
        case .running: daemonState = "running"
        case .reloading: daemonState = "reloading"
        case .stopping: daemonState = "stopping"
        case .stopped: daemonState = "stopped"
        }
        let groups = self.groups.map { view -> StatusReport.Group in
            let ready = view.services.count { $0.phase == .ready }
            var group = StatusReport.Group(
                name: view.config.name, state: groupState(view, ready: ready), required: view.config.required,
                ready: ready, total: view.services.count,
                uptime: view.phase == .running ? view.since.map { now - $0 } : nil,
                restarts: view.restarts, restartLimit: view.config.maxRestarts, lastExit: view.lastExit,
                stoppedByRequest: stoppedByRequest.contains(view.config.name)
            )
            group.generation = view.generation
            group.waitingFor = waitingFor(view, at: now)
            if case .restarting(let at, _, _, _) = view.phase { group.nextRestartIn = at > now ? at - now : .zero }
            group.services = zip(view.services, view.config.services).map { service, config in
                // A oneshot that is "ready" has finished its work: its process is gone.
                let done = config.type == .oneshot && service.phase == .ready
                return StatusReport.Service(
                    name: service.name, state: done ? "done" : Self.serviceState(service.phase), readiness: config.ready?.kindName ?? "none",
                    status: service.status, uptime: done ? nil : service.since.map { now - $0 }
                )
            }
            return group
        }
        return StatusReport(state: daemonState, status: statusText(at: now), groups: groups)
    }

    private func groupState(_ view: GroupView, ready: Int) -> String {
        switch view.phase {
        case .ended(.stopped): return "stopped"
        case .ended(.finished): return "finished"
        case .ended(.gaveUp): return "gave-up"
        case .restarting: return "restarting"
        case .waiting: return "waiting"
        case .rebinding: return "stopping"
        case .running:
            if view.stopping || isStopping { return "stopping" }
            return ready == view.services.count ? "running" : "starting"
        }
    }

    private static func serviceState(_ phase: ServicePhase) -> String {
        switch phase {
        case .down: "down"
        case .starting: "starting"
        case .ready: "ready"
        }
    }
}

extension ReadyProbe {
    /// The probe's kind as the config spells it: `tcp`, `http`, `exec`, `log-line` or `notify`.
    var kindName: String {
        switch check {
        case .tcp: "tcp"
        case .http: "http"
        case .exec: "exec"
        case .logLine: "log-line"
        case .notify: "notify"
        }
    }
}

extension DaemonLifecycle.GroupView {
    /// Not started yet: what it starts after is not ready.
    var isWaiting: Bool {
        if case .waiting = phase { return true }
        return false
    }
}
