@_spi(ExperimentalCustomExecutors) @_spi(ExperimentalScheduling) import _Concurrency
import Glibc
@_spi(RunnerdInternals) import Runner

/// The main actor's executor in the runnerd process: the main thread, running one job at a time
/// in the order they came, and sleeping without a timeout while there is none. It must be
/// created on the main thread.
///
/// It replaces the platform's main executor, libdispatch's main queue, whose jobs run on
/// libdispatch's worker threads and so start its thread pool (see `DaemonExecutors`).
final class MainThreadExecutor: MainExecutor, SchedulingExecutor, @unchecked Sendable {
    // @unchecked: `jobs` and `stopped` are read and written only while `mutex` is held, and the
    // pthread objects are used only through their pointers, as pthreads requires.

    /// The thread that created the executor: the process's main thread.
    private let mainThread = pthread_self()
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let jobAvailable: UnsafeMutablePointer<pthread_cond_t>
    private var jobs: [UnownedJob] = []
    private var stopped = false

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        jobAvailable = .allocate(capacity: 1)
        jobAvailable.initialize(to: pthread_cond_t())
        pthread_cond_init(jobAvailable, nil)
    }

    deinit {
        pthread_cond_destroy(jobAvailable)
        jobAvailable.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs jobs on the calling thread, which must be the main thread, until `stop()`.
    func run() throws {
        precondition(isMainThread, "the main executor runs on the main thread only")
        pthread_mutex_lock(mutex)
        var batch: [UnownedJob] = []
        while !stopped {
            if jobs.isEmpty {
                pthread_cond_wait(jobAvailable, mutex)
                continue
            }
            swap(&batch, &jobs)
            pthread_mutex_unlock(mutex)
            for job in batch {
                job.runSynchronously(on: asUnownedSerialExecutor())
            }
            batch.removeAll(keepingCapacity: true)
            pthread_mutex_lock(mutex)
        }
        pthread_mutex_unlock(mutex)
    }

    /// Makes `run()` return once the job it is running, if any, has finished.
    func stop() {
        pthread_mutex_lock(mutex)
        stopped = true
        pthread_cond_signal(jobAvailable)
        pthread_mutex_unlock(mutex)
    }

    /// Queues `job` for the main thread; never blocks.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(mutex)
        jobs.append(job)
        pthread_cond_signal(jobAvailable)
        pthread_mutex_unlock(mutex)
    }

    /// Queues `job` for the main thread once `delay` has passed (`Task.sleep` on the main actor).
    func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        let job = UnownedJob(job)
        runOnTimerThread(after: DaemonExecutorFactory.duration(delay)) { [self] in enqueue(ExecutorJob(job)) }
    }

    func checkIsolated() {
        precondition(isMainThread, "expected to run on the main actor, on the main thread")
    }

    func isIsolatingCurrentContext() -> Bool? {
        isMainThread
    }

    private var isMainThread: Bool { pthread_equal(pthread_self(), mainThread) != 0 }
}
