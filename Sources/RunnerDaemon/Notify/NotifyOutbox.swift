import Logging
import RunnerdConfig
import Synchronization
import Systemd

/// Where the daemon's own notify messages (`READY=1`, `STATUS=`, `STOPPING=1`, `RELOADING=1`,
/// `WATCHDOG=1`, `EXTEND_TIMEOUT_USEC=`) go to systemd, without ever waiting for systemd.
///
/// ``post(_:)`` encodes the message at once and hands it to the event loop; the loop sends it
/// with a non-blocking ``NotifyConnection``. When systemd's notify queue is full (a busy PID 1, or
/// a socket that is bound and never read) the send would block: the outbox then keeps the
/// message, and what follows, in a ``NotifyQueue`` (ordered messages kept in order, only the
/// latest `STATUS=`, one `WATCHDOG=1`, bounded), watches the socket for writability, and sends
/// the rest in order once systemd has read. It stops watching as soon as the queue is empty, so
/// it costs no wake-ups while idle, and none while blocked beyond the one that says systemd read.
///
/// - Never blocks: not the poster (which encodes, takes a lock held for an append, and on the
///   loop makes non-blocking sends), and not the loop.
/// - Order: messages go out in the order their ``post(_:)`` calls were made; on the loop's
///   thread a post is sent before it returns. Superseded statuses and extra pings are the only
///   ones dropped while blocked, and past the queue's bound the oldest ordered message (see
///   ``NotifyQueue``).
/// - Logging: a warning when systemd stops reading, at most one per `warningInterval` (30 s),
///   with how many messages wait; a notice when the queue has drained after such a warning. A
///   message the kernel refuses (not a full queue: systemd's socket is gone) is dropped and
///   logged, at most once per `warningInterval` with a count of the others. A message that
///   cannot be encoded (a programming error) is dropped and logged by `post`, every time.
/// - The watchdog: post `.watchdog` alone, from the place that decides a ping is due. While
///   systemd is not reading, pings collapse into the one already pending: a ping that cannot
///   reach systemd keeps nothing alive, and one is enough once it reads again.
/// - Without a notify socket (``init(connection:loop:logger:capacity:warningInterval:)`` with
///   `nil`), everything is a no-op.
/// - Lifetime: while blocked, the loop holds the outbox through its writability handler. The
///   daemon keeps one outbox for its whole life.
final class NotifyOutbox: @unchecked Sendable {
    // @unchecked: `queue`, `blocked`, the log bookkeeping and `flushWaiters` are touched only on
    // the loop thread (every entry point runs there or hops there with `execute`); `incoming` is
    // guarded by its Mutex; `connection`, `loop`, `logger` and the settings are fixed at init;
    // the published counts are atomics.

    /// How the outbox is doing, as last published by the loop; for tests and status output.
    struct Snapshot: Sendable, Equatable {
        /// Messages waiting to be sent.
        var pending: Int
        /// Whether the last send found systemd's queue full (the socket is watched for writability).
        var blocked: Bool
        /// Ordered messages dropped because the queue was full (see ``NotifyQueue``).
        var dropped: Int
        /// Send attempts so far, successful or not: it stays still while blocked and idle, which
        /// shows that the outbox does not poll.
        var attempts: Int
    }

    private let connection: NotifyConnection?
    private let loop: EventLoop
    private let logger: Logger
    private let warningInterval: Duration

    private var queue: NotifyQueue
    /// Posted messages the loop has not taken into `queue` yet.
    private let incoming = Mutex<[NotifyQueue.Message]>([])
    private var blocked = false
    private var blockedSince = ContinuousClock.now
    /// Messages sent since the current block began; for the drained notice.
    private var sentSinceBlocked = 0
    /// `queue.droppedCount` when the current block began: messages are only dropped while
    /// blocked, and each block's log lines name that block's drops.
    private var droppedBeforeBlock = 0
    private var lastWarning: ContinuousClock.Instant?
    /// Whether a warning was logged for the current block, so that its end is logged too.
    private var warnedThisBlock = false
    private var lastFailureLog: ContinuousClock.Instant?
    private var failuresNotLogged = 0
    private var flushWaiters: [(id: UInt64, timer: EventLoop.TimerID, done: CheckedContinuation<Bool, Never>)] = []
    private var nextFlushID: UInt64 = 0

    private let publishedPending = Atomic<Int>(0)
    private let publishedBlocked = Atomic<Bool>(false)
    private let publishedDropped = Atomic<Int>(0)
    private let publishedAttempts = Atomic<Int>(0)
    private var attempts = 0

    /// An outbox that sends through `connection` from `loop`, or does nothing when `connection`
    /// is `nil` (no `NOTIFY_SOCKET`).
    ///
    /// - Parameters:
    ///   - capacity: The most ordered messages kept while systemd is not reading (see
    ///     ``NotifyQueue``).
    ///   - warningInterval: The least time between two warnings that systemd is not reading, and
    ///     between two logged send failures.
    init(
        connection: NotifyConnection?, loop: EventLoop, logger: Logger,
        capacity: Int = 4096, warningInterval: Duration = .seconds(30)
    ) {
        self.connection = connection
        self.loop = loop
        self.logger = logger
        self.queue = NotifyQueue(capacity: capacity)
        self.warningInterval = warningInterval
    }

    /// An outbox for the `NOTIFY_SOCKET` in `environment` (the daemon's own, from
    /// `ProcessEnvironment.current().variables`). Without one, a no-op outbox. With an address
    /// systemd could not have given, the error is logged and the outbox is a no-op as well.
    convenience init(environment: [String: String], loop: EventLoop, logger: Logger) {
        var connection: NotifyConnection?
        do {
            connection = try NotifyConnection(environment: environment)
        } catch {
            logger.warning("not notifying the service manager: \(error)")
        }
        self.init(connection: connection, loop: loop, logger: logger)
    }

    /// Whether messages go anywhere (there is a notify socket).
    var isEnabled: Bool { connection != nil }

    /// Queues `states` as one datagram and returns at once. Any thread, including the loop's.
    ///
    /// On the loop's thread the message is sent (or, while systemd is not reading, queued)
    /// before `post` returns, so it reaches systemd before anything the caller does next on the
    /// loop: a `STOPPING=1` posted before the first stop signal is in systemd's queue before that
    /// signal is sent. From another thread, the loop sends it on its next pass. Either way,
    /// messages go out in the order their `post` calls were made.
    ///
    /// The datagram is encoded here, so `RELOADING=1`'s `MONOTONIC_USEC` is the time of this
    /// call. A value that cannot be encoded (a `STATUS=` with a newline) is logged and dropped.
    func post(_ states: NotifyState...) {
        post(states)
    }

    /// The array form of ``post(_:)-(NotifyState...)``, with the same contract.
    func post(_ states: [NotifyState]) {
        guard connection != nil else { return }
        let message: NotifyQueue.Message
        do {
            message = try NotifyQueue.Message(states)
        } catch {
            logger.warning("cannot notify the service manager: \(error); message dropped")
            return
        }
        // Every post passes through `incoming`, whose lock orders posts from all threads. Whoever
        // makes it non-empty sees to it that the loop takes it: the loop itself at once, another
        // thread by handing the loop a take.
        let first = incoming.withLock { incoming in
            incoming.append(message)
            return incoming.count == 1
        }
        if loop.inLoop {
            takeIncoming()
        } else if first {
            loop.execute { [self] in
                takeIncoming()
            }
        }
    }

    /// The outbox's state as the loop last published it. Any thread; to see the effect of a
    /// `post` made just before, let the loop run first (for example, wait for an `execute`).
    var snapshot: Snapshot {
        Snapshot(
            pending: publishedPending.load(ordering: .acquiring),
            blocked: publishedBlocked.load(ordering: .acquiring),
            dropped: publishedDropped.load(ordering: .acquiring),
            attempts: publishedAttempts.load(ordering: .acquiring))
    }

    /// Messages waiting to be sent; ``snapshot``'s `pending`.
    var pendingCount: Int { snapshot.pending }

    /// Tries to send everything still waiting, for at most `timeout`, and returns whether the
    /// queue is empty. For the daemon's exit, so that a final `STOPPING=1` or `STATUS=` is not
    /// lost: call it after the last `post` and before the process exits.
    ///
    /// Waits on the loop, not on the socket: the loop sends as systemd reads, and a timer on the
    /// loop ends the wait. What is still queued at the timeout is logged as undelivered and stays
    /// queued. Returns `true` at once without a notify socket. Any thread; may be called more than
    /// once, also concurrently.
    func flush(timeout: Duration) async -> Bool {
        guard connection != nil else { return true }
        return await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
            loop.execute { [self] in
                startFlush(timeout: timeout, done: done)
            }
        }
    }

    // MARK: - On the loop

    /// Moves every posted message into the queue, in the order posted, and sends what it can.
    private func takeIncoming() {
        let messages = incoming.withLock { incoming in
            defer { incoming = [] }
            return incoming
        }
        guard !messages.isEmpty else { return }
        // One at a time: while systemd reads, each message is sent as it comes, and only a block
        // makes them wait and coalesce.
        for message in messages {
            queue.append(message)
            if !blocked { drain() }
        }
        if blocked { warnIfDue() }
        publish()
    }

    /// Sends from the front until the queue is empty or systemd's queue is full, and publishes
    /// the outcome.
    private func drain() {
        guard let connection else { return }
        while let message = queue.first {
            let result: NotifyConnection.SendResult
            attempts += 1
            do {
                result = try connection.trySend(message.datagram)
            } catch {
                queue.removeFirst()
                logFailure(error)
                continue
            }
            switch result {
            case .sent:
                queue.removeFirst()
                if blocked { sentSinceBlocked += 1 }
            case .wouldBlock:
                if !blocked {
                    blocked = true
                    blockedSince = .now
                    sentSinceBlocked = 0
                    droppedBeforeBlock = queue.droppedCount
                    loop.watchWritable(connection.fileDescriptor) { [self] in
                        drain()
                    }
                    warnIfDue()
                }
                publish()
                return
            }
        }
        if blocked {
            blocked = false
            loop.unwatchWritable(connection.fileDescriptor)
            if warnedThisBlock {
                warnedThisBlock = false
                let waited = DurationText.format(ContinuousClock.now - blockedSince)
                logger.notice(
                    "systemd reads its notify socket again after \(waited); sent the \(sentSinceBlocked) messages that waited\(droppedText())")
            }
        }
        // Published before a flush is told: whoever awaited it then reads the empty queue.
        publish()
        finishFlushes()
    }

    /// The rate-limited warning that systemd is not reading.
    private func warnIfDue() {
        let now = ContinuousClock.now
        if let lastWarning, now - lastWarning < warningInterval { return }
        lastWarning = now
        warnedThisBlock = true
        let address = connection?.address ?? ""
        logger.warning(
            "systemd is not reading its notify socket \(address): \(queue.count) messages waiting\(droppedText()); runnerd keeps supervising and sends them in order once systemd reads (only the latest STATUS is kept); check whether systemd (PID 1) is overloaded or hung")
    }

    private func droppedText() -> String {
        let dropped = queue.droppedCount - droppedBeforeBlock
        return dropped == 0 ? "" : " (\(dropped) older messages dropped past the limit of \(queue.capacity))"
    }

    private func logFailure(_ error: NotifyError) {
        let now = ContinuousClock.now
        if let lastFailureLog, now - lastFailureLog < warningInterval {
            failuresNotLogged += 1
            return
        }
        let earlier = failuresNotLogged == 0 ? "" : " (and \(failuresNotLogged) earlier messages dropped the same way)"
        lastFailureLog = now
        failuresNotLogged = 0
        logger.warning("cannot notify the service manager: \(error); message dropped\(earlier)")
    }

    private func startFlush(timeout: Duration, done: CheckedContinuation<Bool, Never>) {
        // Posts made before the flush first; then a send attempt, which costs one system call,
        // rather than a wait for the next wake-up.
        takeIncoming()
        drain()
        guard !queue.isEmpty else {
            done.resume(returning: true)
            return
        }
        let id = nextFlushID
        nextFlushID += 1
        let timer = loop.schedule(after: timeout) { [self] in
            guard let index = flushWaiters.firstIndex(where: { $0.id == id }) else { return }
            let waiter = flushWaiters.remove(at: index)
            logger.warning(
                "systemd did not read its notify socket in time: \(queue.count) messages were not delivered")
            waiter.done.resume(returning: false)
        }
        flushWaiters.append((id, timer, done))
    }

    private func finishFlushes() {
        guard !flushWaiters.isEmpty else { return }
        let waiters = flushWaiters
        flushWaiters = []
        for waiter in waiters {
            loop.cancelTimer(waiter.timer)
            waiter.done.resume(returning: true)
        }
    }

    private func publish() {
        publishedPending.store(queue.count, ordering: .releasing)
        publishedBlocked.store(blocked, ordering: .releasing)
        publishedDropped.store(queue.droppedCount, ordering: .releasing)
        publishedAttempts.store(attempts, ordering: .releasing)
    }
}
