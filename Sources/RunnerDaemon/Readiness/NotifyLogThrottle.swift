import Glibc

/// Decides when a repeated warning of the notify relay reaches the log, so that a process that
/// sends a message a millisecond cannot flood the journal: the first occurrence is logged at
/// once; the ones after it, until the interval has passed, are held back and then logged as one
/// line with their count. A pure value: the endpoint that owns it runs the timer.
///
/// The protocol, for the owner: when ``record(pid:detail:)`` returns a report, log it and call
/// ``windowEnded()`` once the interval has passed. When that returns a report, log it and call
/// ``windowEnded()`` again after another interval; when it returns nil, the throttle is quiet
/// again and the next occurrence is logged at once. ``drain()`` ends it early, for a last line.
struct NotifyLogThrottle: Sendable {
    /// What to log: `count` occurrences from `pids` (the first three distinct senders; `morePIDs`
    /// when there were others), with the detail of the latest one.
    struct Report: Sendable, Equatable {
        var count = 0
        var pids: [pid_t] = []
        var morePIDs = false
        var detail: String?
    }

    /// At most this many distinct pids are named in one line.
    static let namedPIDs = 3

    private var windowOpen = false
    private var held = Report()

    /// Whether a window is open (a report went out, and its interval has not yet ended quietly).
    var isWindowOpen: Bool { windowOpen }

    /// Records one occurrence. Returns the report to log now when the throttle was quiet, which
    /// opens a window; nil when the occurrence is held back for the window's summary.
    mutating func record(pid: pid_t, detail: String? = nil) -> Report? {
        add(pid: pid, detail: detail)
        guard !windowOpen else { return nil }
        windowOpen = true
        return take()
    }

    /// Ends the current window. Returns the summary of what was held back, which opens the next
    /// window; nil when nothing was, which makes the throttle quiet.
    mutating func windowEnded() -> Report? {
        guard held.count > 0 else {
            windowOpen = false
            return nil
        }
        return take()
    }

    /// What is held back, if anything, and makes the throttle quiet: for a last line when the
    /// owner goes away.
    mutating func drain() -> Report? {
        windowOpen = false
        return held.count > 0 ? take() : nil
    }

    private mutating func add(pid: pid_t, detail: String?) {
        held.count += 1
        if detail != nil { held.detail = detail }
        if held.pids.contains(pid) { return }
        if held.pids.count < Self.namedPIDs {
            held.pids.append(pid)
        } else {
            held.morePIDs = true
        }
    }

    private mutating func take() -> Report {
        defer { held = Report() }
        return held
    }
}
