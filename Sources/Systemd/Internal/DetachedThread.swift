import Glibc

/// Starts plain OS threads for the module's own work (the ``LogQueue`` writer).
///
/// A pthread rather than a Swift task or a libdispatch queue: the writer blocks in `write(2)` and
/// `sendmsg(2)` for as long as the destination stalls, which must not take a thread from Swift's
/// cooperative pool, and it sleeps on a condition variable with no timeout while idle, which
/// libdispatch's pool (with its manager thread waking every second) would not allow.
enum DetachedThread {
    /// Starts a detached thread named `name` (at most 15 bytes are kept; the name shows in
    /// `top -H` and `/proc/PID/task/*/comm`) that runs `body` and ends with it.
    ///
    /// - Precondition: the system can create a thread; a process that cannot is out of resources
    ///   in a way no caller here could recover from.
    static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let start = Unmanaged.passRetained(ThreadStart(name: name, body: body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, runThreadStart, start)
        pthread_attr_destroy(&attributes)
        precondition(status == 0, "cannot start the \(name) thread: pthread_create failed with \(status)")
    }
}

/// What a new thread runs, handed over through pthread's `void *` argument.
private final class ThreadStart: Sendable {
    let name: String
    let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

/// The thread's entry point: takes back the retained ``ThreadStart``, names the thread, runs it.
private func runThreadStart(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
    nameCurrentThread(start.name)
    start.body()
    return nil
}

/// Names the calling thread through procfs; Glibc's `pthread_setname_np` is not visible to
/// Swift without `_GNU_SOURCE`. An unnamed thread works the same, so errors are ignored.
private func nameCurrentThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}
