import RunnerdConfig
/// Decides what happens after a group has stopped: restart it after a back-off, leave it down,
/// or give up. A pure state machine: it is fed events and times and returns decisions, so that
/// the whole timeline can be tested without processes or clocks.
///
/// - The first restart waits `restartDelay`; each further one within the window waits twice as
///   long as the one before, up to `restartDelayMax`.
/// - `maxRestarts` restarts are allowed within any `restartWindow` (so N restarts, N+1 starts);
///   the next stop that would need a restart gives up instead. Restarts older than the window
///   no longer count, which also lets the back-off shrink again after a quiet spell.
struct RestartPolicy: Sendable {
    /// What to do with a stopped group.
    enum Decision: Sendable, Equatable {
        /// Start the group again after `delay`; this is restart `number` of `limit` in the window.
        case restart(after: Duration, number: Int, limit: Int)
        /// The group stopped cleanly and its policy does not restart it.
        case finished
        /// The group failed and may not restart again; `reason` says why.
        case giveUp(reason: String)
    }

    let mode: RestartMode
    let delay: Duration
    let delayMax: Duration
    let maxRestarts: Int
    let window: Duration
    /// When each restart that still counts happened.
    private(set) var restarts: [ContinuousClock.Instant] = []

    init(_ group: GroupConfig) {
        mode = group.restart
        delay = group.restartDelay
        delayMax = group.restartDelayMax
        maxRestarts = group.maxRestarts
        window = group.restartWindow
    }

    /// What to do now that the group stopped, `failed` telling whether the member that stopped
    /// it failed. Does not change the policy; `groupStopped` does.
    func decide(failed: Bool, at now: ContinuousClock.Instant) -> Decision {
        switch (mode, failed) {
        case (.never, false), (.onFailure, false):
            return .finished
        case (.never, true):
            return .giveUp(reason: "its restart policy is never")
        case (.onFailure, true), (.always, _):
            let recent = restarts.filter { now - $0 < window }
            guard recent.count < maxRestarts else {
                if maxRestarts == 0 { return .giveUp(reason: "max-restarts is 0") }
                return .giveUp(reason: "it was restarted \(maxRestarts) times within \(DurationText.format(window))")
            }
            var wait = delay
            for _ in 0..<recent.count where wait < delayMax { wait *= 2 }
            return .restart(after: min(wait, delayMax), number: recent.count + 1, limit: maxRestarts)
        }
    }

    /// Records the decision for a stop at `now` and returns it.
    mutating func groupStopped(failed: Bool, at now: ContinuousClock.Instant) -> Decision {
        let decision = decide(failed: failed, at: now)
        restarts.removeAll { now - $0 >= window }
        if case .restart = decision { restarts.append(now) }
        return decision
    }
}
