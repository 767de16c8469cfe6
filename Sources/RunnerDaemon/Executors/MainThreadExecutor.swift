@_spi(ExperimentalCustomExecutors) @_spi(ExperimentalScheduling) import _Concurrency
import Glibc
import Runner

/// The main actor's executor in the runnerd process: the main thread, running one job at a time
/// in the order they came, and sleeping without a timeout while there is none. It must be
/// created on the main thread.
///
/// It replaces the platform's main executor, libdispatch's main queue, whose jobs run on
/// libdispatch's worker threads and so start its thread pool (see `DaemonExecutors`).
final class MainThreadExecutor: MainExecutor, SchedulingExecutor, @unchecked Sendable {
    // @unchecked: `jobs` and `stopped` are read and written only while `mutex` is held.

    /// The thread that created the executor: the process's main thread.
    private let mainThread = pthread_self()
    private let mutex = PThreadMutex()
    private let jobAvailable = PThreadCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false

    /// Runs jobs on the calling thread, which must be the main thread, until `stop()`.
    func run() throws {
        precondition(isMainThread, "the main executor runs on the main thread only")
        mutex.lock()
        var batch: [UnownedJob] = []
        while !stopped {
            if jobs.isEmpty {
                jobAvailable.wait(mutex)
                continue
            }
            swap(&batch, &jobs)
            mutex.unlock()
            for job in batch {
                job.runSynchronously(on: asUnownedSerialExecutor())
            }
            batch.removeAll(keepingCapacity: true)
            mutex.lock()
        }
        mutex.unlock()
    }

    /// Makes `run()` return once the job it is running, if any, has finished.
    func stop() {
        mutex.lock()
        stopped = true
        jobAvailable.signal()
        mutex.unlock()
    }

    /// Queues `job` for the main thread; never blocks.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        mutex.lock()
        jobs.append(job)
        jobAvailable.signal()
        mutex.unlock()
    }

    /// Queues `job` for the main thread once `delay` has passed (`Task.sleep` on the main actor).
    func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        let job = UnownedJob(job)
        runOnTimerThread(after: delay) { [self] in enqueue(ExecutorJob(job)) }
    }

    func checkIsolated() {
        precondition(isMainThread, "expected to run on the main actor, on the main thread")
    }

    func isIsolatingCurrentContext() -> Bool? {
        isMainThread
    }

    private var isMainThread: Bool { pthread_equal(pthread_self(), mainThread) != 0 }
}
