import Glibc

/// A pthread mutex with condition variables that sleep on it, for the module's own threads.
///
/// `Synchronization.Mutex` cannot be waited on; a thread that must sleep until there is work (the
/// ``LogQueue`` writer) needs a condition variable, and a condition variable needs a pthread
/// mutex. Runner has the same primitives, but as SPI of a module `Systemd` does not depend on.
///
/// `@unchecked Sendable`: the pthread objects live at fixed heap addresses for the lifetime of
/// this object, and pthread mutexes and condition variables are made to be shared between threads.
final class PThreadLock: @unchecked Sendable {
    /// A condition variable on `CLOCK_MONOTONIC`, used with the lock that made it, so that timed
    /// waits are immune to wall-clock jumps.
    final class Condition: @unchecked Sendable {
        private let raw: UnsafeMutablePointer<pthread_cond_t>
        private let lock: PThreadLock

        fileprivate init(lock: PThreadLock) {
            self.lock = lock
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

        /// Sleeps, with no timeout, until signalled (or a spurious wake-up). The caller holds the
        /// lock, and holds it again on return.
        func wait() {
            pthread_cond_wait(raw, lock.raw)
        }

        /// Sleeps until signalled or until `deadline` (`MonotonicClock.nowNanoseconds()`). Returns false
        /// when the deadline passed. The caller holds the lock, and holds it again on return.
        func wait(until deadline: UInt64) -> Bool {
            var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
            return pthread_cond_timedwait(raw, lock.raw, &time) != ETIMEDOUT
        }

        /// Wakes one sleeper. With none, glibc makes no system call.
        func signal() { pthread_cond_signal(raw) }

        /// Wakes every sleeper. With none, glibc makes no system call.
        func broadcast() { pthread_cond_broadcast(raw) }
    }

    fileprivate let raw: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        raw = .allocate(capacity: 1)
        raw.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(raw, nil) == 0, "pthread_mutex_init failed")
    }

    deinit {
        pthread_mutex_destroy(raw)
        raw.deallocate()
    }

    /// A new condition variable for this lock; it keeps the lock alive.
    func makeCondition() -> Condition {
        Condition(lock: self)
    }

    /// Runs `body` holding the lock.
    func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        pthread_mutex_lock(raw)
        defer { pthread_mutex_unlock(raw) }
        return try body()
    }
}
