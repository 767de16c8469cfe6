import Synchronization

/// A context-style cancellation signal: the Swift counterpart of a Go `context.Context`'s `Done()`.
///
/// A token starts live and is cancelled at most once: by `cancel()`, by its timeout, by its
/// parent, or (for `signals(_:)`) by a Unix signal. Cancellation is permanent and every observer
/// learns of it: `isCancelled` turns true, handlers run once, and `wait()` returns.
///
/// Tokens are cheap, thread-safe and independent of Swift's cooperative pool: timeouts fire on
/// the library's timer thread and handlers run on the thread that cancels (for timeouts and
/// signals, a thread of the library's elastic executor). Handlers should return quickly.
public final class CancellationToken: Sendable {
    private struct State {
        var cause: CancellationCause?
        var handlers = RegistrationList<@Sendable () -> Void>()
        var waiters = RegistrationList<UnsafeContinuation<Void, Never>>()
        var timer: TimerQueue.Handle?
        /// The parent and this token's registration there, removed once it no longer matters.
        var parentLink: (parent: CancellationToken, key: UInt64)?
    }

    private let state = Mutex(State())

    /// A token that is cancelled only by `cancel()`.
    public init() {}

    /// A token that cancels itself once `timeout` has passed, measured on the monotonic clock.
    public convenience init(timeout: Duration) {
        self.init()
        startTimer(timeout)
    }

    deinit {
        let (timer, link) = state.withLock { ($0.timer, $0.parentLink) }
        if let timer { TimerQueue.shared.cancel(timer) }
        if let link { link.parent.removeHandler(link.key) }
    }

    /// A token that is cancelled when this one is, or when its own `timeout` runs out, or by
    /// its own `cancel()`. Cancelling the child never affects the parent. A child of an already
    /// cancelled token starts cancelled. The parent does not keep a child alive: a child that is
    /// released simply unregisters.
    public func child(timeout: Duration? = nil) -> CancellationToken {
        let child = CancellationToken()
        let key = addHandler { [weak child] in child?.cancel(cause: .parent) }
        if let key {
            // If the parent is cancelled right now, the link is stale but harmless: removing a
            // handler that already ran does nothing.
            child.state.withLock { $0.parentLink = (self, key) }
        }
        if let timeout { child.startTimer(timeout) }
        return child
    }

    /// Cancels the token. Only the first call has an effect: it runs the handlers, in the order
    /// they were registered, on the calling thread, and then wakes every waiter.
    public func cancel() {
        cancel(cause: .explicit)
    }

    /// Cancels the token, recording why. Only the first cancellation's cause is kept.
    public func cancel(cause: CancellationCause) {
        let taken = state.withLock { state -> (handlers: [@Sendable () -> Void], waiters: [UnsafeContinuation<Void, Never>], timer: TimerQueue.Handle?, link: (parent: CancellationToken, key: UInt64)?)? in
            guard state.cause == nil else { return nil }
            state.cause = cause
            defer {
                state.timer = nil
                state.parentLink = nil
            }
            return (state.handlers.removeAll(), state.waiters.removeAll(), state.timer, state.parentLink)
        }
        guard let taken else { return }
        if let timer = taken.timer { TimerQueue.shared.cancel(timer) }
        if let link = taken.link { link.parent.removeHandler(link.key) }
        for handler in taken.handlers { handler() }
        for waiter in taken.waiters { waiter.resume() }
    }

    /// Whether the token has been cancelled. Once true, it stays true.
    public var isCancelled: Bool {
        state.withLock { $0.cause != nil }
    }

    /// Why the token was cancelled, or nil while it is live.
    public var cause: CancellationCause? {
        state.withLock { $0.cause }
    }

    /// Runs `handler` once when the token is cancelled, or at once, on the calling thread, if it
    /// already is. The handler stays registered for the token's lifetime; use `addHandler(_:)`
    /// when the registration must end earlier.
    public func onCancel(_ handler: @escaping @Sendable () -> Void) {
        _ = addHandler(handler)
    }

    /// Registers `handler` like `onCancel(_:)` and returns a key for `removeHandler(_:)`, or nil
    /// when the token was already cancelled and the handler has already run.
    public func addHandler(_ handler: @escaping @Sendable () -> Void) -> UInt64? {
        let key = state.withLock { state -> UInt64? in
            state.cause == nil ? state.handlers.add(handler) : nil
        }
        if key == nil { handler() }
        return key
    }

    /// Unregisters a handler before it runs. Removing one that has run, or was removed, does nothing.
    public func removeHandler(_ key: UInt64) {
        _ = state.withLock { $0.handlers.remove(key) }
    }

    /// Suspends until the token is cancelled, without holding a thread. It also returns early
    /// if the calling `Task` is cancelled, so check `isCancelled` when that difference matters.
    public func wait() async {
        let key = state.withLock { state -> UInt64? in
            state.cause == nil ? state.waiters.reserveKey() : nil
        }
        guard let key else { return }
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let stored = state.withLock { $0.waiters.fill(key, with: continuation) }
                // Not stored: cancelled, or the task was cancelled, before we got here.
                if !stored { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.remove(key) }?.resume()
        }
    }

    /// A token that is cancelled by the first of `signals` the process receives, the Swift
    /// counterpart of Go's `signal.NotifyContext`.
    ///
    /// From this call on, those signals no longer terminate the process: a handler records them
    /// (with `sigaction`, so it holds whichever thread the kernel picks), and a dedicated thread
    /// cancels the token. A signal that arrives before anyone waits is not lost; the token simply
    /// is cancelled already. The handlers stay installed for the life of the process.
    public static func signals(_ signals: [Int32]) -> CancellationToken {
        self.signals(signals, onRepeat: { _ in })
    }

    /// Like `signals(_:)`, and calls `onRepeat` for every one of those signals received after
    /// the first, for example to force a stop on a second SIGTERM. `onRepeat` runs on the
    /// library's signal thread and should return quickly.
    public static func signals(
        _ signals: [Int32],
        onRepeat: @escaping @Sendable (Int32) -> Void
    ) -> CancellationToken {
        let token = CancellationToken()
        let subscription = SignalSubscription(signals) { [weak token] number in
            guard let token else { return }
            if token.isCancelled {
                onRepeat(number)
            } else {
                token.cancel(cause: .signal(number))
            }
        }
        token.retainedSubscription.withLock { $0 = subscription }
        return token
    }

    /// Keeps a signal subscription alive for as long as the token itself.
    private let retainedSubscription = Mutex<SignalSubscription?>(nil)

    private func startTimer(_ timeout: Duration) {
        let handle = TimerQueue.shared.schedule(after: timeout) { [weak self] in
            guard let token = self else { return }
            // Handlers run user code, so they run on the elastic executor, never on the timer thread.
            ElasticExecutor.shared.execute { token.cancel(cause: .timeout(timeout)) }
        }
        let keep = state.withLock { state -> Bool in
            guard state.cause == nil else { return false }
            state.timer = handle
            return true
        }
        if !keep { TimerQueue.shared.cancel(handle) }
    }
}
