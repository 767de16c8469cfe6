import Logging
import RunnerdConfig

/// The order between groups: a group starts once the groups it is `after:` or `binds-to:` are
/// ready; at the daemon's stop (and a reload's) it is stopped before them; and a group bound to
/// another is stopped when that one goes down, and started again once it is ready.
///
/// Every function here returns at once, with no action, for a config without order, so that a
/// config without `after:` and `binds-to:` runs exactly as before.
extension DaemonLifecycle {
    /// Where a group stands, as the groups after it see it.
    fileprivate enum Standing {
        /// Every service is ready.
        case ready
        /// Down for good: it ended, or is missing.
        case gone
        /// Anything else, as the status line says it ("starting", "restarting", ...).
        case pending(String)

        var isReady: Bool {
            if case .ready = self { return true }
            return false
        }
    }

    /// Starts `group` now, or, when what it starts after is not ready, makes it wait.
    mutating func startOrWait(_ group: GroupConfig, at now: ContinuousClock.Instant) -> [Action] {
        let start = startGroup(group)
        guard ordering.isOrdered else { return [start] }
        let unmet = unmetDependencies(of: group.name)
        guard !unmet.isEmpty else { return [start] }
        groups[groups.count - 1].phase = .waiting(since: now)
        return [.log(.info, "group \(group.name) waits for \(unmet.joined(separator: ", ")) before it starts")]
    }

    /// After a service of group `g` became ready: when the whole group is, the groups waiting for it may start.
    mutating func groupMayBeReady(_ g: Int, at now: ContinuousClock.Instant) -> [Action] {
        guard ordering.isOrdered, !isStopping, !(ordering.dependents[groups[g].config.name] ?? []).isEmpty,
              standing(of: groups[g].config.name).isReady else { return [] }
        return startWaiting(at: now)
    }

    /// A group ended while the daemon runs on: groups after it may start, and groups bound to it
    /// never will.
    mutating func groupEnded(at now: ContinuousClock.Instant) -> [Action] {
        guard ordering.isOrdered else { return [] }
        return startWaiting(at: now)
    }

    /// After a service of group `g` went down: the groups bound to it stop, to start again once it
    /// is ready.
    mutating func groupWentDown(_ g: Int, at now: ContinuousClock.Instant) -> [Action] {
        guard ordering.isOrdered, !isStopping else { return [] }
        let name = groups[g].config.name
        var actions: [Action] = []
        for dependent in ordering.dependents[name] ?? [] where ordering.bindsTo[dependent]?.contains(name) == true {
            guard let d = groups.firstIndex(where: { $0.config.name == dependent }) else { continue }
            switch groups[d].phase {
            case .running, .restarting:
                groups[d].phase = .rebinding
                actions.append(.log(.notice, "group \(dependent): stopping, since it binds to \(name), which stopped; it starts again once \(name) is ready"))
                actions.append(.stopGroup(dependent, generation: groups[d].generation))
            case .waiting, .rebinding, .ended:
                break
            }
        }
        return actions.isEmpty ? [] : actions + [.statusChanged]
    }

    /// A group stopped because a group it binds to went down: it waits to start again. Nil when
    /// `g` was not stopped for that reason, or the daemon is stopping.
    mutating func reboundEnded(_ g: Int, at now: ContinuousClock.Instant) -> [Action]? {
        guard groups[g].phase == .rebinding, !isStopping else { return nil }
        groups[g].phase = .waiting(since: now)
        return [.statusChanged] + startWaiting(at: now)
    }

    /// Starts every waiting group whose dependencies are ready; ends those bound to a group that
    /// is down for good.
    private mutating func startWaiting(at now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for g in groups.indices {
            guard case .waiting = groups[g].phase else { continue }
            let name = groups[g].config.name
            if let gone = ordering.bindsTo[name]?.first(where: { if case .gone = standing(of: $0) { true } else { false } }) {
                actions.append(.log(.error, "group \(name) binds to \(gone), which is down for good; it stays down"))
                actions += ended(g, .gaveUp(reason: "it binds to \(gone), which is down for good"), at: now)
                continue
            }
            guard unmetDependencies(of: name).isEmpty else { continue }
            positions[groups[g].generation] = nil
            let generation = nextGeneration
            nextGeneration += 1
            groups[g].generation = generation
            positions[generation] = g
            groups[g].phase = .running
            // A new run: its uptime counts from its first service's start.
            groups[g].since = nil
            actions.append(.log(.info, "group \(name): \((ordering.dependencies[name] ?? []).joined(separator: ", ")) ready; starting"))
            actions.append(.startGroup(groups[g].config, generation: generation))
        }
        return actions.isEmpty ? [] : actions + [.statusChanged]
    }

    /// The groups `name` waits for: those it binds to that are not ready, and those it is after
    /// that are neither ready nor down for good.
    func unmetDependencies(of name: String) -> [String] {
        let bound = ordering.bindsTo[name] ?? []
        return (ordering.dependencies[name] ?? []).filter { dependency in
            switch standing(of: dependency) {
            case .ready: false
            case .gone: bound.contains(dependency)
            case .pending: true
            }
        }
    }

    private func standing(of name: String) -> Standing {
        guard let view = groups.first(where: { $0.config.name == name }) else {
            // Not started yet in this reload (it is about to be), or not in the config.
            return config.groups.contains { $0.name == name } ? .pending("starting") : .gone
        }
        switch view.phase {
        case .ended: return .gone
        case .waiting: return .pending("waiting")
        case .rebinding: return .pending("stopping")
        case .restarting: return .pending("restarting")
        case .running: return view.services.allSatisfy { $0.phase == .ready } ? .ready : .pending("starting")
        }
    }

    // MARK: - Stop

    /// The daemon's stop: groups that never started end now; every other group is told to stop
    /// once no group after it is still up.
    mutating func stopGroupsInOrder() -> [Action] {
        // Groups a reload was still holding back go now: they were retiring anyway, and the
        // daemon's stop waits for every retiring group.
        let held = releaseDeferredStops()
        guard ordering.isOrdered else {
            return held + groups.filter(\.isMeantToRun).map { .stopGroup($0.config.name, generation: $0.generation) }
        }
        for g in groups.indices {
            guard case .waiting = groups[g].phase else { continue }
            groups[g].phase = .ended(.stopped(killed: []))
            meantToRunCount -= groups[g].config.services.count
        }
        return held + stopNextGroups()
    }

    /// Every stop a reload holds back, now.
    private mutating func releaseDeferredStops() -> [Action] {
        let held = ordering.deferredStops.sorted { $0.key < $1.key }.map { Action.stopGroup($0.key, generation: $0.value.generation) }
        ordering.deferredStops = [:]
        return held
    }

    /// During the daemon's stop: the stop to each group up whose dependents have all stopped.
    mutating func stopNextGroups() -> [Action] {
        guard ordering.isOrdered else { return [] }
        var actions: [Action] = []
        let up = Set(groups.filter(\.isMeantToRun).map(\.config.name))
        for view in groups where view.isMeantToRun && !ordering.stopSent.contains(view.generation) {
            let name = view.config.name
            if view.phase == .rebinding {
                // Already stopping; it ends for good now.
                ordering.stopSent.insert(view.generation)
                continue
            }
            guard !(ordering.dependents[name] ?? []).contains(where: up.contains) else { continue }
            ordering.stopSent.insert(view.generation)
            actions.append(.stopGroup(name, generation: view.generation))
        }
        return actions
    }

    /// A second stop request: every group still up and not yet told, told now (its services are
    /// killed next), so that none restarts by its policy.
    mutating func stopEveryGroupNow() -> [Action] {
        var actions = releaseDeferredStops()
        guard ordering.isOrdered else { return actions }
        for view in groups where view.isMeantToRun && view.phase != .rebinding && !ordering.stopSent.contains(view.generation) {
            ordering.stopSent.insert(view.generation)
            actions.append(.stopGroup(view.config.name, generation: view.generation))
        }
        return actions
    }

    // MARK: - Reload

    /// A reload's stop of the groups it changes or removes (and those bound to them): each is
    /// retired at once, and told to stop once the groups among them that are after it have stopped.
    mutating func retire(_ stopping: [GroupView]) -> [Action] {
        let names = Set(stopping.map(\.config.name))
        var actions: [Action] = []
        for view in stopping where view.isMeantToRun {
            let name = view.config.name
            meantToRunCount -= view.config.services.count
            switch view.phase {
            case .waiting:
                continue
            case .rebinding:
                // Already stopping: its end retires it.
                retiring[name] = view.generation
                continue
            default:
                retiring[name] = view.generation
            }
            let first = Set((ordering.dependents[name] ?? []).filter(names.contains))
            if first.isEmpty {
                actions.append(.stopGroup(name, generation: view.generation))
            } else {
                ordering.deferredStops[name] = (view.generation, first)
            }
        }
        return actions
    }

    /// A retiring group ended: the groups it was after may stop now.
    mutating func stopDeferredRetiring() -> [Action] {
        var actions: [Action] = []
        for (name, deferred) in ordering.deferredStops.sorted(by: { $0.key < $1.key })
        where !deferred.after.contains(where: { retiring[$0] != nil }) {
            ordering.deferredStops[name] = nil
            actions.append(.stopGroup(name, generation: deferred.generation))
        }
        return actions
    }

    // MARK: - Status

    /// `group api waiting for db (starting, 3s)`, for each waiting group.
    func waitingText(at now: ContinuousClock.Instant) -> [String] {
        guard ordering.isOrdered else { return [] }
        return groups.compactMap { view in waitingFor(view, at: now).map { "group \(view.config.name) waiting for \($0)" } }
    }

    /// What a waiting group waits for, as `db (starting, 3s)`; nil when it does not wait.
    func waitingFor(_ view: GroupView, at now: ContinuousClock.Instant) -> String? {
        guard case .waiting(let since) = view.phase else { return nil }
        let waited = DurationText.format(Self.rounded(now - since))
        let unmet = unmetDependencies(of: view.config.name).map { dependency -> String in
            guard case .pending(let what) = standing(of: dependency) else { return "\(dependency) (down, \(waited))" }
            return "\(dependency) (\(what), \(waited))"
        }
        return unmet.isEmpty ? "its turn" : unmet.joined(separator: ", ")
    }
}
