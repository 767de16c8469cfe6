import Logging
import Runner
import Synchronization
import RunnerdConfig

/// Runs one group: all its services as one `GroupRunner`, and again after each stop for as long
/// as its restart policy allows. Other groups never see its trouble.
///
/// Each restart is logged, unless the group is flapping (see ``RestartLogThrottle``): then its
/// runs are quiet, and a summary is logged every `interval` instead, from a task that exists only
/// while the group flaps.
final class GroupSupervisor: Sendable {
    /// How a group's supervision ended.
    enum Outcome: Sendable, Equatable {
        /// The daemon asked it to stop; `killed` names the services that had to be killed.
        case stopped(killed: [String])
        /// It stopped cleanly and its policy does not restart it.
        case finished
        /// It failed and may not restart again.
        case gaveUp(reason: String)
    }

    let config: GroupConfig
    private let makeService: @Sendable (ServiceConfig, Bool) -> ProcessService
    private let status: DaemonStatus
    private let logger: Logger
    /// The services of the current run, for a forced stop.
    private let current = Mutex<[ProcessService]>([])
    private let restartLog: Mutex<RestartLogThrottle>

    /// - Parameters:
    ///   - restartLog: When the group counts as flapping, and how often it is summarised then.
    ///   - makeService: Makes a service for one run; its second argument says that the run is
    ///     quiet (the group is flapping), so the service should not log its start.
    init(
        config: GroupConfig, status: DaemonStatus, logger: Logger, restartLog: RestartLogThrottle = .standard,
        makeService: @escaping @Sendable (ServiceConfig, Bool) -> ProcessService
    ) {
        self.config = config
        self.status = status
        self.logger = logger
        self.restartLog = Mutex(restartLog)
        self.makeService = makeService
    }

    /// Sends SIGKILL to every running service of the group (a second SIGTERM to the daemon).
    func killAll() {
        for service in current.withLock({ $0 }) { service.kill() }
    }

    /// Supervises the group until `token` is cancelled, or the group is finished or gives up.
    func run(_ token: CancellationToken) async -> Outcome {
        var summaries: Task<Void, Never>?
        defer {
            summaries?.cancel()
            if let summary = restartLog.withLock({ $0.finish(at: .now) }) { log(summary, last: true) }
        }
        var policy = RestartPolicy(config)
        while true {
            let (killed, trigger) = await runOnce(token)
            if token.isCancelled { return .stopped(killed: killed) }
            switch decide(after: trigger, policy: &policy, summaries: &summaries) {
            case .restart(let delay):
                await token.child(timeout: delay).wait()
                if token.isCancelled { return .stopped(killed: []) }
            case .end(let outcome):
                return outcome
            }
        }
    }

    private enum Next {
        case restart(after: Duration)
        case end(Outcome)
    }

    /// What follows a run that `trigger` ended: the policy's answer, logged and shown in the
    /// status. Synchronous and never inlined, so that its strings never take space in the frame
    /// of `run`, which every group's task keeps for as long as the group is supervised.
    @inline(never)
    private func decide(after trigger: RunResult, policy: inout RestartPolicy, summaries: inout Task<Void, Never>?) -> Next {
        let name = config.name
        let cause = "service \(trigger.runnerID) \(describe(trigger))"
        let what = "group \(name): \(cause)"
        let others = config.services.count - 1
        let stopped = others == 0 ? "" : "; stopped \(others) other service\(others == 1 ? "" : "s")"
        switch policy.groupStopped(failed: trigger.error != nil, at: .now) {
        case .restart(let delay, let number, let limit):
            let line = "\(what)\(stopped); restarting in \(DurationText.format(delay)) (restart \(number) of \(limit))"
            switch restartLog.withLock({ $0.restarted(at: .now, cause: cause) }) {
            case .log:
                logger.warning("\(line)")
            case .startFlapping:
                let throttle = restartLog.withLock { $0 }
                logger.warning("\(line)")
                logger.warning("group \(name) is flapping: restarted \(throttle.threshold) times within \(DurationText.format(throttle.window)); logging a summary every \(DurationText.format(throttle.interval)) instead of a line per restart")
                summaries = summarise(every: throttle.interval)
            case .quiet:
                break
            }
            status.groupRestarting(name, after: delay, number: number, limit: limit)
            return .restart(after: delay)
        case .finished:
            logger.notice("\(what)\(stopped); restart \(config.restart.rawValue) leaves it down")
            status.groupDown(name, reason: "finished")
            return .end(.finished)
        case .giveUp(let reason):
            logger.error("\(what)\(stopped); giving up because \(reason)")
            status.groupDown(name, reason: "gave up")
            return .end(.gaveUp(reason: "\(cause), and \(reason)"))
        }
    }

    /// Logs a summary every `interval` until the group stops flapping or the task is cancelled.
    private func summarise(every interval: Duration) -> Task<Void, Never> {
        Task { [self] in
            while true {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                guard let summary = restartLog.withLock({ $0.intervalEnded(at: .now) }) else { return }
                log(summary)
                if !summary.stillFlapping { return }
            }
        }
    }

    /// Logs a summary; the `last` one, when supervision ends, says nothing about flapping.
    private func log(_ summary: RestartLogThrottle.Summary, last: Bool = false) {
        let times = summary.restarts == 1 ? "1 time" : "\(summary.restarts) times"
        let cause = summary.lastCause.map { " (last: \($0))" } ?? ""
        let state = last ? "" : summary.stillFlapping ? "; still flapping" : "; no longer flapping"
        logger.warning("group \(config.name): restarted \(times) in the last \(Self.roughly(summary.period))\(cause)\(state)")
    }

    /// One run of the group. Returns the services that had to be killed and the result that
    /// stopped the group (the first to arrive).
    private func runOnce(_ token: CancellationToken) async -> (killed: [String], trigger: RunResult) {
        let run = launch(token)
        defer { end(run, token) }
        var trigger: RunResult?
        var killed: [String] = []
        var remaining = run.services.count
        while remaining > 0 {
            remaining -= 1
            let result = await withUnsafeContinuation { run.results.next($0) }
            if trigger == nil {
                trigger = result
                if !token.isCancelled && run.services.count > 1 && !run.quiet { logFirstStop(result) }
            }
            if killIfTimedOut(result, services: run.services) { killed.append(result.runnerID) }
        }
        if !killed.isEmpty { await waitForKilled(run) }
        return (killed, trigger ?? RunResult(runnerID: config.name, error: nil))
    }

    /// A killed service's task ends once its process group is gone, which SIGKILL ensures:
    /// nothing of this run outlives it.
    private func waitForKilled(_ run: Run) async {
        for (service, runner) in zip(run.services, run.runners) where service.wasKilled {
            await runner.waitUntilFinished()
        }
    }

    /// One run of the group, started.
    private struct Run {
        let services: [ProcessService]
        let runners: [Runner]
        /// Each runner's result, as it stops.
        let results: Arrivals
        /// The group is flapping: its services do not log their starts.
        let quiet: Bool
        /// The handler by which `token` interrupts the group.
        let interruptKey: UInt64?
    }

    /// Makes the run's services and starts them as one `GroupRunner`, which `token` interrupts.
    @inline(never)
    private func launch(_ token: CancellationToken) -> Run {
        let quiet = restartLog.withLock { $0.isFlapping }
        let services = config.services.map { makeService($0, quiet) }
        current.withLock { $0 = services }
        let group = GroupRunner(interruptDuration: config.groupInterruptTimeout)
        let runners = services.map { $0.makeRunner() }
        for runner in runners { try? group.add(runner) }
        let results = Arrivals()
        try? group.runAsync { results.put($0) }
        let key = token.addHandler { group.interrupt() }
        return Run(services: services, runners: runners, results: results, quiet: quiet, interruptKey: key)
    }

    /// The results of one run as they arrive: the group's runners put them in, from whichever
    /// thread each stopped on, and the group's task takes them out one at a time, each in a
    /// continuation of its own. The group's task waits here for as long as the group runs, and a
    /// task keeps the memory of its deepest stack of async frames for good; an `AsyncStream`
    /// (about 0.5 KB of frames while iterated) took every group's task into a second 1 KB block of
    /// the task allocator.
    private final class Arrivals: Sendable {
        private struct State {
            var results: [RunResult] = []
            var waiting: UnsafeContinuation<RunResult, Never>?
        }

        private let state = Mutex(State())

        func put(_ result: RunResult) {
            let waiting = state.withLock { state -> UnsafeContinuation<RunResult, Never>? in
                guard let waiting = state.waiting else {
                    state.results.append(result)
                    return nil
                }
                state.waiting = nil
                return waiting
            }
            waiting?.resume(returning: result)
        }

        /// Resumes `continuation` with the next result: now if one has arrived, else once it does.
        func next(_ continuation: UnsafeContinuation<RunResult, Never>) {
            let result = state.withLock { state -> RunResult? in
                if state.results.isEmpty {
                    state.waiting = continuation
                    return nil
                }
                return state.results.removeFirst()
            }
            if let result { continuation.resume(returning: result) }
        }
    }

    private func end(_ run: Run, _ token: CancellationToken) {
        if let key = run.interruptKey { token.removeHandler(key) }
        current.withLock { $0 = [] }
    }

    // The two helpers below keep their strings out of the frame of `runOnce` (see `decide`).

    @inline(never)
    private func logFirstStop(_ result: RunResult) {
        logger.info("group \(config.name): service \(result.runnerID) \(describe(result)); stopping the others")
    }

    /// Kills the service that produced `result` if it did not stop within its timeout (SIGKILL to
    /// its process group), and returns whether it counts as killed: that, or killed by a forced
    /// stop before its limit ran out.
    @inline(never)
    private func killIfTimedOut(_ result: RunResult, services: [ProcessService]) -> Bool {
        if let timeout = result.timeout {
            logger.error("group \(config.name): service \(result.runnerID) did not stop within \(DurationText.format(timeout.duration)); sending SIGKILL to its process group")
            services.first { $0.config.name == result.runnerID }?.kill()
            return true
        }
        if case .killed? = result.error as? ServiceFailure { return true }
        return false
    }

    /// A summary's period as people say it: whole seconds, or whole milliseconds under a second.
    static func roughly(_ period: Duration) -> String {
        let milliseconds = Int64((period / .milliseconds(1)).rounded())
        return DurationText.format(milliseconds >= 1000 ? .seconds((milliseconds + 500) / 1000) : .milliseconds(milliseconds))
    }

    private func describe(_ result: RunResult) -> String {
        switch result.error {
        case nil: "exited with status 0"
        case let failure as ServiceFailure: "\(failure)"
        case let spawn as SpawnError: "failed to start: \(spawn)"
        case let timeout as TimeoutError: "did not stop within \(DurationText.format(timeout.duration))"
        case let error?: "failed: \(error)"
        }
    }
}
