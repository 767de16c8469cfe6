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
    /// Whoever is told of the cancellation: a handler to call or a suspended waiter to resume.
    private enum Observer {
        case handler(@Sendable () -> Void)
        case waiter(UnsafeContinuation<Void, Never>)
    }

    /// The rarely needed parts, kept out of line so that a plain token stays small: large groups
    /// create one token per task.
    private final class Links: Sendable {
        let timer: TimerQueue.Handle?
        /// The parent and this token's registration there, removed once it no longer matters.
        let parent: (token: CancellationToken, key: UInt64)?
        /// The signal subscription of a `signals(_:)` token, alive as long as the token.
        let subscription: SignalSubscription?

        init(timer: TimerQueue.Handle? = nil, parent: (token: CancellationToken, key: UInt64)? = nil,
             subscription: SignalSubscription? = nil) {
            self.timer = timer
            self.parent = parent
            self.subscription = subscription
        }

        func release() {
            if let timer { TimerQueue.shared.cancel(timer) }
            if let parent { parent.token.removeHandler(parent.key) }
        }
    }

    private struct State {
        var cause: CancellationCause?
        var observers = RegistrationList<Observer>()
        var links: Links?
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
        state.withLock { $0.links }?.release()
    }

    /// A token that is cancelled when this one is, or when its own `timeout` runs out, or by
    /// its own `cancel()`. Cancelling the child never affects the parent. A child of an already
    /// cancelled token starts cancelled. The parent does not keep a child alive: a child that is
    /// released simply unregisters.
    public func child(timeout: Duration? = nil) -> CancellationToken {
        let child = CancellationToken()
        let key = addHandler { [weak child] in child?.cancel(cause: .parent) }
        // If the parent is being cancelled right now, the link is stale but harmless: removing a
        // handler that already ran does nothing.
        let parent = key.map { (token: self, key: $0) }
        if let timeout {
            child.startTimer(timeout, parent: parent)
        } else if let parent {
            child.attach(Links(parent: parent))
        }
        return child
    }

    /// Cancels the token. Only the first call has an effect: on the calling thread, it runs the
    /// handlers and wakes the waiters, in the order they were registered.
    public func cancel() {
        cancel(cause: .explicit)
    }

    /// Cancels the token, recording why. Only the first cancellation's cause is kept.
    public func cancel(cause: CancellationCause) {
        let taken = state.withLock { state -> (observers: [Observer], links: Links?)? in
            guard state.cause == nil else { return nil }
            state.cause = cause
            return (state.observers.removeAll(), state.links)
        }
        guard let taken else { return }
        taken.links?.release()
        for observer in taken.observers {
            switch observer {
            case .handler(let handler): handler()
            case .waiter(let waiter): waiter.resume()
            }
        }
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
    /// already is. The handler stays registered until then; use `addHandler(_:)` when the
    /// registration must end earlier.
    public func onCancel(_ handler: @escaping @Sendable () -> Void) {
        _ = addHandler(handler)
    }

    /// Registers `handler` like `onCancel(_:)` and returns a key for `removeHandler(_:)`, or nil
    /// when the token was already cancelled and the handler has already run.
    public func addHandler(_ handler: @escaping @Sendable () -> Void) -> UInt64? {
        let key = state.withLock { state -> UInt64? in
            state.cause == nil ? state.observers.add(.handler(handler)) : nil
        }
        if key == nil { handler() }
        return key
    }

    /// Unregisters a handler before it runs. Removing one that has run, or was removed, does nothing.
    public func removeHandler(_ key: UInt64) {
        _ = state.withLock { $0.observers.remove(key) }
    }

    /// Suspends until the token is cancelled, without holding a thread. It also returns early
    /// if the calling `Task` is cancelled, so check `isCancelled` when that difference matters.
    public func wait() async {
        let key = state.withLock { state -> UInt64? in
            state.cause == nil ? state.observers.reserveKey() : nil
        }
        guard let key else { return }
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let stored = state.withLock { $0.observers.fill(key, with: .waiter(continuation)) }
                // Not stored: cancelled, or the task was cancelled, before we got here.
                if !stored { continuation.resume() }
            }
        } onCancel: {
            if case .waiter(let waiter) = state.withLock({ $0.observers.remove(key) }) { waiter.resume() }
        }
    }

    /// A token that is cancelled by the first of `signals` the process receives, the Swift
    /// counterpart of Go's `signal.NotifyContext`.
    ///
    /// From this call on, those signals no longer terminate the process: a handler records them
    /// (with `sigaction`, so it holds whichever thread the kernel picks), and a dedicated thread
    /// hands them on. The token's handlers (every stopper of a runner or group run on it) run on
    /// the library's elastic executor, never on that thread, so a slow stopper cannot hold back
    /// a later signal. A signal that arrives before anyone waits is not lost; the token simply
    /// is cancelled already.
    ///
    /// Call `stopSignals()` when the token is no longer needed, as Go's `stop()`: that puts back
    /// what each signal did before. Without it, releasing the token ends the subscription, but
    /// the signals stay caught for the rest of the process, and with no other subscriber they
    /// are ignored: a later SIGTERM then neither stops nor kills the process.
    public static func signals(_ signals: [Int32]) -> CancellationToken {
        self.signals(signals, onRepeat: { _ in })
    }

    /// Like `signals(_:)`, and calls `onRepeat` for every one of those signals received after
    /// the first, for example to force a stop on a second SIGTERM.
    ///
    /// `onRepeat` runs on the elastic executor, as soon as the signal arrives, whatever the
    /// token's handlers are doing meanwhile; calls for signals close together may overlap.
    /// A signal received after the token was cancelled some other way also counts as a repeat.
    public static func signals(
        _ signals: [Int32],
        onRepeat: @escaping @Sendable (Int32) -> Void
    ) -> CancellationToken {
        let token = CancellationToken()
        // Decided on the signal thread, not from `isCancelled`: the cancellation itself happens
        // later on another thread, and a second signal may arrive before it does.
        let firstSignalSeen = FirstSignalFlag()
        let subscription = SignalSubscription(signals) { [weak token] number in
            guard let token else { return }
            let isFirst = !token.isCancelled && !firstSignalSeen.value.exchange(true, ordering: .acquiringAndReleasing)
            ElasticExecutor.shared.execute {
                if isFirst {
                    token.cancel(cause: .signal(number))
                } else {
                    onRepeat(number)
                }
            }
        }
        token.attach(Links(subscription: subscription))
        return token
    }

    /// Ends the signal subscription of a token made by `signals(_:)`, like the `stop` function
    /// that Go's `signal.NotifyContext` returns, and cancels the token (cause `.explicit`) unless
    /// it is cancelled already.
    ///
    /// Each of the token's signals that no other subscription in the process still receives
    /// gets back the disposition it had before the first subscription to it: for SIGTERM and
    /// SIGINT usually the default, which terminates the process. After this, those signals
    /// neither cancel the token nor reach `onRepeat`. A second call does nothing; on a token not
    /// made by `signals(_:)`, neither does the first.
    public func stopSignals() {
        guard let subscription = state.withLock({ $0.links?.subscription }) else { return }
        subscription.cancel(restoringDisposition: true)
        cancel()
    }

    private func startTimer(_ timeout: Duration, parent: (token: CancellationToken, key: UInt64)? = nil) {
        let handle = TimerQueue.shared.schedule(after: timeout) { [weak self] in
            guard let token = self else { return }
            // Handlers run user code, so they run on the elastic executor, never on the timer thread.
            ElasticExecutor.shared.execute { token.cancel(cause: .timeout(timeout)) }
        }
        attach(Links(timer: handle, parent: parent))
    }

    /// Stores the links of a new token, or releases them at once if it was cancelled meanwhile.
    /// Signal subscriptions stay either way: a cancelled signal token still reports repeats.
    private func attach(_ links: Links) {
        let attached = state.withLock { state -> Bool in
            guard state.cause == nil || links.subscription != nil else { return false }
            state.links = links
            return true
        }
        if !attached { links.release() }
    }
}

/// Whether a signals token has seen its first signal; a class, because an `Atomic` cannot be
/// captured by the escaping subscription handler itself.
private final class FirstSignalFlag: Sendable {
    let value = Atomic(false)
}
