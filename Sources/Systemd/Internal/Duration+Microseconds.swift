extension Duration {
    /// This duration in whole microseconds, rounded up, or nil when it is negative or does not fit
    /// in 64 bits. Rounding up keeps a timeout from ever being shorter than asked.
    var microsecondsRoundedUp: UInt64? {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return nil }
        let attosecondsPerMicrosecond: Int64 = 1_000_000_000_000
        var fraction = UInt64(attoseconds / attosecondsPerMicrosecond)
        if attoseconds % attosecondsPerMicrosecond != 0 {
            fraction += 1
        }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000)
        guard !overflow else { return nil }
        let (total, carry) = whole.addingReportingOverflow(fraction)
        return carry ? nil : total
    }

    /// A duration of `microseconds`, exact for every 64-bit value (which `.microseconds(_:)` on
    /// `Int64` is not).
    static func microseconds(exactly microseconds: UInt64) -> Duration {
        Duration(
            secondsComponent: Int64(microseconds / 1_000_000),
            attosecondsComponent: Int64(microseconds % 1_000_000) * 1_000_000_000_000)
    }
}
