/// Where a runner's task executes.
///
/// The default, `elastic`, suits every task, including ones that block their thread. Choose
/// `cooperative` only for large numbers of purely `async` tasks that never block (no `usleep`,
/// no blocking reads, no synchronous C loops); they then run on Swift's global concurrent
/// executor and skip one hop through the elastic pool.
public struct TaskPlacement: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Hashable {
        case elastic
        case cooperative
    }

    let kind: Kind

    /// A shared pool of OS threads that adds a thread whenever its threads stay blocked for
    /// more than 10 ms while work waits, as Go's scheduler does. Blocking a task here never
    /// starves Swift's cooperative pool or other runners. Spare threads retire after 5 s idle.
    public static let elastic = TaskPlacement(kind: .elastic)

    /// Swift's global concurrent executor (the cooperative pool, one thread per core). A task
    /// that blocks here holds one of those few threads.
    public static let cooperative = TaskPlacement(kind: .cooperative)

    /// `elastic` or `cooperative`.
    public var description: String {
        switch kind {
        case .elastic: "elastic"
        case .cooperative: "cooperative"
        }
    }

    /// Whether the elastic executor is the process's default executor too (runnerd makes it so).
    /// A process installs its executors before its first task, so this is read once rather
    /// than per task: comparing `globalConcurrentExecutor` retained and released the global
    /// executor for every runner started (see "GroupRunner: starting and stopping N runners"
    /// in BENCHMARKS.md).
    private static let elasticIsDefault = globalConcurrentExecutor === ElasticExecutor.shared

    /// Starts `runner`'s task as an unstructured task in this placement.
    ///
    /// Each closure here captures the runner alone. Passing a closure in, as `start(_:)` takes
    /// it, costs two more small allocations per runner (a context and a reabstraction thunk),
    /// about 0.7 MiB of peak RSS for 10,000 runners (guarded by "GroupRunner: starting and
    /// stopping N runners" in BENCHMARKS.md).
    func start(_ runner: Runner) {
        switch kind {
        case .elastic where !Self.elasticIsDefault:
            Task(executorPreference: ElasticExecutor.shared) { await runner.runTask() }
        case .elastic, .cooperative:
            Task { await runner.runTask() }
        }
    }

    /// Starts `body` as an unstructured task in this placement.
    func start(_ body: sending @escaping @isolated(any) () async -> Void) {
        switch kind {
        case .elastic where !Self.elasticIsDefault:
            Task(executorPreference: ElasticExecutor.shared, operation: body)
        case .elastic, .cooperative:
            // The elastic executor may be the process's default executor too (runnerd makes it
            // so). A task then runs on it without a preference, which would only add a record
            // to the task's memory.
            Task(operation: body)
        }
    }
}
