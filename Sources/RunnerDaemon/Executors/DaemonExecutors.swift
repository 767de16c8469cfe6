@_spi(ExperimentalCustomExecutors) import _Concurrency
import Glibc
import Runner

/// The executors of the runnerd process, installed before its first task.
///
/// On Linux, Swift's default executors are libdispatch's global and main queues. libdispatch
/// keeps a manager thread that, once any worker of its thread pool has started, wakes every
/// second for good to watch the pool; so an idle daemon would be woken once a second although
/// nothing happens. runnerd's own threads (the event loop, the log writer, the elastic executor
/// and the timer thread) sleep without a timeout while idle, so the daemon runs its `async`
/// code on those instead: the main actor on the main thread (`MainThreadExecutor`), everything
/// else on Runner's elastic executor, and `Task.sleep` on Runner's timer thread.
///
/// The hooks are the Swift 6.3 runtime's experimental custom-executor interface
/// (`_createExecutors`, `ExecutorFactory`, `SchedulingExecutor`).
public enum DaemonExecutors {
    /// Installs the executors, runs `body` as the first task, and exits with status 0 when it
    /// returns. Call it from a synchronous `main`, before anything else starts a task: the main
    /// thread then becomes the main actor's and never returns.
    public static func run(_ body: @escaping @Sendable () async -> Void) -> Never {
        holdStopAndReloadSignals()
        _createExecutors(factory: DaemonExecutorFactory.self)
        Task {
            await body()
            exit(0)
        }
        do {
            try DaemonExecutorFactory.main.run()
        } catch {
            fatalError("the main executor failed: \(error)")
        }
        exit(0)
    }
}

extension DaemonExecutors {
    /// The signals systemd and operators send: SIGHUP (reload), SIGTERM and SIGINT (stop).
    static let stopAndReloadSignals = [SIGHUP, SIGTERM, SIGINT]

    /// Blocks SIGHUP, SIGTERM and SIGINT in the calling thread, the first one, so that every
    /// thread started afterwards has them blocked too: sent while the config is still being
    /// parsed, they stay pending rather than killing runnerd (a SIGHUP in the first ~10 ms once
    /// ended it with status 129). Runner's signal thread unblocks each of them once the daemon
    /// subscribes to it, and a pending one is delivered then. Children get an empty mask and
    /// default dispositions from the spawn (`runnerd_spawn`).
    static func holdStopAndReloadSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for number in stopAndReloadSignals { sigaddset(&set, number) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Undoes `holdStopAndReloadSignals()` in the calling thread, for a command that never
    /// subscribes to them (`runnerd check`): a pending SIGTERM then ends it as it always would.
    public static func releaseStopAndReloadSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for number in stopAndReloadSignals { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

/// What `_createExecutors` asks for the process's executors.
enum DaemonExecutorFactory: ExecutorFactory {
    /// Created by `_createExecutors`, on the main thread.
    static let main = MainThreadExecutor()

    static var mainExecutor: any MainExecutor { main }
    /// Runner's own executor, so that a task without a preference and a runner's task run on the
    /// same executor, and no job has to hop from one to the other.
    static var defaultExecutor: any TaskExecutor { ElasticExecutor.shared }
}
