import CLinuxSupport
import Glibc
import Runner
import Synchronization

/// The daemon's event loop: one OS thread that waits in `epoll_wait` for child output, its own
/// wake-ups and its timers, and runs everything that touches children from there.
///
/// Children are spawned from this thread too, on purpose: `PR_SET_PDEATHSIG` fires when the
/// *thread* that forked a child exits, and this thread lives as long as the daemon.
///
/// Work is handed in from any thread with `execute(_:)`. Everything marked "loop only" must run
/// on the loop thread. The loop sleeps without a timeout while it has no timers, so an idle
/// daemon does not wake up periodically.
///
/// A descriptor can be watched for reading (`watch`) and for writing (`watchWritable`), each
/// with its own handler, independently. Watching is level-triggered: a handler runs on every
/// pass of the loop while its condition holds, so a writability watcher stops watching as soon
/// as it has nothing left to write.
final class EventLoop: @unchecked Sendable {
    // @unchecked: the handlers, `timers` and `nextTimerID` are touched only on the loop thread;
    // the inbox is guarded by its Mutex; the file descriptors are fixed after init.

    typealias TimerID = UInt64

    private let epoll: Int32
    private let wakeFD: Int32
    private let inbox = Mutex<[@Sendable () -> Void]>([])
    private let threadID = Atomic<UInt>(0)
    private var handlers: [Int32: () -> Void] = [:]
    private var writableHandlers: [Int32: () -> Void] = [:]
    private var timers: [(deadline: UInt64, id: TimerID, action: () -> Void)] = []
    private var nextTimerID: TimerID = 1

    /// Starts the loop thread.
    init(name: String) {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(epoll >= 0 && wakeFD >= 0, "cannot create the event loop: errno \(errno)")
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeFD
        epoll_ctl(epoll, EPOLL_CTL_ADD, wakeFD, &event)
        let started = Atomic(false)
        spawnThread(name: name) { [self] in
            threadID.store(pthread_self(), ordering: .releasing)
            started.store(true, ordering: .releasing)
            run()
        }
        while !started.load(ordering: .acquiring) { sched_yield() }
    }

    /// Whether the caller runs on the loop thread.
    var inLoop: Bool {
        threadID.load(ordering: .acquiring) == pthread_self()
    }

    /// Runs `work` on the loop thread, after what was handed in before it.
    func execute(_ work: @escaping @Sendable () -> Void) {
        let wasEmpty = inbox.withLock { inbox in
            inbox.append(work)
            return inbox.count == 1
        }
        if wasEmpty {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// Loop only. Calls `onReadable` whenever `fd` is readable (or hung up) until `unwatch`.
    func watch(_ fd: Int32, onReadable: @escaping () -> Void) {
        let wasWatched = isWatched(fd)
        handlers[fd] = onReadable
        register(fd, wasWatched: wasWatched)
    }

    /// Loop only. Stops watching `fd` for reading; the caller still owns and closes it.
    func unwatch(_ fd: Int32) {
        guard handlers.removeValue(forKey: fd) != nil else { return }
        register(fd, wasWatched: true)
    }

    /// Loop only. Calls `onWritable` whenever `fd` is writable (or has an error or hung up, which
    /// the next write reports) until `unwatchWritable`. A second call for the same `fd` replaces
    /// the handler. Independent of `watch`: the same descriptor may be watched for both.
    func watchWritable(_ fd: Int32, onWritable: @escaping () -> Void) {
        let wasWatched = isWatched(fd)
        writableHandlers[fd] = onWritable
        register(fd, wasWatched: wasWatched)
    }

    /// Loop only. Stops watching `fd` for writability; does nothing if it was not watched.
    func unwatchWritable(_ fd: Int32) {
        guard writableHandlers.removeValue(forKey: fd) != nil else { return }
        register(fd, wasWatched: true)
    }

    /// Whether `fd` is watched for writability; for tests and for a caller that must not watch twice.
    func isWatchedWritable(_ fd: Int32) -> Bool {
        writableHandlers[fd] != nil
    }

    private func isWatched(_ fd: Int32) -> Bool {
        handlers[fd] != nil || writableHandlers[fd] != nil
    }

    /// Brings epoll's interest in `fd` in line with its handlers.
    private func register(_ fd: Int32, wasWatched: Bool) {
        var mask: UInt32 = 0
        if handlers[fd] != nil { mask |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
        if writableHandlers[fd] != nil { mask |= EPOLLOUT.rawValue }
        guard mask != 0 else {
            if wasWatched { epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil) }
            return
        }
        var event = epoll_event()
        event.events = mask
        event.data.fd = fd
        epoll_ctl(epoll, wasWatched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event)
    }

    /// Loop only. Runs `action` on the loop once `delay` has passed.
    @discardableResult
    func schedule(after delay: Duration, _ action: @escaping () -> Void) -> TimerID {
        let id = nextTimerID
        nextTimerID += 1
        let deadline = monotonicNanoseconds() &+ delay.clampedNanoseconds
        let index = timers.firstIndex { $0.deadline > deadline } ?? timers.endIndex
        timers.insert((deadline, id, action), at: index)
        return id
    }

    /// Loop only. Cancels a timer that has not fired.
    func cancelTimer(_ id: TimerID) {
        timers.removeAll { $0.id == id }
    }

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            let timeout = millisecondsUntilNextTimer()
            let count = epoll_wait(epoll, &events, Int32(events.count), timeout)
            if count < 0 && errno != EINTR { fatalError("epoll_wait failed: errno \(errno)") }
            for index in 0..<max(0, Int(count)) {
                let fd = events[index].data.fd
                if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                } else {
                    let ready = events[index].events
                    // EPOLLERR and EPOLLHUP come whatever was asked for; both handlers hear of
                    // them, so that each one's next read or write reports the error.
                    if ready & ~EPOLLOUT.rawValue != 0 { handlers[fd]?() }
                    if ready & (EPOLLOUT.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
                        writableHandlers[fd]?()
                    }
                }
            }
            for work in inbox.withLock({ inbox in defer { inbox = [] }; return inbox }) { work() }
            runDueTimers()
        }
    }

    private func millisecondsUntilNextTimer() -> Int32 {
        guard let first = timers.first else { return -1 }
        let now = monotonicNanoseconds()
        guard first.deadline > now else { return 0 }
        // Round up, so that the loop never wakes a little early and spins.
        return Int32(min(UInt64(Int32.max), (first.deadline - now + 999_999) / 1_000_000))
    }

    private func runDueTimers() {
        let now = monotonicNanoseconds()
        while let first = timers.first, first.deadline <= now {
            timers.removeFirst()
            first.action()
        }
    }
}
