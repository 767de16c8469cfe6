/// The scalars one position of a `log-line` pattern accepts: `.`, a bracketed class such as
/// `[a-z_]` or `[^"]`, an escape such as `\d`, or a letter under `(?i)`.
///
/// Membership of an ASCII scalar is one bit test, since log lines are mostly ASCII; any other
/// scalar is checked against the ranges and Unicode properties.
struct LogLinePatternClass: Sendable, Equatable {
    /// A class named by an escape or by `.`.
    enum Builtin: Sendable, Equatable {
        /// `\d`: a decimal digit in any script (general category Nd).
        case digit
        /// `\w`: a letter, mark, decimal digit or connector punctuation such as `_`.
        case word
        /// `\s`: white space (the Unicode White_Space property).
        case space
        /// `.`: anything but a line terminator.
        case notLineTerminator
    }

    /// Inclusive ranges of scalar values, in no particular order.
    let ranges: [ClosedRange<UInt32>]
    /// Builtin classes, each with whether it is negated (`\D`, `\W`, `\S`).
    let named: [NamedBuiltin]
    /// Whether the class matches what it lists (false) or everything else (true, `[^...]`).
    let negated: Bool
    /// Whether a scalar also matches through its lowercase or uppercase form (`(?i)`).
    let caseInsensitive: Bool
    /// The answer for scalars 0-63 and 64-127, one bit each.
    private let asciiLow: UInt64
    private let asciiHigh: UInt64

    /// A builtin class as listed: `\d` or, negated, `\D`.
    struct NamedBuiltin: Sendable, Equatable {
        var builtin: Builtin
        var negated: Bool
    }

    init(ranges: [ClosedRange<UInt32>], named: [NamedBuiltin] = [], negated: Bool = false, caseInsensitive: Bool = false) {
        self.ranges = ranges
        self.named = named
        self.negated = negated
        self.caseInsensitive = caseInsensitive
        var low: UInt64 = 0
        var high: UInt64 = 0
        for value in UInt32(0)..<128 where Self.slowContains(Unicode.Scalar(value)!, ranges, named, negated, caseInsensitive) {
            if value < 64 { low |= 1 << UInt64(value) } else { high |= 1 << UInt64(value - 64) }
        }
        asciiLow = low
        asciiHigh = high
    }

    /// `.`: any scalar but a line terminator.
    static let anyButLineTerminator = LogLinePatternClass(ranges: [], named: [NamedBuiltin(builtin: .notLineTerminator, negated: false)])

    /// One scalar, in either case.
    static func eitherCase(_ scalar: Unicode.Scalar) -> LogLinePatternClass {
        LogLinePatternClass(ranges: [scalar.value...scalar.value], caseInsensitive: true)
    }

    /// Which of scalars 0-63 and 64-127 the class holds, one bit each.
    var asciiMasks: [UInt64] { [asciiLow, asciiHigh] }

    /// Whether `scalar` is in the class.
    @inline(__always)
    func contains(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 64 { return asciiLow & (1 << UInt64(value)) != 0 }
        if value < 128 { return asciiHigh & (1 << UInt64(value - 64)) != 0 }
        return Self.slowContains(scalar, ranges, named, negated, caseInsensitive)
    }

    private static func slowContains(
        _ scalar: Unicode.Scalar, _ ranges: [ClosedRange<UInt32>], _ named: [NamedBuiltin], _ negated: Bool, _ caseInsensitive: Bool
    ) -> Bool {
        func listed(_ scalar: Unicode.Scalar) -> Bool {
            ranges.contains { $0.contains(scalar.value) } || named.contains { $0.negated != $0.builtin.contains(scalar) }
        }
        var hit = listed(scalar)
        if !hit && caseInsensitive {
            hit = caseVariants(of: scalar).contains(where: listed)
        }
        return hit != negated
    }

    /// The other single-scalar case forms of `scalar` (`A` for `a`, `a` for `A`).
    private static func caseVariants(of scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        let properties = scalar.properties
        return [properties.lowercaseMapping, properties.uppercaseMapping, properties.titlecaseMapping].compactMap { mapping in
            let scalars = mapping.unicodeScalars
            guard scalars.count == 1, let only = scalars.first, only != scalar else { return nil }
            return only
        }
    }

    /// Whether `scalar` is a word character (`\w`); `\b` and `\B` look at this on each side.
    static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 128 {
            return (value >= 0x30 && value <= 0x39) || (value >= 0x41 && value <= 0x5A) || (value >= 0x61 && value <= 0x7A) || value == 0x5F
        }
        let properties = scalar.properties
        switch properties.generalCategory {
        case .decimalNumber, .nonspacingMark, .spacingMark, .enclosingMark, .connectorPunctuation: return true
        default: return properties.isAlphabetic || properties.isJoinControl
        }
    }
}

extension LogLinePatternClass.Builtin {
    func contains(_ scalar: Unicode.Scalar) -> Bool {
        switch self {
        case .digit: scalar.properties.generalCategory == .decimalNumber
        case .word: LogLinePatternClass.isWord(scalar)
        case .space: scalar.properties.isWhitespace
        case .notLineTerminator: !Self.lineTerminators.contains(scalar.value)
        }
    }

    /// What `.` does not match: `\n`, `\v`, `\f`, `\r`, NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR.
    private static let lineTerminators: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029]
}
