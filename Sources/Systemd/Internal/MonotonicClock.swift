import Glibc

/// Reads `CLOCK_MONOTONIC` in the units systemd's notify protocol and pthread's timed waits use.
enum MonotonicClock {
    /// Microseconds since an arbitrary, boot-time epoch; the same clock systemd compares
    /// `MONOTONIC_USEC=` against.
    static func nowMicroseconds() -> UInt64 {
        nowNanoseconds() / 1_000
    }

    /// Nanoseconds on the same clock: what `PThreadLock.Condition.wait(until:)` takes.
    static func nowNanoseconds() -> UInt64 {
        var now = timespec()
        // CLOCK_MONOTONIC cannot fail on Linux with a valid pointer.
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
