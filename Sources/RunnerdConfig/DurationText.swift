/// The duration syntax of runnerd configs: a number with a unit, such as `250ms`, `10s`, `2m` or
/// `1h`.
///
/// Parsing accepts one or more `<number><unit>` parts, added up (`1m30s`, `1h30m`), where a
/// number may have a fraction (`1.5s`) and the unit is `us` (or `µs`), `ms`, `s`, `m` or `h`.
/// A bare `0` is also accepted, since zero needs no unit. There is no sign: a leading `-` is
/// reported as a negative duration, never silently dropped.
public enum DurationText {
    /// Why a text is not a duration; the loader turns each case into a message that says what to
    /// write instead.
    enum Problem: Error, Sendable, Equatable {
        /// Starts with `-` (the rest may or may not be a valid duration).
        case negative
        /// A number without a unit, such as `10` or the `30` of `1m30`.
        case noUnit
        /// A unit that is not one of us, µs, ms, s, m, h.
        case unknownUnit(String)
        /// Not made of number-unit parts at all (including the empty text).
        case malformed
        /// More than about 292 years, which does not fit in 64-bit nanoseconds.
        case tooLong
    }

    private static let nanosecondsPerUnit: [String: Int64] = [
        "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
        "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]

    /// Parses `text` (already trimmed by YAML) as described on the type.
    static func parse(_ text: String) -> Result<Duration, Problem> {
        if text == "0" {
            return .success(.zero)
        }
        if text.hasPrefix("-") {
            return .failure(.negative)
        }
        var scalars = Substring(text).unicodeScalars[...]
        guard !scalars.isEmpty else { return .failure(.malformed) }
        var total: Int64 = 0
        while !scalars.isEmpty {
            let integerDigits = scalars.prefix { $0.properties.numericType == .decimal && $0.isASCII }
            scalars = scalars.dropFirst(integerDigits.count)
            var fractionDigits = Substring.UnicodeScalarView.SubSequence()
            if scalars.first == "." {
                scalars = scalars.dropFirst()
                fractionDigits = scalars.prefix { $0.properties.numericType == .decimal && $0.isASCII }
                scalars = scalars.dropFirst(fractionDigits.count)
            }
            guard !integerDigits.isEmpty || !fractionDigits.isEmpty else { return .failure(.malformed) }
            let unitScalars = scalars.prefix { $0.properties.isAlphabetic || $0 == "µ" }
            scalars = scalars.dropFirst(unitScalars.count)
            let unit = String(String.UnicodeScalarView(unitScalars))
            guard !unit.isEmpty else {
                // "1m30" and "10" are both missing a unit; "10 s" or "10s!" are not durations at all.
                return .failure(scalars.isEmpty ? .noUnit : .malformed)
            }
            guard let scale = nanosecondsPerUnit[unit] else { return .failure(.unknownUnit(unit)) }
            guard let part = nanoseconds(integerDigits, fractionDigits, scale) else { return .failure(.tooLong) }
            let (sum, overflow) = total.addingReportingOverflow(part)
            guard !overflow else { return .failure(.tooLong) }
            total = sum
        }
        return .success(.nanoseconds(total))
    }

    private static func nanoseconds(
        _ integerDigits: Substring.UnicodeScalarView.SubSequence,
        _ fractionDigits: Substring.UnicodeScalarView.SubSequence,
        _ scale: Int64
    ) -> Int64? {
        var whole: Int64 = 0
        for digit in integerDigits {
            let (times10, overflow1) = whole.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.addingReportingOverflow(Int64(digit.value - 48))
            guard !overflow1, !overflow2 else { return nil }
            whole = next
        }
        let (result, overflow) = whole.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        // Digits past the unit's nanosecond resolution add nothing; they are not an error.
        var fraction: Int64 = 0
        var place = scale
        for digit in fractionDigits {
            place /= 10
            fraction += Int64(digit.value - 48) * place
        }
        let (sum, overflowSum) = result.addingReportingOverflow(fraction)
        return overflowSum ? nil : sum
    }

    /// The shortest text that ``parse`` reads back as `duration` (to the microsecond), built from
    /// the largest units first: `10s`, `250ms`, `1m30s`, `1h`, `0s`. Sub-microsecond remainders
    /// are dropped; a negative duration is written with a leading `-`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || attoseconds < 0 {
            return "-" + format(.zero - duration)
        }
        var microseconds = attoseconds / 1_000_000_000_000
        var rest = seconds
        var text = ""
        let units: [(name: String, seconds: Int64)] = [("h", 3_600), ("m", 60), ("s", 1)]
        for unit in units where rest >= unit.seconds {
            text += "\(rest / unit.seconds)\(unit.name)"
            rest %= unit.seconds
        }
        if microseconds >= 1_000 {
            text += "\(microseconds / 1_000)ms"
            microseconds %= 1_000
        }
        if microseconds > 0 {
            text += "\(microseconds)us"
        }
        return text.isEmpty ? "0s" : text
    }
}
