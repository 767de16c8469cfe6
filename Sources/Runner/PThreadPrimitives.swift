#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A pthread mutex for the library's own threads (the timer thread, the signal thread and the
/// elastic executor's workers). Unlike `Synchronization.Mutex` it pairs with condition variables,
/// which those threads sleep on.
///
/// It is `@unchecked Sendable` because the pthread object lives at a fixed heap address for the
/// lifetime of this object, and pthread mutexes are made to be shared between threads.
/// (Package access: runnerd's main-thread executor sleeps on these too.)
package final class PThreadMutex: @unchecked Sendable {
    fileprivate let raw: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        raw = .allocate(capacity: 1)
        raw.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(raw, nil) == 0, "pthread_mutex_init failed")
    }

    deinit {
        pthread_mutex_destroy(raw)
        raw.deallocate()
    }

    package func lock() { pthread_mutex_lock(raw) }
    package func unlock() { pthread_mutex_unlock(raw) }
}

/// A condition variable on `CLOCK_MONOTONIC`, so that timed waits are immune to wall-clock jumps.
///
/// `@unchecked Sendable` for the same reason as `PThreadMutex`: a fixed address, made for sharing.
package final class PThreadCondition: @unchecked Sendable {
    private let raw: UnsafeMutablePointer<pthread_cond_t>

    package init() {
        raw = .allocate(capacity: 1)
        raw.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        precondition(pthread_cond_init(raw, &attributes) == 0, "pthread_cond_init failed")
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(raw)
        raw.deallocate()
    }

    /// Sleeps until signalled. The caller holds `mutex`; it holds it again on return.
    package func wait(_ mutex: PThreadMutex) {
        pthread_cond_wait(raw, mutex.raw)
    }

    /// Sleeps until signalled or until `deadline` (monotonic nanoseconds) has passed.
    /// Returns false when the deadline passed. The caller holds `mutex` and holds it again on return.
    @discardableResult
    package func wait(_ mutex: PThreadMutex, until deadline: UInt64) -> Bool {
        var time = timespec(
            tv_sec: Int(deadline / 1_000_000_000),
            tv_nsec: Int(deadline % 1_000_000_000)
        )
        return pthread_cond_timedwait(raw, mutex.raw, &time) != ETIMEDOUT
    }

    package func signal() { pthread_cond_signal(raw) }
    package func broadcast() { pthread_cond_broadcast(raw) }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock every deadline in this library is measured on.
/// (Package access: runnerd's event loop shares it; not part of the library's API.)
package func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

extension Duration {
    /// The duration in whole nanoseconds, with negative durations as zero and huge ones capped,
    /// so that deadline arithmetic can never trap.
    package var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        if seconds >= 100 * 365 * 24 * 3600 { return 100 * 365 * 24 * 3600 * 1_000_000_000 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}

/// Starts a detached OS thread that runs `body`. The name shows in `top -H` and in `/proc`;
/// Linux keeps at most 15 bytes of it. (Package access: runnerd's own threads start here too.)
package func spawnThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Box: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    var thread = pthread_t()
    let status = pthread_create(&thread, &attributes, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        nameCurrentThread(box.name)
        box.body()
        return nil
    }, box)
    pthread_attr_destroy(&attributes)
    precondition(status == 0, "pthread_create failed with \(status)")
}

/// Names the calling thread through procfs; Glibc's `pthread_setname_np` is not visible to Swift
/// without `_GNU_SOURCE`. Failing to name a thread is harmless, so errors are ignored.
private func nameCurrentThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}
