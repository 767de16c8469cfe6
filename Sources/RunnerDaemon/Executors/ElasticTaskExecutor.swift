@_spi(ExperimentalCustomExecutors) @_spi(ExperimentalScheduling) import _Concurrency
@_spi(RunnerdInternals) import Runner

/// Swift's default executor in the runnerd process: Runner's elastic executor, with the
/// scheduling that `Task.sleep` needs from a default executor.
final class ElasticTaskExecutor: TaskExecutor, SchedulingExecutor {
    static let shared = ElasticTaskExecutor()

    /// Runs `job` on the elastic executor's threads; never blocks.
    func enqueue(_ job: consuming ExecutorJob) {
        ElasticExecutor.shared.enqueue(job)
    }

    /// Enqueues `job` once `delay` has passed (`Task.sleep` off the main actor).
    func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        let job = UnownedJob(job)
        runOnTimerThread(after: DaemonExecutorFactory.duration(delay)) { ElasticExecutor.shared.enqueue(ExecutorJob(job)) }
    }
}
