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

/// What `_createExecutors` asks for the process's executors.
enum DaemonExecutorFactory: ExecutorFactory {
    /// Created by `_createExecutors`, on the main thread.
    static let main = MainThreadExecutor()

    static var mainExecutor: any MainExecutor { main }
    /// Runner's own executor, so that a task without a preference and a runner's task run on the
    /// same executor, and no job has to hop from one to the other.
    static var defaultExecutor: any TaskExecutor { ElasticExecutor.shared }
}
