/// Parses numbers from the environment exactly as libsystemd 252 does (`safe_atou64`,
/// `parse_pid`), so that settings read from an injected environment agree with what
/// `sd_watchdog_enabled` decides for the real one.
enum SystemdNumber {
    /// The value of `text` read like `strtoull(text, &end, 0)` with libsystemd's checks: leading
    /// white space is skipped, an optional sign is allowed, `0x` means hexadecimal and a leading
    /// `0` octal; nothing may follow the digits. Returns nil where libsystemd fails: no digits,
    /// trailing characters, overflow, or a non-zero value with a leading `-`.
    static func parseUnsigned(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        var index = 0
        // libsystemd skips its own WHITESPACE set before checking for '-'; strtoull then also
        // skips the remaining isspace() characters. The two steps are kept apart on purpose.
        while index < bytes.count, isSystemdWhitespace(bytes[index]) {
            index += 1
        }
        let leadsWithMinus = index < bytes.count && bytes[index] == UInt8(ascii: "-")
        while index < bytes.count, isCSpace(bytes[index]) {
            index += 1
        }
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var base: UInt64 = 10
        if index < bytes.count, bytes[index] == UInt8(ascii: "0") {
            if index + 2 < bytes.count, bytes[index + 1] | 0x20 == UInt8(ascii: "x"),
                digitValue(bytes[index + 2]).map({ $0 < 16 }) == true
            {
                base = 16
                index += 2
            } else {
                base = 8
            }
        }
        let firstDigit = index
        var value: UInt64 = 0
        var overflow = false
        while index < bytes.count, let digit = digitValue(bytes[index]), digit < base {
            let (product, productOverflow) = value.multipliedReportingOverflow(by: base)
            let (sum, sumOverflow) = product.addingReportingOverflow(digit)
            overflow = overflow || productOverflow || sumOverflow
            value = sum
            index += 1
        }
        guard index > firstDigit, index == bytes.count, !overflow else { return nil }
        if negative {
            value = 0 &- value
        }
        if value != 0 && leadsWithMinus {
            return nil
        }
        return value
    }

    /// A process ID as `parse_pid` reads it: a number as above that fits a positive `pid_t`.
    static func parseProcessID(_ text: String) -> Int32? {
        guard let value = parseUnsigned(text), value > 0, value <= UInt64(Int32.max) else { return nil }
        return Int32(value)
    }

    private static func isSystemdWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
            || byte == UInt8(ascii: "\r")
    }

    private static func isCSpace(_ byte: UInt8) -> Bool {
        isSystemdWhitespace(byte) || byte == 0x0B || byte == 0x0C
    }

    private static func digitValue(_ byte: UInt8) -> UInt64? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt64(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt64(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
