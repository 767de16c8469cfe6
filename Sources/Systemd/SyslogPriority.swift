public import Logging

/// A syslog priority (severity), 0 (emergency) to 7 (debug), as journald's `PRIORITY=` field and
/// the `<N>` stream prefix carry it.
public struct SyslogPriority: Sendable, Hashable, CustomStringConvertible {
    /// The numeric priority, 0...7; lower is more severe.
    public let rawValue: Int

    /// The priority with this number, or `nil` outside 0...7.
    public init?(rawValue: Int) {
        guard (0...7).contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    private init(checked rawValue: Int) {
        self.rawValue = rawValue
    }

    /// 0: the system is unusable.
    public static let emergency = SyslogPriority(checked: 0)
    /// 1: action must be taken immediately.
    public static let alert = SyslogPriority(checked: 1)
    /// 2: critical conditions.
    public static let critical = SyslogPriority(checked: 2)
    /// 3: error conditions.
    public static let error = SyslogPriority(checked: 3)
    /// 4: warning conditions.
    public static let warning = SyslogPriority(checked: 4)
    /// 5: normal but significant conditions.
    public static let notice = SyslogPriority(checked: 5)
    /// 6: informational messages.
    public static let info = SyslogPriority(checked: 6)
    /// 7: debugging messages.
    public static let debug = SyslogPriority(checked: 7)

    /// The priority for a swift-log level: `trace` and `debug` → debug (7), `info` → info (6),
    /// `notice` → notice (5), `warning` → warning (4), `error` → error (3), `critical` →
    /// critical (2). swift-log has no level for alert or emergency.
    public init(_ level: Logger.Level) {
        switch level {
        case .trace, .debug: self = .debug
        case .info: self = .info
        case .notice: self = .notice
        case .warning: self = .warning
        case .error: self = .error
        case .critical: self = .critical
        }
    }

    /// The number, as journald writes it (`"6"` for info).
    public var description: String {
        String(rawValue)
    }
}
