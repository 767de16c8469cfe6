/// The library's deadlines: one OS thread that sleeps until the earliest deadline and then runs
/// its action.
///
/// The runners' timeouts live here rather than in `Task.sleep`, so that they fire on time even
/// when every thread of Swift's cooperative pool is blocked. The thread sleeps without a timeout
/// while nothing is scheduled, so an idle process sees no periodic wake-ups from it.
///
/// Actions run on the timer thread and must be short and must not block: they are the library's
/// own bookkeeping. Anything that runs user code (a token's handlers, a stopper) is handed to the
/// elastic executor by the caller.
final class TimerQueue: @unchecked Sendable {
    // @unchecked: every stored var below is read and written only while `mutex` is held.

    /// The process-wide queue, whose thread starts on first use.
    static let shared = TimerQueue()

    /// Identifies a scheduled action, for `cancel`.
    struct Handle: Sendable, Hashable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        let deadline: UInt64
        let id: UInt64
    }

    private let mutex = PThreadMutex()
    private let wakeUp = PThreadCondition()
    private var heap: [Entry] = []
    private var actions: [UInt64: @Sendable () -> Void] = [:]
    private var nextID: UInt64 = 1
    private var threadStarted = false
    /// The deadline the thread is sleeping until (`UInt64.max` while it sleeps without one).
    private var sleepingUntil: UInt64 = .max

    /// Runs `action` on the timer thread once `delay` has passed, unless it is cancelled first.
    func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> Handle {
        schedule(at: monotonicNanoseconds() &+ delay.clampedNanoseconds, action)
    }

    /// Runs `action` on the timer thread once `deadline` (monotonic nanoseconds, as
    /// `monotonicNanoseconds()` reads them) has passed, unless it is cancelled first.
    func schedule(at deadline: UInt64, _ action: @escaping @Sendable () -> Void) -> Handle {
        mutex.lock()
        defer { mutex.unlock() }
        let id = nextID
        nextID += 1
        actions[id] = action
        push(Entry(deadline: deadline, id: id))
        if !threadStarted {
            threadStarted = true
            spawnThread(name: "runner-timers") { [self] in loop() }
        } else if deadline < sleepingUntil {
            wakeUp.signal()
        }
        return Handle(id: id)
    }

    /// Cancels a scheduled action. Cancelling one that already ran, or was cancelled, does nothing.
    /// The action's closure is released at once; only a small heap entry stays until its deadline.
    func cancel(_ handle: Handle) {
        mutex.lock()
        let action = actions.removeValue(forKey: handle.id)
        mutex.unlock()
        // Released after the lock: the closure may hold the last reference to something whose
        // deinit cancels a timer of its own.
        Self.release(consume action)
    }

    /// Ends the life of `action` here, outside any lock.
    private static func release(_ action: consuming (@Sendable () -> Void)?) {}

    /// Runs `action` and ends its life here, outside any lock.
    private static func run(_ action: consuming (@Sendable () -> Void)?) {
        action?()
    }

    private func loop() {
        mutex.lock()
        while true {
            guard let first = heap.first else {
                sleepingUntil = .max
                wakeUp.wait(mutex)
                continue
            }
            if actions[first.id] == nil {
                popFirst()
                continue
            }
            let now = monotonicNanoseconds()
            if first.deadline > now {
                sleepingUntil = first.deadline
                wakeUp.wait(mutex, until: first.deadline)
                continue
            }
            popFirst()
            let action = actions.removeValue(forKey: first.id)
            sleepingUntil = 0
            mutex.unlock()
            // Run and released before the lock is taken again, for the same reason as in `cancel`.
            Self.run(consume action)
            mutex.lock()
        }
    }

    // A binary min-heap ordered by deadline, then by scheduling order.

    private func before(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline != b.deadline ? a.deadline < b.deadline : a.id < b.id
    }

    private func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func popFirst() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && before(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && before(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// Runs `action` on the library's timer thread once `delay` has passed. `action` must be short and
/// must not block, like every timer action. (Package access: runnerd's executors schedule delayed jobs here.)
///
/// `delay` is a clock's duration, as an executor's `enqueue(_:after:tolerance:clock:)` receives
/// it. `Task.sleep` schedules on the continuous and the suspending clock, both measured in
/// `Duration`; a clock measured otherwise sleeps by its own means and never reaches an
/// executor, so any other duration type is a programming error and traps.
package func runOnTimerThread<D: DurationProtocol>(after delay: D, _ action: @escaping @Sendable () -> Void) {
    guard let delay = delay as? Duration else {
        preconditionFailure("timers run only on clocks measured in Duration, not \(D.self)")
    }
    _ = TimerQueue.shared.schedule(after: delay, action)
}
