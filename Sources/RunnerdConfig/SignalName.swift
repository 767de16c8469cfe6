import Runner

/// Signal names and numbers as a config writes them (`stop-signal: SIGTERM`, `TERM`, `15`) and as
/// messages show them. The names come from `Runner`'s `UnixSignal`, so there is one table.
public enum SignalName {
    /// The highest signal number a config may name (Linux's SIGRTMAX).
    public static let highest: Int32 = 64

    /// The signal `text` names: `SIGTERM`, `TERM` (either case) or a number from 1 to
    /// ``highest``. Returns nil for anything else, including 0 and real-time signals by name.
    public static func number(_ text: String) -> Int32? {
        if let number = Int32(text) {
            return (1...highest).contains(number) ? number : nil
        }
        return UnixSignal(name: text)?.rawValue
    }

    /// `SIGTERM` for 15, and `signal 40` for a number without a name.
    public static func name(of number: Int32) -> String {
        UnixSignal(rawValue: number).description
    }

    /// Every name with its `SIG` prefix, for suggesting the nearest one to a typo.
    static var allNames: [String] {
        UnixSignal.names
    }
}
