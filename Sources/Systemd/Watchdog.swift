import CSystemd
import Glibc

/// The service manager's watchdog settings for this process: how long it waits for a
/// `WATCHDOG=1` ping before it considers the service hung.
///
/// Ping with ``NotifyState/watchdog`` every ``pingInterval``, from the code path whose progress
/// proves the service is healthy, so that a hang stops the pings.
public struct Watchdog: Sendable, Hashable {
    /// The time after the last ping at which the manager acts (`WatchdogSec=`).
    public let timeout: Duration

    /// How often to ping: half of ``timeout``, as `sd_watchdog_enabled(3)` recommends, so that one
    /// late ping does not trip the watchdog.
    public var pingInterval: Duration {
        timeout / 2
    }

    /// Settings with the given timeout. No check is made; a zero timeout gives a zero interval.
    public init(timeout: Duration) {
        self.timeout = timeout
    }

    /// The watchdog of this process, as libsystemd's `sd_watchdog_enabled` reads it from
    /// `WATCHDOG_USEC` and `WATCHDOG_PID`.
    ///
    /// - Returns: the settings, or `nil` when `WATCHDOG_USEC` is unset or `WATCHDOG_PID` names
    ///   another process (the variables were inherited, not meant for us).
    /// - Throws: ``WatchdogError/invalidEnvironment(watchdogUSEC:watchdogPID:)`` when either variable
    ///   is malformed, or `WATCHDOG_USEC` is zero.
    /// - Note: the environment is read, never changed.
    public static func current() throws(WatchdogError) -> Watchdog? {
        var microseconds: UInt64 = 0
        let result = sd_watchdog_enabled(0, &microseconds)
        if result > 0 {
            return Watchdog(timeout: .microseconds(exactly: microseconds))
        }
        if result == 0 {
            return nil
        }
        throw .invalidEnvironment(
            watchdogUSEC: getenv("WATCHDOG_USEC").map { String(cString: $0) } ?? "",
            watchdogPID: getenv("WATCHDOG_PID").map { String(cString: $0) })
    }

    /// The watchdog that `sd_watchdog_enabled` would report for a process with ID `processID`
    /// running with `environment`; the same decisions and errors as ``current()``, for an
    /// environment given as a value.
    ///
    /// `WATCHDOG_USEC` is checked first, so a malformed value throws even when `WATCHDOG_PID`
    /// names another process, as libsystemd does.
    public static func from(environment: [String: String], processID: Int32) throws(WatchdogError) -> Watchdog? {
        guard let usecText = environment["WATCHDOG_USEC"] else { return nil }
        let pidText = environment["WATCHDOG_PID"]
        // Zero and UINT64_MAX ("infinity") are not timestamps libsystemd accepts.
        guard let microseconds = SystemdNumber.parseUnsigned(usecText), microseconds != 0,
            microseconds != UInt64.max
        else {
            throw .invalidEnvironment(watchdogUSEC: usecText, watchdogPID: pidText)
        }
        if let pidText {
            guard let pid = SystemdNumber.parseProcessID(pidText) else {
                throw .invalidEnvironment(watchdogUSEC: usecText, watchdogPID: pidText)
            }
            if pid != processID {
                return nil
            }
        }
        return Watchdog(timeout: .microseconds(exactly: microseconds))
    }
}
