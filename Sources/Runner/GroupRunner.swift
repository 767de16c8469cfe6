import Synchronization

/// Runs several runners together: either all of them run, or none does.
///
/// When any task finishes, for any reason, or the token is cancelled, or `interrupt()` is
/// called, every runner that has not finished is interrupted:
///
/// - The stoppers are called one after another, in the order the runners were added, on the
///   interrupting thread: the one that cancelled the token or called `interrupt()`, or whose
///   task finished. (A token from `CancellationToken.signals` cancels on the elastic executor.)
///   Each stopper runs only after the previous one has returned, as in Go, so stoppers should
///   return quickly.
/// - Each runner's own interrupt timeout starts just before its stopper is called. A slow
///   stopper therefore delays the stoppers after it, but never shortens or stretches anyone's
///   limit: a runner's `TimeoutError` always comes its own duration after its stopper was called.
/// - The group's interrupt timeout starts once the last stopper has returned. Runners still
///   outstanding when it runs out get a `TimeoutError` with `scope == .group` that names them,
///   and the group is done.
///
/// Keep each runner's duration shorter than the group's, to learn which runner hung from its
/// own timeout. A group yields exactly one result per runner, in the order the results arrive.
public final class GroupRunner: Sendable {
    /// The interrupt duration of groups created without one: 15 seconds unless changed.
    /// Reading and writing it is thread-safe; a change affects groups created afterwards.
    public static var defaultInterruptDuration: Duration {
        get { groupDefaultInterruptDuration.withLock { $0 } }
        set { groupDefaultInterruptDuration.withLock { $0 = newValue } }
    }

    /// How long the group waits for its runners once it has interrupted them all.
    public let interruptDuration: Duration

    private let state = Mutex(State())

    fileprivate enum Phase {
        /// Accepting runners.
        case building
        /// Claimed and launching; an interrupt now is remembered and happens once all have launched.
        case starting
        case running
        case interrupting
        case finished
    }

    fileprivate enum Sink {
        case collect(UnsafeContinuation<[RunResult], Never>)
        case each(@Sendable (RunResult) -> Void)
        case stream(AsyncStream<RunResult>.Continuation)
    }

    fileprivate struct State {
        var phase = Phase.building
        var runners: [Runner] = []
        var ids: Set<String> = []
        var interruptRequested = false
        var delivered: [Bool] = []
        var outstanding = 0
        var results: [RunResult] = []
        var sink: Sink?
        var timers: [TimerQueue.Handle] = []
        var deadlines: [InterruptDeadlines] = []
    }

    /// Creates an empty group.
    public init(interruptDuration: Duration = GroupRunner.defaultInterruptDuration) {
        self.interruptDuration = interruptDuration
    }

    /// Adds a runner to the group.
    ///
    /// - Throws: `RunnerError.duplicateID` if a runner with the same id is already in the group,
    ///   and `RunnerError.groupAlreadyStarted` once the group has started. The group is unchanged.
    public func add(_ runner: Runner) throws(RunnerError) {
        let refusal = state.withLock { state -> RunnerError? in
            guard state.phase == .building else { return .groupAlreadyStarted }
            guard state.ids.insert(runner.id).inserted else { return .duplicateID(runner.id) }
            state.runners.append(runner)
            return nil
        }
        if let refusal { throw refusal }
    }

    /// Starts every runner and suspends until each has a result; returns them in arrival order.
    ///
    /// Cancelling `token`, or the Swift `Task` that awaits this call, interrupts the group.
    ///
    /// - Throws: `RunnerError.groupAlreadyStarted` if the group ran before, and
    ///   `RunnerError.alreadyStarted` if one of its runners was started elsewhere. In both
    ///   cases no runner has started.
    public func run(_ token: CancellationToken) async throws(RunnerError) -> [RunResult] {
        let runners = try start()
        if runners.isEmpty { return [] }
        let key = token.addHandler { [self] in interrupt() }
        let results = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<[RunResult], Never>) in
                launch(runners, into: .collect(continuation))
            }
        } onCancel: { [self] in
            interrupt()
        }
        if let key { token.removeHandler(key) }
        return results
    }

    /// Starts every runner, like `run(_:)`, and returns their results as an asynchronous
    /// sequence: one per runner, in the order they arrive, and then the sequence finishes. No
    /// counting is needed; `for await` ends after the last result.
    ///
    /// Cancelling `token` interrupts the group. So does cancelling the task that iterates the
    /// sequence, or dropping the sequence before its end: nobody is waiting for the results
    /// any more. The results are buffered, so a slow consumer holds back no runner.
    ///
    /// - Throws: like `run(_:)`; no runner has started when it throws.
    public func runResults(_ token: CancellationToken) throws(RunnerError) -> AsyncStream<RunResult> {
        let runners = try start()
        let (results, continuation) = AsyncStream.makeStream(of: RunResult.self, bufferingPolicy: .unbounded)
        if runners.isEmpty {
            continuation.finish()
            return results
        }
        let key = token.addHandler { [self] in interrupt() }
        continuation.onTermination = { [self] termination in
            if let key { token.removeHandler(key) }
            if case .cancelled = termination { interrupt() }
        }
        launch(runners, into: .stream(continuation))
        return results
    }

    /// Starts every runner and returns at once. Each runner's result is yielded into `results`
    /// as it becomes available, exactly one per runner; the group never finishes the stream.
    /// Only `interrupt()` stops a group started this way (or one of its tasks finishing).
    ///
    /// - Throws: like `run(_:)`; no runner has started when it throws.
    public func runAsync(into results: AsyncStream<RunResult>.Continuation) throws(RunnerError) {
        try runAsync { results.yield($0) }
    }

    /// Starts every runner and returns at once, like `runAsync(into:)`, but hands each result to
    /// `onResult`, exactly once per runner, on the thread that produced it (never while the group
    /// holds its lock, so `onResult` may call the group). It should return quickly.
    ///
    /// A task waiting for results through an `AsyncStream` keeps about 0.5 KB of async frames
    /// for as long as it waits; one that resumes its own continuation from here keeps only that.
    ///
    /// - Throws: like `run(_:)`; no runner has started when it throws.
    public func runAsync(onResult: @escaping @Sendable (RunResult) -> Void) throws(RunnerError) {
        let runners = try start()
        if !runners.isEmpty { launch(runners, into: .each(onResult)) }
    }

    /// Interrupts every runner that has not finished, then starts the group's timeout. Only the
    /// first call does anything. Before the group starts, the interrupt is remembered and happens
    /// as soon as it has started.
    public func interrupt() {
        let act = state.withLock { state -> Bool in
            switch state.phase {
            case .building, .starting:
                state.interruptRequested = true
                return false
            case .running:
                state.phase = .interrupting
                return true
            case .interrupting, .finished:
                return false
            }
        }
        if act { interruptRunners() }
    }

    // MARK: - Private

    private func start() throws(RunnerError) -> [Runner] {
        let runners = state.withLock { state -> [Runner]? in
            guard state.phase == .building else { return nil }
            state.phase = .starting
            return state.runners
        }
        guard let runners else { throw .groupAlreadyStarted }
        for (index, runner) in runners.enumerated() {
            do throws(RunnerError) {
                try runner.claim()
            } catch {
                for claimed in runners[..<index] { claimed.unclaim() }
                state.withLock { $0.phase = .building }
                throw error
            }
        }
        state.withLock { state in
            // Duplicate checks are over; a large group's id set is better freed before its tasks start.
            state.ids = []
            if runners.isEmpty { state.phase = .finished }
        }
        return runners
    }

    private func launch(_ runners: [Runner], into sink: Sink) {
        state.withLock { state in
            state.sink = sink
            state.delivered = Array(repeating: false, count: runners.count)
            state.outstanding = runners.count
            state.results.reserveCapacity(runners.count)
        }
        for (index, runner) in runners.enumerated() {
            runner.launch(into: .group(self, index: index))
        }
        let interruptNow = state.withLock { state -> Bool in
            guard state.phase == .starting else { return false }
            state.phase = state.interruptRequested ? .interrupting : .running
            return state.interruptRequested
        }
        if interruptNow { interruptRunners() }
    }

    /// The result of the runner at `index`, from that runner.
    func arrived(_ result: RunResult, from index: Int) {
        let (interruptOthers, delivery, completion) = state.withLock { state -> (Bool, Delivery?, Completion?) in
            guard state.phase != .finished && !state.delivered[index] else { return (false, nil, nil) }
            state.delivered[index] = true
            state.outstanding -= 1
            let delivery = state.record(result)
            if state.outstanding == 0 { return (false, delivery, state.finish()) }
            switch state.phase {
            case .running:
                state.phase = .interrupting
                return (true, delivery, nil)
            case .starting:
                state.interruptRequested = true
                return (false, delivery, nil)
            default:
                return (false, delivery, nil)
            }
        }
        delivery?.send()
        completion?.complete()
        if interruptOthers { interruptRunners() }
    }

    private func interruptRunners() {
        let runners = state.withLock { $0.runners }
        // One timer per distinct interrupt duration rather than one per runner; see
        // `InterruptDeadlines`. Each runner's timeout starts right before its own stopper.
        var deadlines: [Duration: InterruptDeadlines] = [:]
        // Most groups have a single duration, so the previous runner's is tried before hashing
        // one per runner (see "GroupRunner: starting and stopping N runners" in BENCHMARKS.md).
        var previous: (duration: Duration, deadlines: InterruptDeadlines)?
        for runner in runners {
            runner.interruptForGroup { runner in
                let duration = runner.interruptDuration
                if let previous, previous.duration == duration {
                    previous.deadlines.start(runner)
                } else if let shared = deadlines[duration] {
                    previous = (duration, shared)
                    shared.start(runner)
                } else if let fresh = registerDeadlines(duration) {
                    deadlines[duration] = fresh
                    previous = (duration, fresh)
                    fresh.start(runner)
                }
            }
        }
        // As in Go, the group's own timeout starts once every stopper has returned.
        state.withLock { state in
            guard state.phase == .interrupting else { return }
            state.timers.append(TimerQueue.shared.schedule(after: interruptDuration) { [self] in groupTimedOut() })
        }
    }

    /// New deadlines for one duration, cancelled with the group's timers; nil once the group has
    /// every result, when no timeout is needed any more.
    private func registerDeadlines(_ duration: Duration) -> InterruptDeadlines? {
        state.withLock { state in
            guard state.phase == .interrupting else { return nil }
            let deadlines = InterruptDeadlines(duration: duration)
            state.deadlines.append(deadlines)
            return deadlines
        }
    }

    private func groupTimedOut() {
        let (deliveries, completion) = state.withLock { state -> ([Delivery], Completion?) in
            guard state.phase != .finished else { return ([], nil) }
            var deliveries: [Delivery] = []
            for index in state.delivered.indices where !state.delivered[index] {
                state.delivered[index] = true
                let id = state.runners[index].id
                let result = RunResult(runnerID: id, error: TimeoutError(runnerID: id, duration: interruptDuration, scope: .group))
                if let delivery = state.record(result) { deliveries.append(delivery) }
            }
            state.outstanding = 0
            return (deliveries, state.finish())
        }
        for delivery in deliveries { delivery.send() }
        completion?.complete()
    }
}

/// A result for `runAsync`'s callback, handed over outside the lock.
private struct Delivery {
    let onResult: @Sendable (RunResult) -> Void
    let result: RunResult

    func send() {
        onResult(result)
    }
}

/// What is left to do, outside the lock, once a group has every result.
private struct Completion {
    var continuation: UnsafeContinuation<[RunResult], Never>? = nil
    var results: [RunResult] = []
    var stream: AsyncStream<RunResult>.Continuation? = nil
    let timers: [TimerQueue.Handle]
    let deadlines: [InterruptDeadlines]

    func complete() {
        // The waiter first: the timers left would find the group finished and do nothing, and
        // dropping a large group's deadlines releases one reference per interrupted runner.
        continuation?.resume(returning: results)
        stream?.finish()
        for timer in timers { TimerQueue.shared.cancel(timer) }
        for deadlines in deadlines { deadlines.cancel() }
    }
}

extension GroupRunner.State {
    /// Keeps `result` for `run`, or returns it for `runAsync`'s callback or `runResults`' stream.
    fileprivate mutating func record(_ result: RunResult) -> Delivery? {
        switch sink {
        case .collect:
            results.append(result)
            return nil
        case .each(let onResult):
            return Delivery(onResult: onResult, result: result)
        case .stream(let continuation):
            return Delivery(onResult: { continuation.yield($0) }, result: result)
        case nil:
            preconditionFailure("a result arrived before the group had a sink")
        }
    }

    fileprivate mutating func finish() -> Completion {
        phase = .finished
        defer {
            timers = []
            deadlines = []
            results = []
            sink = nil
        }
        switch sink {
        case .collect(let continuation):
            return Completion(continuation: continuation, results: results, timers: timers, deadlines: deadlines)
        case .stream(let stream):
            return Completion(stream: stream, timers: timers, deadlines: deadlines)
        case .each, nil:
            return Completion(timers: timers, deadlines: deadlines)
        }
    }
}

private let groupDefaultInterruptDuration = Mutex(Duration.seconds(15))
