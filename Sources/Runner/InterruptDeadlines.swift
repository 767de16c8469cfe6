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
///
/// A runner is recorded by its index in the group's list, which this object holds once: the
/// stop loop then changes no runner's reference count, and dropping the deadlines releases
/// nothing per runner (guarded by the same benchmark).
final class InterruptDeadlines: Sendable {
    private struct Pending {
        let deadline: UInt64
        let index: Int
    }

    private struct State {
        var pending: [Pending] = []
        /// The first entry of `pending` not yet expired; entries before it are done.
        var next = 0
        var timer: TimerQueue.Handle?
        var cancelled = false
    }

    private let duration: UInt64
    /// The group's runners, in the group's order.
    private let runners: [Runner]
    private let state = Mutex(State())

    init(duration: Duration, runners: [Runner]) {
        self.duration = duration.clampedNanoseconds
        self.runners = runners
    }

    /// Starts the timeout of the runner at `index` in `runners` now: `expireInterrupt()` is
    /// called on it once the duration has passed, unless `cancel()` comes first.
    func start(_ index: Int) {
        let deadline = monotonicNanoseconds() &+ duration
        state.withLock { state in
            guard !state.cancelled else { return }
            state.pending.append(Pending(deadline: deadline, index: index))
            if state.timer == nil { state.timer = arm(at: deadline) }
        }
    }

    /// Stops every timeout that has not fired yet; the group has all its results.
    func cancel() {
        let timer = state.withLock { state in
            state.cancelled = true
            state.pending = []
            return state.timer.take()
        }
        // Cancelled outside the lock: the timer's closure holds this object.
        if let timer { TimerQueue.shared.cancel(timer) }
    }

    /// Called with the lock held; scheduling never calls back into this object.
    private func arm(at deadline: UInt64) -> TimerQueue.Handle {
        TimerQueue.shared.schedule(at: deadline) { [self] in expireDue() }
    }

    private func expireDue() {
        let due = state.withLock { state -> [Int] in
            state.timer = nil
            guard !state.cancelled else { return [] }
            let now = monotonicNanoseconds()
            var due: [Int] = []
            while state.next < state.pending.count && state.pending[state.next].deadline <= now {
                due.append(state.pending[state.next].index)
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
        for index in due { runners[index].expireInterrupt() }
    }
}
