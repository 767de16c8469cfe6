/// A point in time on the monotonic clock, for bounded waits.
public struct Deadline: Sendable {
    private let end: ContinuousClock.Instant

    public init(after duration: Duration) {
        end = .now + duration
    }

    /// Whether the deadline has passed.
    public var hasPassed: Bool { ContinuousClock.now >= end }

    /// Milliseconds left, rounded up, and never negative, for poll(2).
    public var remainingMilliseconds: Int32 {
        let left = end - .now
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        return Int32(min(seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1, Int64(Int32.max)))
    }
}
