/// One field of a service-manager notification, as described in `sd_notify(3)`.
///
/// Build a notification from one or more states and hand them to ``Notifier/send(_:)-(NotifyState...)``,
/// which encodes all of them into a single datagram, in the order given. The wrapper struct (rather
/// than a public enum) lets new states be added without breaking code that switches over them.
///
/// States are plain values: constructing one never fails. Values that cannot be encoded (a newline in
/// a status text, a negative timeout, a custom key without the `X_` prefix) are refused by the
/// notifier at send time with a ``NotifyError``, before anything is written to the socket.
public struct NotifyState: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        case ready
        case reloading
        case stopping
        case status(String)
        case errno(Int32)
        case busError(String)
        case mainPID(Int32)
        case watchdog
        case watchdogTrigger
        case watchdogTimeout(Duration)
        case extendTimeout(Duration)
        case custom(name: String, value: String)
    }

    let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// `READY=1`: start-up is finished (or a reload is complete) and the service is serving.
    public static let ready = NotifyState(.ready)

    /// `RELOADING=1` followed by `MONOTONIC_USEC=`, the `CLOCK_MONOTONIC` time read when the
    /// datagram is encoded.
    ///
    /// systemd 253 and later need the timestamp for `Type=notify-reload`; older managers ignore the
    /// unknown field, so it is always sent. Send ``ready`` once the reload is done.
    public static let reloading = NotifyState(.reloading)

    /// `STOPPING=1`: the service has begun shutting down.
    public static let stopping = NotifyState(.stopping)

    /// `STATUS=`: a one-line, human-readable description of what the service is doing, shown by
    /// `systemctl status`.
    ///
    /// The text must not contain a newline or a NUL byte; the notifier refuses it otherwise.
    public static func status(_ text: String) -> NotifyState {
        NotifyState(.status(text))
    }

    /// `ERRNO=`: the `errno`-style error the service failed with, shown by `systemctl status`.
    ///
    /// The code must lie in 0...4095 (the range systemd accepts); the notifier refuses it otherwise.
    public static func errno(_ code: Int32) -> NotifyState {
        NotifyState(.errno(code))
    }

    /// `BUSERROR=`: the D-Bus error name the service failed with, such as
    /// `org.freedesktop.DBus.Error.TimedOut`.
    ///
    /// The name must not contain a newline or a NUL byte; the notifier refuses it otherwise.
    public static func busError(_ name: String) -> NotifyState {
        NotifyState(.busError(name))
    }

    /// `MAINPID=`: the process ID systemd should treat as the service's main process.
    ///
    /// The ID must be positive; the notifier refuses it otherwise.
    public static func mainPID(_ pid: Int32) -> NotifyState {
        NotifyState(.mainPID(pid))
    }

    /// `WATCHDOG=1`: a keep-alive ping. Send it at ``Watchdog/pingInterval``, and only while healthy.
    public static let watchdog = NotifyState(.watchdog)

    /// `WATCHDOG=trigger`: asks the manager to act as if the watchdog timeout had expired.
    public static let watchdogTrigger = NotifyState(.watchdogTrigger)

    /// `WATCHDOG_USEC=`: changes the watchdog timeout at run time.
    ///
    /// The duration is sent in whole microseconds, rounded up so that the timeout is never shorter
    /// than asked. A negative duration, or one too long to express in microseconds, is refused.
    public static func watchdogTimeout(_ timeout: Duration) -> NotifyState {
        NotifyState(.watchdogTimeout(timeout))
    }

    /// `EXTEND_TIMEOUT_USEC=`: asks for more time for the current start-up, reload or stop.
    ///
    /// The manager's timeout is extended to at least this long from now; send it again before it
    /// runs out to keep extending. Rounded up to whole microseconds; a negative duration, or one too
    /// long to express in microseconds, is refused.
    public static func extendTimeout(_ extra: Duration) -> NotifyState {
        NotifyState(.extendTimeout(extra))
    }

    /// A custom field, `NAME=value`, for a manager or relay that understands it.
    ///
    /// The name must start with `X_` followed by one or more ASCII letters, digits or `_`, so that
    /// it can never collide with a field systemd defines. The value must not contain a newline or a
    /// NUL byte. The notifier refuses the state otherwise.
    public static func custom(_ name: String, _ value: String) -> NotifyState {
        NotifyState(.custom(name: name, value: value))
    }

    /// The text of a ``status(_:)`` state; nil for every other state. Lets a sender coalesce
    /// status lines, where only the latest matters.
    public var statusText: String? {
        if case .status(let text) = kind { return text }
        return nil
    }

    /// The field as it would appear in the datagram, for logs and test failures. For
    /// ``reloading`` the timestamp is shown as a placeholder, since it is read at send time.
    public var description: String {
        switch kind {
        case .ready: "READY=1"
        case .reloading: "RELOADING=1\\nMONOTONIC_USEC=<now>"
        case .stopping: "STOPPING=1"
        case .status(let text): "STATUS=\(text)"
        case .errno(let code): "ERRNO=\(code)"
        case .busError(let name): "BUSERROR=\(name)"
        case .mainPID(let pid): "MAINPID=\(pid)"
        case .watchdog: "WATCHDOG=1"
        case .watchdogTrigger: "WATCHDOG=trigger"
        case .watchdogTimeout(let timeout): "WATCHDOG_USEC=<\(timeout)>"
        case .extendTimeout(let extra): "EXTEND_TIMEOUT_USEC=<\(extra)>"
        case .custom(let name, let value): "\(name)=\(value)"
        }
    }

    /// The name of the notify field this state sets, as in the datagram: `READY`, `RELOADING`,
    /// `STOPPING`, `STATUS`, `ERRNO`, `BUSERROR`, `MAINPID`, `WATCHDOG` (for both ``watchdog``
    /// and ``watchdogTrigger``), `WATCHDOG_USEC`, `EXTEND_TIMEOUT_USEC`, or a custom field's name.
    ///
    /// For a sender that treats fields differently, for example one that keeps only the latest
    /// `STATUS` while the manager is not reading, without parsing datagrams itself.
    public var field: String {
        switch kind {
        case .ready: "READY"
        case .reloading: "RELOADING"
        case .stopping: "STOPPING"
        case .status: "STATUS"
        case .errno: "ERRNO"
        case .busError: "BUSERROR"
        case .mainPID: "MAINPID"
        case .watchdog, .watchdogTrigger: "WATCHDOG"
        case .watchdogTimeout: "WATCHDOG_USEC"
        case .extendTimeout: "EXTEND_TIMEOUT_USEC"
        case .custom(let name, _): name
        }
    }

    /// Appends this state's `NAME=value` line(s), without a trailing newline.
    func encode(into message: inout String) throws(NotifyError) {
        switch kind {
        case .ready:
            message += "READY=1"
        case .reloading:
            message += "RELOADING=1\nMONOTONIC_USEC="
            message += String(MonotonicClock.nowMicroseconds())
        case .stopping:
            message += "STOPPING=1"
        case .status(let text):
            try Self.checkSingleLine(text, field: "STATUS")
            message += "STATUS="
            message += text
        case .errno(let code):
            guard (0...4095).contains(code) else {
                throw .invalidValue(
                    field: "ERRNO", value: String(code),
                    problem: "is outside 0...4095; pass a positive errno constant such as EIO")
            }
            message += "ERRNO="
            message += String(code)
        case .busError(let name):
            try Self.checkSingleLine(name, field: "BUSERROR")
            message += "BUSERROR="
            message += name
        case .mainPID(let pid):
            guard pid > 0 else {
                throw .invalidValue(
                    field: "MAINPID", value: String(pid),
                    problem: "is not a process ID; pass the positive pid of the new main process")
            }
            message += "MAINPID="
            message += String(pid)
        case .watchdog:
            message += "WATCHDOG=1"
        case .watchdogTrigger:
            message += "WATCHDOG=trigger"
        case .watchdogTimeout(let timeout):
            message += "WATCHDOG_USEC="
            message += String(try Self.microseconds(timeout, field: "WATCHDOG_USEC"))
        case .extendTimeout(let extra):
            message += "EXTEND_TIMEOUT_USEC="
            message += String(try Self.microseconds(extra, field: "EXTEND_TIMEOUT_USEC"))
        case .custom(let name, let value):
            guard Self.isCustomName(name) else { throw .invalidCustomName(name) }
            try Self.checkSingleLine(value, field: name)
            message += name
            message += "="
            message += value
        }
    }

    private static func checkSingleLine(_ value: String, field: String) throws(NotifyError) {
        // The datagram is newline-separated NAME=value lines, and sd_notify takes a C string, so a
        // newline would start a forged field and a NUL would silently cut the message short.
        for byte in value.utf8 {
            if byte == UInt8(ascii: "\n") {
                throw .invalidValue(
                    field: field, value: value,
                    problem: "contains a newline, which would start a new field; send a single line")
            }
            if byte == 0 {
                throw .invalidValue(
                    field: field, value: value,
                    problem: "contains a NUL byte, which would cut the message short; remove it")
            }
        }
    }

    private static func isCustomName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "X"), bytes[1] == UInt8(ascii: "_") else {
            return false
        }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
                true
            default:
                false
            }
        }
    }

    private static func microseconds(_ duration: Duration, field: String) throws(NotifyError) -> UInt64 {
        guard let value = duration.microsecondsRoundedUp else {
            throw .invalidValue(
                field: field, value: "\(duration)",
                problem: "is negative or too long to express in microseconds; pass a duration of zero or more")
        }
        return value
    }
}
