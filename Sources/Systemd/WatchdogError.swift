/// Why the watchdog settings in the environment could not be used.
public enum WatchdogError: Error, Hashable, CustomStringConvertible {
    /// `WATCHDOG_USEC` is not a positive, finite number of microseconds, or `WATCHDOG_PID` is set
    /// but is not a positive process ID. The values are given as found (`nil` when unset).
    case invalidEnvironment(watchdogUSEC: String, watchdogPID: String?)

    /// A one-line explanation naming what to fix.
    public var description: String {
        switch self {
        case .invalidEnvironment(let usec, let pid):
            "WATCHDOG_USEC=\(String(reflecting: usec))"
                + (pid.map { " WATCHDOG_PID=\(String(reflecting: $0))" } ?? "")
                + " is not a usable watchdog setting: WATCHDOG_USEC must be a positive number of microseconds"
                + " and WATCHDOG_PID a positive process ID; check WatchdogSec= in the unit, or unset both to run without a watchdog"
        }
    }
}
