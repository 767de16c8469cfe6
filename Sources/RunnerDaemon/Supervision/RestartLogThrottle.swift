/// Decides how a group's restarts reach the log, so that a group restarting many times a second
/// (a service that exits at once, behind a millisecond `restart-delay`) cannot flood the journal.
///
/// While restarts come at a human pace, each is logged as it happens: a line for the restart and
/// one for each service it starts. Once `threshold` restarts fall within `window`, the group is
/// *flapping*: that restart is logged with a line saying so, later ones are only counted, and a
/// summary goes out once per `interval` (`group web: restarted 1234 times in the last 10s; still
/// flapping`). An interval with fewer than `threshold` restarts ends the flapping, with a last
/// summary, and restarts are logged one by one again.
///
/// A pure value, fed times: the supervisor that owns it logs, and calls ``intervalEnded(at:)``
/// every `interval` while ``isFlapping``.
struct RestartLogThrottle: Sendable, Equatable {
    /// What to do with one restart.
    enum Decision: Sendable, Equatable {
        /// Log it as usual.
        case log
        /// Log it, and that the group is now flapping: `threshold` restarts within `window`.
        case startFlapping
        /// Count it for the next summary; log nothing.
        case quiet
    }

    /// What one interval of flapping amounted to.
    struct Summary: Sendable, Equatable {
        /// Restarts since the previous summary (or since the flapping began).
        var restarts: Int
        /// How long that was: `interval`, or less for a last summary.
        var period: Duration
        /// Whether the group is still flapping after this summary.
        var stillFlapping: Bool
        /// What stopped the group the last time, as the restart line would have said it.
        var lastCause: String?
    }

    /// The default: 10 restarts within a second start the flapping; one summary every 10 seconds.
    static let standard = RestartLogThrottle(threshold: 10, window: .seconds(1), interval: .seconds(10))

    let threshold: Int
    let window: Duration
    let interval: Duration
    private(set) var isFlapping = false
    /// The latest restarts, at most `threshold` of them, oldest first.
    private var recent: [ContinuousClock.Instant] = []
    private var counted = 0
    private var lastCause: String?
    private var intervalStart = ContinuousClock.Instant.now

    init(threshold: Int, window: Duration, interval: Duration) {
        precondition(threshold >= 1, "a group flaps after at least one restart")
        self.threshold = threshold
        self.window = window
        self.interval = interval
    }

    /// A restart at `now`, caused by `cause` (kept for the summaries).
    mutating func restarted(at now: ContinuousClock.Instant, cause: String) -> Decision {
        if isFlapping {
            counted += 1
            lastCause = cause
            return .quiet
        }
        recent.append(now)
        if recent.count > threshold { recent.removeFirst(recent.count - threshold) }
        guard recent.count == threshold, now - recent[0] <= window else { return .log }
        isFlapping = true
        counted = 0
        lastCause = cause
        intervalStart = now
        recent = []
        return .startFlapping
    }

    /// The summary of the interval that ended at `now`, while flapping; nil otherwise. Fewer
    /// than `threshold` restarts in it end the flapping. Its period is `interval`, the length the
    /// summary stands for, not the time measured since the last one, which a timer firing a
    /// millisecond late would turn into "in the last 501ms".
    mutating func intervalEnded(at now: ContinuousClock.Instant) -> Summary? {
        guard isFlapping else { return nil }
        let summary = Summary(restarts: counted, period: interval, stillFlapping: counted >= threshold, lastCause: lastCause)
        counted = 0
        intervalStart = now
        if !summary.stillFlapping { isFlapping = false }
        return summary
    }

    /// The last summary when supervision ends while flapping (restarts since the last summary,
    /// if any); the throttle is quiet afterwards.
    mutating func finish(at now: ContinuousClock.Instant) -> Summary? {
        guard isFlapping else { return nil }
        defer {
            isFlapping = false
            counted = 0
        }
        guard counted > 0 else { return nil }
        return Summary(restarts: counted, period: now - intervalStart, stillFlapping: false, lastCause: lastCause)
    }
}
