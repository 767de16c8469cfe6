/// One `NAME=value` field of a native journal entry.
///
/// The name is always valid by journald's rules (1 to 64 characters of `A`–`Z`, `0`–`9` and `_`,
/// not starting with `_` or a digit): the checked initialisers refuse anything else, and
/// ``init(sanitizing:value:)`` maps any key to a valid name. The value is arbitrary bytes,
/// newlines and invalid UTF-8 included; multi-line values are sent in journald's binary form, so
/// they stay one field of one entry.
public struct JournalField: Sendable, Hashable {
    /// The field name, valid by journald's rules.
    public let name: String

    /// The value's bytes.
    public let value: [UInt8]

    /// The longest field name journald accepts.
    public static let maximumNameLength = 64

    /// A field with a checked name and a text value.
    ///
    /// - Throws: ``JournalError/invalidFieldName(_:problem:)`` when `name` breaks journald's rules.
    public init(name: String, value: String) throws(JournalError) {
        try self.init(name: name, bytes: Array(value.utf8))
    }

    /// A field with a checked name and raw bytes, for output that may not be UTF-8 (such as a
    /// child process's output line).
    ///
    /// - Throws: ``JournalError/invalidFieldName(_:problem:)`` when `name` breaks journald's rules.
    public init(name: String, bytes: [UInt8]) throws(JournalError) {
        if let problem = Self.problem(with: name) {
            throw .invalidFieldName(name, problem: problem)
        }
        self.init(unchecked: name, bytes: bytes)
    }

    /// A field whose name is `key` mapped by ``sanitizedName(_:)``; it never fails.
    public init(sanitizing key: String, value: String) {
        self.init(unchecked: Self.sanitizedName(key), bytes: Array(value.utf8))
    }

    init(unchecked name: String, bytes: [UInt8]) {
        self.name = name
        self.value = bytes
    }

    /// `MESSAGE=`: the human-readable text of the entry.
    public static func message(_ text: String) -> JournalField {
        JournalField(unchecked: "MESSAGE", bytes: Array(text.utf8))
    }

    /// `MESSAGE=` with raw bytes, for text that may not be UTF-8.
    public static func message(bytes: [UInt8]) -> JournalField {
        JournalField(unchecked: "MESSAGE", bytes: bytes)
    }

    /// `PRIORITY=`: the entry's syslog priority.
    public static func priority(_ priority: SyslogPriority) -> JournalField {
        JournalField(unchecked: "PRIORITY", bytes: Array(priority.description.utf8))
    }

    /// `SYSLOG_IDENTIFIER=`: the name `journalctl -t` selects by. Without it, libsystemd adds the
    /// program's short name.
    public static func syslogIdentifier(_ identifier: String) -> JournalField {
        JournalField(unchecked: "SYSLOG_IDENTIFIER", bytes: Array(identifier.utf8))
    }

    /// A valid journal field name for an arbitrary key, such as a swift-log metadata key.
    ///
    /// The mapping is total and deterministic: ASCII letters are upper-cased; every other
    /// character that is not `A`–`Z`, `0`–`9` or `_` becomes `_` (`request.id` → `REQUEST_ID`,
    /// `café` → `CAF_`); leading underscores, which journald reserves for trusted fields, are
    /// dropped (`_pid` → `PID`); a name that then starts with a digit gets a `FIELD_` prefix
    /// (`2fa` → `FIELD_2FA`); an empty result becomes `FIELD`; the result is cut to
    /// ``maximumNameLength`` characters. Distinct keys can map to the same name.
    public static func sanitizedName(_ key: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(key.utf8.count)
        for scalar in key.unicodeScalars {
            switch scalar.value {
            case 0x61...0x7A: bytes.append(UInt8(scalar.value) - 0x20)
            case 0x41...0x5A, 0x30...0x39, 0x5F: bytes.append(UInt8(scalar.value))
            default: bytes.append(UInt8(ascii: "_"))
            }
        }
        let trimmed = bytes.drop { $0 == UInt8(ascii: "_") }
        var name: [UInt8]
        if let first = trimmed.first {
            name = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) ? Array("FIELD_".utf8) + trimmed : Array(trimmed)
        } else {
            name = Array("FIELD".utf8)
        }
        if name.count > maximumNameLength {
            name.removeLast(name.count - maximumNameLength)
        }
        return String(decoding: name, as: UTF8.self)
    }

    /// What is wrong with `name` by journald's rules, or `nil` when it is valid.
    static func problem(with name: String) -> String? {
        let bytes = Array(name.utf8)
        guard let first = bytes.first else { return "is empty" }
        if bytes.count > maximumNameLength {
            return "is longer than \(maximumNameLength) characters"
        }
        if first == UInt8(ascii: "_") {
            return "starts with _, which journald reserves for fields it adds itself"
        }
        if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) {
            return "starts with a digit"
        }
        let valid = bytes.allSatisfy {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
        return valid ? nil : "contains a character other than A-Z, 0-9 and _"
    }
}
