/// Why an entry could not be written to the journal.
public enum JournalError: Error, Hashable, CustomStringConvertible {
    /// `send` was called with no fields.
    case noFields

    /// A field name breaks journald's rules; `problem` says which. Use
    /// ``JournalField/sanitizedName(_:)`` to map arbitrary keys to valid names.
    case invalidFieldName(String, problem: String)

    /// `sd_journal_sendv` failed with this `errno` value.
    case sendFailed(code: Int32)

    /// A one-line explanation naming what to fix.
    public var description: String {
        switch self {
        case .noFields:
            "no journal fields given; pass at least MESSAGE"
        case .invalidFieldName(let name, let problem):
            "journal field name \(String(reflecting: name)) \(problem); field names are 1 to 64 characters of A-Z, 0-9 and _, not starting with _ or a digit (JournalField.sanitizedName maps any key to one)"
        case .sendFailed(let code):
            "cannot write to the journal: \(SystemErrno.describe(code)) (errno \(code)); check that systemd-journald is running"
        }
    }
}
