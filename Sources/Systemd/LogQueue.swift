import Logging

/// A bounded queue of log events and the thread that writes them, so that a stalled log
/// destination (journald stopped, a standard error nobody reads) never blocks the code that logs.
///
/// ``QueuedLogHandler`` puts events in; one writer thread of the queue's own (a plain pthread, not
/// Swift concurrency or libdispatch) takes them out in order and hands each to the handler it was
/// logged through, which then blocks as long as it must. Every ``QueuedLogHandler`` of a process
/// usually shares one queue, so events from all loggers stay in the order they were logged.
///
/// ```swift
/// let logQueue = LogQueue(destination: .automatic)
/// LoggingSystem.bootstrap(Journal.handlerFactory(identifier: "myserver", queue: logQueue))
/// // ... on the way out:
/// logQueue.flush(timeout: .seconds(1))
/// ```
///
/// **Bounded, and lossy by design.** At most ``capacity`` events wait at a time, the one being
/// written included. A later event finds the queue full and is dropped and counted, which costs
/// the caller nothing more than a full one. Once the writer gets through again, it writes, at the
/// place in the stream where the lines went missing, one warning through the same destination:
/// `dropped N log lines while journald was not reading` (the ending is ``stallDescription``).
///
/// **Idle costs nothing.** The writer sleeps on a condition variable without a timeout while the
/// queue is empty: no periodic wake-ups.
///
/// The writer thread lives until the queue is released (no ``QueuedLogHandler`` and no other
/// reference left); it then writes what is still queued and ends.
public final class LogQueue: Sendable {
    /// The capacity used unless one is given: 1,000 events.
    public static let defaultCapacity = 1000

    /// The most events that wait at a time, the one being written included.
    public let capacity: Int

    /// How the dropped-lines warning ends: `dropped N log lines while <stallDescription>`.
    public let stallDescription: String

    private let core: Core

    /// A queue for up to `capacity` events, whose dropped-lines warning ends with
    /// `stallDescription` (for example `"journald was not reading"`). Starts the writer thread,
    /// named `threadName` (Linux keeps 15 bytes of it).
    ///
    /// - Precondition: `capacity` is at least 1.
    public init(capacity: Int = LogQueue.defaultCapacity, stallDescription: String, threadName: String = "log-queue") {
        precondition(capacity >= 1, "LogQueue(capacity: \(capacity)) has no room for an event; pass a capacity of at least 1")
        self.capacity = capacity
        self.stallDescription = stallDescription
        let core = Core(capacity: capacity, stallDescription: stallDescription)
        self.core = core
        DetachedThread.start(name: threadName) { core.writeUntilClosed() }
    }

    /// A queue whose dropped-lines warning names `destination` (resolved as
    /// ``LogDestination/resolved()`` does): `while journald was not reading` for
    /// ``LogDestination/journal``, `while standard error was not being read` otherwise. Pass the
    /// destination given to ``Journal/handlerFactory(identifier:destination:logLevel:queue:)``.
    public convenience init(
        capacity: Int = LogQueue.defaultCapacity, destination: LogDestination = .automatic,
        threadName: String = "log-queue"
    ) {
        let stall = destination.resolved() == .journal ? "journald was not reading" : "standard error was not being read"
        self.init(capacity: capacity, stallDescription: stall, threadName: threadName)
    }

    deinit {
        core.close()
    }

    /// Waits, at most `timeout`, until every event put in before this call has been written,
    /// and any dropped-lines warning owed for that stretch too. For exit paths, so that the last
    /// lines (`stopped; exit code 0`) are not lost when the process exits.
    ///
    /// Blocks the calling thread; never call it from inside a handler the queue writes to (the
    /// writer would wait for itself until the timeout). Events put in during the wait are not
    /// waited for.
    ///
    /// - Returns: true when everything was written; false when the timeout passed first (the
    ///   destination is still stalled), in which case the remaining events stay queued.
    @discardableResult
    public func flush(timeout: Duration) -> Bool {
        core.flush(timeout: timeout)
    }

    /// How many events were dropped so far, because the queue was full.
    public var droppedCount: Int {
        core.lock.withLock { core.droppedTotal }
    }

    /// Queues `event` for `handler`, or drops and counts it when the queue is full. Never blocks
    /// beyond a short mutex.
    func enqueue(_ event: LogEvent, for handler: any LogHandler) {
        core.enqueue(Entry(handler: handler, event: event))
    }

    /// One queued event and the handler to write it with.
    struct Entry: Sendable {
        let handler: any LogHandler
        let event: LogEvent
        /// How many events were dropped just before this one was queued.
        var droppedBefore = 0
    }

    /// The state the callers and the writer thread share, guarded by `lock`.
    ///
    /// `@unchecked Sendable`: every `var` is read and written only while holding `lock`.
    private final class Core: @unchecked Sendable {
        let lock = PThreadLock()
        /// The writer sleeps on it while there is nothing to write.
        let work: PThreadLock.Condition
        /// ``flush(timeout:)`` sleeps on it until enough has been written.
        let progress: PThreadLock.Condition
        let capacity: Int
        let stallDescription: String

        /// Queued and not yet taken by the writer, oldest first.
        var pending: [Entry] = []
        /// Queued and not yet written: `pending` plus what the writer holds.
        var outstanding = 0
        /// Dropped since the last event that was queued; reported after it.
        var droppedSinceQueued = 0
        var queuedTotal = 0
        var writtenTotal = 0
        var droppedTotal = 0
        var droppedReported = 0
        var writerSleeping = false
        var flushersWaiting = 0
        var closed = false

        init(capacity: Int, stallDescription: String) {
            self.capacity = capacity
            self.stallDescription = stallDescription
            work = lock.makeCondition()
            progress = lock.makeCondition()
        }

        func enqueue(_ entry: Entry) {
            var entry = entry
            lock.withLock {
                guard outstanding < capacity else {
                    droppedSinceQueued += 1
                    droppedTotal += 1
                    return
                }
                entry.droppedBefore = droppedSinceQueued
                droppedSinceQueued = 0
                pending.append(entry)
                outstanding += 1
                queuedTotal += 1
                if writerSleeping {
                    writerSleeping = false
                    work.signal()
                }
            }
        }

        func close() {
            lock.withLock {
                closed = true
                if writerSleeping {
                    writerSleeping = false
                    work.signal()
                }
            }
        }

        /// The writer thread's body: take everything queued, write it in order outside the lock,
        /// repeat; sleep without a timeout when there is nothing; end once closed and empty.
        func writeUntilClosed() {
            // Swapped with `pending` each round, so that both arrays keep the storage they grew
            // and a busy queue allocates nothing once warm.
            var batch: [Entry] = []
            // The handler of the latest event written: a report of lines dropped after every
            // queued event goes through it.
            var lastHandler: (any LogHandler)?
            while true {
                let trailingDrops: Int? = lock.withLock {
                    while pending.isEmpty && droppedSinceQueued == 0 {
                        if closed { return nil }
                        writerSleeping = true
                        work.wait()
                    }
                    writerSleeping = false
                    swap(&batch, &pending)
                    let dropped = droppedSinceQueued
                    droppedSinceQueued = 0
                    return dropped
                }
                guard let trailingDrops else { return }
                for entry in batch {
                    if entry.droppedBefore > 0 {
                        report(dropped: entry.droppedBefore, through: entry.handler)
                    }
                    entry.handler.log(event: entry.event)
                    lastHandler = entry.handler
                    lock.withLock {
                        outstanding -= 1
                        writtenTotal += 1
                        if flushersWaiting > 0 { progress.broadcast() }
                    }
                }
                batch.removeAll(keepingCapacity: true)
                // Drops need a queued event before them, so a handler has been seen by now.
                if trailingDrops > 0, let lastHandler {
                    report(dropped: trailingDrops, through: lastHandler)
                }
            }
        }

        /// Writes the dropped-lines warning through `handler`, then counts it as reported.
        private func report(dropped count: Int, through handler: any LogHandler) {
            let lines = count == 1 ? "1 log line" : "\(count) log lines"
            handler.log(event: LogEvent(
                level: .warning, message: "dropped \(lines) while \(stallDescription)", metadata: nil,
                source: nil, file: #fileID, function: #function, line: #line))
            lock.withLock {
                droppedReported += count
                if flushersWaiting > 0 { progress.broadcast() }
            }
        }

        func flush(timeout: Duration) -> Bool {
            let deadline = MonotonicClock.nowNanoseconds() &+ timeout.nanosecondsClampedToZero
            return lock.withLock {
                let written = queuedTotal
                let reported = droppedTotal
                while writtenTotal < written || droppedReported < reported {
                    flushersWaiting += 1
                    let signalled = progress.wait(until: deadline)
                    flushersWaiting -= 1
                    if !signalled && (writtenTotal < written || droppedReported < reported) { return false }
                }
                return true
            }
        }
    }
}

extension Duration {
    /// Whole nanoseconds, with a negative duration as zero and a huge one capped at a century, so
    /// that deadline arithmetic cannot trap.
    fileprivate var nanosecondsClampedToZero: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let century: Int64 = 100 * 365 * 24 * 3600
        if seconds >= century { return UInt64(century) * 1_000_000_000 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}
