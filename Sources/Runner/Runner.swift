import Synchronization

/// Runs one long-lived task, such as a server, and lets it be asked to stop.
///
/// A runner runs once. Its *task* is started by `run(_:)` or `runAsync(into:)`, and its *stopper*
/// is the request to finish: `interrupt()`, a cancelled token, or a cancelled Swift `Task`
/// awaiting `run` calls the stopper once, and never forces the task. From that moment the
/// interrupt timeout runs: if the task has not returned by then, the result is a `TimeoutError`
/// naming the runner, and the caller is released even though the task may still be running.
///
/// A task that finishes by itself never has its stopper called. Exactly one result is produced
/// per run, whichever of the task and the timeout comes first.
///
/// Tasks run where blocking is harmless by default (see `TaskPlacement.elastic`), and the
/// runner's timers, stopper calls and result delivery never wait for a free thread in Swift's
/// cooperative pool.
public final class Runner: Sendable {
    /// The interrupt duration of runners created without one: 10 seconds unless changed.
    /// Reading and writing it is thread-safe; a change affects runners created afterwards.
    public static var defaultInterruptDuration: Duration {
        get { runnerDefaultInterruptDuration.withLock { $0 } }
        set { runnerDefaultInterruptDuration.withLock { $0 = newValue } }
    }

    /// The runner's name, carried by its result and its timeout errors.
    public let id: String
    /// How long the runner waits for its task after interrupting it.
    public let interruptDuration: Duration
    /// Where the task executes.
    public let placement: TaskPlacement

    private let task: @Sendable () async throws -> Void
    private let stopper: @Sendable () -> Void
    private let state = Mutex(State())

    private enum Phase {
        case idle
        /// Reserved by `run`, `runAsync` or a group, but not yet launched.
        case claimed
        /// The task runs and no result has been delivered yet.
        case running
        /// The result has been delivered; anything that happens later is not reported.
        case delivered
    }

    private struct State {
        var phase = Phase.idle
        /// `interrupt()` (or a group interrupt) has happened; before launch it is pending.
        var interrupted = false
        var taskFinished = false
        var destination: ResultDestination?
        /// What only a runner interrupted on its own, or waited for, needs; nil until then.
        var extras: Extras?

        mutating func makeExtras() -> Extras {
            if let extras { return extras }
            let made = Extras()
            extras = made
            return made
        }
    }

    /// Kept out of line, so that a group's runners, which need neither part, fit a smaller
    /// allocation: about 0.3 MiB less for 10,000 runners (guarded by "GroupRunner: starting and
    /// stopping N runners" in BENCHMARKS.md). Read and written only under the runner's lock.
    private final class Extras {
        /// The runner's own interrupt timer; a group keeps its members' timers itself.
        var timer: TimerQueue.Handle?
        var finishWaiters = RegistrationList<UnsafeContinuation<Void, Never>>()
    }

    /// Creates a runner whose task runs on the elastic executor.
    ///
    /// - Parameters:
    ///   - id: The name that the result and any timeout carry. Within a group it must be unique.
    ///   - interruptDuration: How long to wait for the task once it has been interrupted.
    ///   - task: The long-running work. What it throws becomes the result's error.
    ///   - stopper: Asks the task to finish. It is called at most once, never after the task
    ///     has finished by itself, and should return quickly (start the shutdown, don't await it).
    public convenience init(
        id: String,
        interruptDuration: Duration = Runner.defaultInterruptDuration,
        task: @escaping @Sendable () async throws -> Void,
        stopper: @escaping @Sendable () -> Void
    ) {
        self.init(id: id, interruptDuration: interruptDuration, placement: .elastic, task: task, stopper: stopper)
    }

    /// Creates a runner whose task runs in the given placement; see `TaskPlacement`.
    public init(
        id: String,
        interruptDuration: Duration = Runner.defaultInterruptDuration,
        placement: TaskPlacement,
        task: @escaping @Sendable () async throws -> Void,
        stopper: @escaping @Sendable () -> Void
    ) {
        self.id = id
        self.interruptDuration = interruptDuration
        self.placement = placement
        self.task = task
        self.stopper = stopper
    }

    /// Creates a runner whose stopper is `async`, as the graceful shutdown of most Swift
    /// services is.
    ///
    /// When the runner is interrupted, its interrupt timeout starts first, then `stopper` starts
    /// on the elastic executor, and the interrupting thread goes on at once without waiting for
    /// it (in a group, to the next runner's stopper). So the stopper's own time counts toward the
    /// runner's interrupt duration: a stopper that is still running when that duration has
    /// passed leaves a `TimeoutError` as the result. Like a synchronous stopper, it is called at
    /// most once, and never after the task has finished by itself; it is not cancelled when
    /// the timeout runs out.
    ///
    /// - Parameters:
    ///   - id: The name that the result and any timeout carry. Within a group it must be unique.
    ///   - interruptDuration: How long to wait, from the interruption, for the task to return.
    ///   - placement: Where the task executes; see `TaskPlacement`.
    ///   - task: The long-running work. What it throws becomes the result's error.
    ///   - stopper: Asks the task to finish, and may wait for the shutdown it starts.
    public convenience init(
        id: String,
        interruptDuration: Duration = Runner.defaultInterruptDuration,
        placement: TaskPlacement = .elastic,
        task: @escaping @Sendable () async throws -> Void,
        stopper: @escaping @Sendable () async -> Void
    ) {
        self.init(id: id, interruptDuration: interruptDuration, placement: placement, task: task, stopper: {
            TaskPlacement.elastic.start { await stopper() }
        })
    }

    /// Starts the task and suspends until its result: what the task threw (nil if it returned),
    /// or a `TimeoutError` once the interrupt duration has passed after an interruption.
    ///
    /// Cancelling `token`, or the Swift `Task` that awaits this call, interrupts the runner.
    /// The task itself is never cancelled by either; it learns to stop only from the stopper.
    ///
    /// - Throws: `RunnerError.alreadyStarted` if the runner was started before. Nothing runs then.
    public func run(_ token: CancellationToken) async throws(RunnerError) -> RunResult {
        try claim()
        let key = token.addHandler { [self] in interrupt() }
        let result = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<RunResult, Never>) in
                launch { continuation.resume(returning: $0) }
            }
        } onCancel: { [self] in
            interrupt()
        }
        if let key { token.removeHandler(key) }
        return result
    }

    /// Starts the task and returns at once. Exactly one result is later yielded into `results`,
    /// which the runner never finishes, so several runners can share one stream. Only
    /// `interrupt()` stops a runner started this way.
    ///
    /// - Throws: `RunnerError.alreadyStarted` if the runner was started before. Nothing runs then.
    public func runAsync(into results: AsyncStream<RunResult>.Continuation) throws(RunnerError) {
        try claim()
        launch { results.yield($0) }
    }

    /// Asks the task to finish: calls the stopper on the calling thread and starts the interrupt
    /// timeout. Only the first call does anything. Before the runner starts, the interrupt is
    /// remembered and happens as soon as it starts. After the task has finished, it does nothing.
    public func interrupt() {
        let act = state.withLock { state -> Bool in
            guard !state.interrupted else { return false }
            state.interrupted = true
            return state.phase == .running && !state.taskFinished
        }
        if act { interruptNow() }
    }

    /// Whether the task's function has returned. This turns true before its result is delivered,
    /// and stays false for a task that timed out and is still running.
    public var isFinished: Bool {
        state.withLock { $0.taskFinished }
    }

    /// Suspends until the task's function has returned, which may be before its result is
    /// delivered. Returns at once if it already has. It also returns early if the calling
    /// `Task` is cancelled; check `isFinished` when that difference matters.
    public func waitUntilFinished() async {
        let key = state.withLock { state -> UInt64? in
            state.taskFinished ? nil : state.makeExtras().finishWaiters.reserveKey()
        }
        guard let key else { return }
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                if !state.withLock({ $0.makeExtras().finishWaiters.fill(key, with: continuation) }) {
                    continuation.resume()
                }
            }
        } onCancel: {
            state.withLock { $0.extras?.finishWaiters.remove(key) }?.resume()
        }
    }

    // MARK: - The parts a GroupRunner drives

    /// Reserves the runner for one run.
    func claim() throws(RunnerError) {
        let claimed = state.withLock { state -> Bool in
            guard state.phase == .idle else { return false }
            state.phase = .claimed
            return true
        }
        if !claimed { throw .alreadyStarted(runnerID: id) }
    }

    /// Gives back a claim that was never launched, when a group refuses to start.
    func unclaim() {
        state.withLock { state in
            if state.phase == .claimed { state.phase = .idle }
        }
    }

    /// Where a run's one result goes.
    enum ResultDestination {
        case callback(@Sendable (RunResult) -> Void)
        /// A group member reports straight to its group. A closure capturing the group and the
        /// index would cost an allocation per runner, about 0.4 MiB for 10,000 runners (guarded
        /// by "GroupRunner: starting and stopping N runners" in BENCHMARKS.md).
        case group(GroupRunner, index: Int)

        func send(_ result: RunResult) {
            switch self {
            case .callback(let deliver): deliver(result)
            case .group(let group, let index): group.arrived(result, from: index)
            }
        }
    }

    /// Starts the claimed task; `deliver` receives the one result.
    func launch(deliver: @escaping @Sendable (RunResult) -> Void) {
        launch(into: .callback(deliver))
    }

    /// Starts the claimed task; `destination` receives the one result.
    func launch(into destination: ResultDestination) {
        let pendingInterrupt = state.withLock { state -> Bool in
            precondition(state.phase == .claimed, "launch without a claim")
            state.phase = .running
            state.destination = destination
            return state.interrupted
        }
        placement.start(self)
        if pendingInterrupt { interruptNow() }
    }

    /// The body of the Swift task that `launch` starts: runs the task, then reports how it ended.
    func runTask() async {
        do {
            try await task()
            taskReturned(nil)
        } catch {
            taskReturned(error)
        }
    }

    /// A group's interrupt: calls the stopper like `interrupt()`, but leaves the timer to the
    /// group, which shares one timer among its runners of the same duration. `startTimeout` runs
    /// just before the stopper, so the runner's own timeout starts when its stopper is called.
    /// Does nothing if the runner was interrupted or done already.
    func interruptForGroup(startTimeout: (Runner) -> Void) {
        let act = state.withLock { state -> Bool in
            guard !state.interrupted else { return false }
            state.interrupted = true
            return state.phase == .running && !state.taskFinished
        }
        guard act else { return }
        startTimeout(self)
        stopper()
    }

    /// The interrupt duration has passed: deliver a timeout unless a result went out already.
    func expireInterrupt() {
        let destination = state.withLock { state -> ResultDestination? in
            guard state.phase == .running else { return nil }
            state.phase = .delivered
            return state.destination.take()
        }
        destination?.send(RunResult(runnerID: id, error: TimeoutError(runnerID: id, duration: interruptDuration)))
    }

    // MARK: - Private

    private func interruptNow() {
        let timer = TimerQueue.shared.schedule(after: interruptDuration) { [self] in expireInterrupt() }
        let keep = state.withLock { state -> Bool in
            guard state.phase == .running && !state.taskFinished else { return false }
            state.makeExtras().timer = timer
            return true
        }
        guard keep else {
            TimerQueue.shared.cancel(timer)
            return
        }
        stopper()
    }

    private func taskReturned(_ error: (any Error)?) {
        let (waiters, timer, destination) = state.withLock { state in
            state.taskFinished = true
            let running = state.phase == .running
            if running { state.phase = .delivered }
            // Moved out, not copied: a group's members share it, and every reference-count
            // change on it from their threads is contended (see "GroupRunner: starting and
            // stopping N runners" in BENCHMARKS.md).
            let destination = state.destination.take()
            let extras = state.extras
            defer { extras?.timer = nil }
            return (extras?.finishWaiters.removeAll() ?? [], extras?.timer, running ? destination : nil)
        }
        if let timer { TimerQueue.shared.cancel(timer) }
        for waiter in waiters { waiter.resume() }
        destination?.send(RunResult(runnerID: id, error: error))
    }
}

private let runnerDefaultInterruptDuration = Mutex(Duration.seconds(10))
