import Logging
public import Systemd

/// runnerd's own log lines (not its services' output, which `LogWriter` carries): where they go,
/// and the queue that keeps a stalled destination from stalling supervision.
///
/// Every log call in runnerd (on the event loop, the signal path, the supervisors) only queues
/// the line; the queue's writer thread (`runnerd-ownlogs`) writes it to journald or standard
/// error. While journald is stopped or standard error is not being read, at most `capacity`
/// lines wait; later ones are dropped, and `dropped N log lines while journald was not reading`
/// is logged once the destination takes lines again. No decision waits for its log line.
public struct DaemonLogging: Sendable {
    /// How long ``flushBeforeExit()`` waits for the last lines: long enough for a journald that
    /// is merely busy, short enough that a stopped one does not eat into systemd's stop timeout.
    public static let exitFlushTimeout: Duration = .seconds(1)

    /// The queue every logger of the process writes through.
    public let queue: LogQueue

    private init(queue: LogQueue) {
        self.queue = queue
    }

    /// Bootstraps swift-log for the process: handlers from
    /// ``Journal/handlerFactory(identifier:destination:logLevel:queue:)`` with the identifier
    /// `runnerd` and the automatic destination, all writing through one ``LogQueue`` of
    /// `queueCapacity` lines.
    ///
    /// Call it once, before the first `Logger` is made (`LoggingSystem.bootstrap` traps on a
    /// second call); keep the result to flush before exiting.
    public static func bootstrap(queueCapacity: Int = LogQueue.defaultCapacity) -> DaemonLogging {
        let queue = LogQueue(capacity: queueCapacity, destination: .automatic, threadName: "runnerd-ownlogs")
        LoggingSystem.bootstrap(Journal.handlerFactory(identifier: "runnerd", queue: queue))
        return DaemonLogging(queue: queue)
    }

    /// Waits, at most ``exitFlushTimeout``, until every line logged so far is written, so that
    /// the last ones (`stopped; exit code N`) are not lost when the process exits. Blocks the
    /// calling thread; call it after the daemon has stopped, right before exiting.
    ///
    /// - Returns: false when the destination was still stalled at the timeout; the lines left
    ///   in the queue are then lost with the process.
    @discardableResult
    public func flushBeforeExit() -> Bool {
        queue.flush(timeout: Self.exitFlushTimeout)
    }
}
