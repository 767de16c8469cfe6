import Synchronization

/// The interrupt timeouts of a group's runners that share one interrupt duration, on one timer.
///
/// Each runner's timeout starts just before its stopper is called, as in Go, so slow stoppers
/// spread the deadlines out. With one duration and a clock that only moves forward, they are
/// added in ascending order, so a single timer armed for the earliest is enough: when it fires
/// it expires every runner then due and re-arms for the next one. With quick stoppers, a whole
/// group expires on one firing. One timer per runner would instead keep a timer entry and a
/// closure per runner alive (guarded by "GroupRunner: starting and stopping N runners" in
/// BENCHMARKS.md).
final class InterruptDeadlines: Sendable {
    private struct Pending {
        let deadline: UInt64
        let runner: Runner
    }

    private struct State {
        var pending: [Pending] = []
        /// The first entry of `pending` not yet expired; entries before it are done.
        var next = 0
        var timer: TimerQueue.Handle?
        var cancelled = false
    }

    private let duration: UInt64
    private let state = Mutex(State())

    init(duration: Duration) {
        self.duration = duration.clampedNanoseconds
    }

    /// Starts `runner`'s timeout now: `expireInterrupt()` is called on it once the duration has
    /// passed, unless `cancel()` comes first.
    func start(_ runner: Runner) {
        let deadline = monotonicNanoseconds() &+ duration
        state.withLock { state in
            guard !state.cancelled else { return }
            state.pending.append(Pending(deadline: deadline, runner: runner))
            if state.timer == nil { state.timer = arm(at: deadline) }
        }
    }

    /// Stops every timeout that has not fired yet; the group has all its results.
    func cancel() {
        let (timer, pending) = state.withLock { state in
            state.cancelled = true
            defer {
                state.timer = nil
                state.pending = []
            }
            return (state.timer, state.pending)
        }
        // Released outside the lock: the timer's closure holds this object.
        if let timer { TimerQueue.shared.cancel(timer) }
        _ = consume pending
    }

    /// Called with the lock held; scheduling never calls back into this object.
    private func arm(at deadline: UInt64) -> TimerQueue.Handle {
        TimerQueue.shared.schedule(at: deadline) { [self] in expireDue() }
    }

    private func expireDue() {
        let due = state.withLock { state -> [Runner] in
            state.timer = nil
            guard !state.cancelled else { return [] }
            let now = monotonicNanoseconds()
            var due: [Runner] = []
            while state.next < state.pending.count && state.pending[state.next].deadline <= now {
                due.append(state.pending[state.next].runner)
                state.next += 1
            }
            if state.next < state.pending.count {
                state.timer = arm(at: state.pending[state.next].deadline)
            } else {
                state.pending = []
                state.next = 0
            }
            return due
        }
        for runner in due { runner.expireInterrupt() }
    }
}
