#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// A live interest in some Unix signals: `handler` runs, on the library's signal thread, for
/// every one of them the process receives until the subscription is cancelled or released.
///
/// The first subscription to a signal installs a `sigaction` handler for it, so from then on
/// that signal no longer has its default effect (terminating the process, for SIGTERM), until
/// the last subscription to it ends with `cancel(restoringDisposition: true)`. The
/// handler only writes the signal number to a pipe, which is async-signal-safe; a dedicated
/// thread reads the pipe and calls the subscribers. This works whatever the signal masks of the
/// process's other threads are, and children do not inherit it: `exec` resets caught signals.
package final class SignalSubscription: Sendable {
    private let signals: [Int32]
    private let key: UInt64

    /// Subscribes `handler` to `signals`. It should return quickly: it runs on the one thread
    /// that serves every signal subscription in the process.
    package init(_ signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        self.signals = signals
        self.key = SignalCenter.shared.subscribe(signals, handler)
    }

    deinit {
        SignalCenter.shared.unsubscribe(key, from: signals, restoringDisposition: false)
    }

    /// Ends the subscription. Calling it again does nothing.
    ///
    /// - Parameter restoringDisposition: When true, each of the signals that no other
    ///   subscription receives any more gets back the disposition it had before the first
    ///   subscription to it. When false (and when the subscription is simply released), the
    ///   signals stay caught, and with no subscriber they are ignored.
    package func cancel(restoringDisposition: Bool = false) {
        SignalCenter.shared.unsubscribe(key, from: signals, restoringDisposition: restoringDisposition)
    }
}

/// The write end of the self-pipe, read by the signal handler. An atomic, because the handler
/// may run on any thread at any moment, and atomics are async-signal-safe.
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// The process-wide signal dispatcher behind `SignalSubscription`.
private final class SignalCenter: Sendable {
    static let shared = SignalCenter()

    private struct State {
        /// The disposition each caught signal had before the first subscription to it.
        var previous: [Int32: sigaction] = [:]
        var nextKey: UInt64 = 0
        var subscribers: [Int32: [(key: UInt64, handler: @Sendable (Int32) -> Void)]] = [:]
    }

    private let state = Mutex(State())
    private let readEnd: Int32

    private init() {
        var fds: [Int32] = [-1, -1]
        // A socket pair rather than a pipe, because it can be created close-on-exec atomically
        // (Swift does not see pipe2), so a child spawned meanwhile never inherits it.
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        precondition(socketpair(AF_UNIX, type, 0, &fds) == 0, "socketpair failed: errno \(errno)")
        // A full pipe must never block the handler; a dropped byte only coalesces signals.
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        readEnd = fds[0]
        signalPipeWriteEnd.store(fds[1], ordering: .sequentiallyConsistent)
        spawnThread(name: "runner-signals") { [readEnd] in SignalCenter.dispatch(readEnd: readEnd) }
    }

    func subscribe(_ signals: [Int32], _ handler: @escaping @Sendable (Int32) -> Void) -> UInt64 {
        state.withLock { state in
            let key = state.nextKey
            state.nextKey += 1
            for number in Set(signals) {
                state.subscribers[number, default: []].append((key, handler))
                if state.previous[number] == nil {
                    state.previous[number] = SignalCenter.install(number)
                }
            }
            return key
        }
    }

    func unsubscribe(_ key: UInt64, from signals: [Int32], restoringDisposition: Bool) {
        let removed = state.withLock { state in
            var removed: [@Sendable (Int32) -> Void] = []
            for number in Set(signals) {
                guard let subscribers = state.subscribers[number] else { continue }
                removed += subscribers.filter { $0.key == key }.map(\.handler)
                let remaining = subscribers.filter { $0.key != key }
                state.subscribers[number] = remaining.isEmpty ? nil : remaining
                // Under the lock, so that a subscription starting meanwhile installs afresh.
                if remaining.isEmpty && restoringDisposition, var previous = state.previous.removeValue(forKey: number) {
                    precondition(sigaction(number, &previous, nil) == 0, "sigaction(\(number)) failed: errno \(errno)")
                }
            }
            return removed
        }
        // Released here, after the lock: a handler may hold the last reference to something whose
        // deinit ends another subscription, which takes this lock again.
        _ = consume removed
    }

    /// Catches `number` and returns what it did until now.
    private static func install(_ number: Int32) -> sigaction {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { number in
            let savedErrno = errno
            var byte = UInt8(truncatingIfNeeded: number)
            _ = write(signalPipeWriteEnd.load(ordering: .relaxed), &byte, 1)
            errno = savedErrno
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        var previous = sigaction()
        precondition(sigaction(number, &action, &previous) == 0, "sigaction(\(number)) failed: errno \(errno)")
        return previous
    }

    private static func dispatch(readEnd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            for byte in buffer[..<count] {
                let number = Int32(byte)
                let handlers = shared.state.withLock { $0.subscribers[number] ?? [] }
                for subscriber in handlers { subscriber.handler(number) }
            }
        }
    }
}
