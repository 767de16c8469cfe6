/// Why a notification was not delivered. Every case says what to change.
///
/// A missing `NOTIFY_SOCKET` is not an error: sending then returns `false` (see ``Notifier``).
public enum NotifyError: Error, Hashable, CustomStringConvertible {
    /// `send` was called with no states; there is nothing to tell the manager.
    case noStates

    /// A state's value cannot be encoded without corrupting the datagram, or is outside what the
    /// field accepts. `field` is the notify field (such as `STATUS`), `problem` says what to change.
    case invalidValue(field: String, value: String, problem: String)

    /// A ``NotifyState/custom(_:_:)`` name does not match `X_[A-Za-z0-9_]+`.
    case invalidCustomName(String)

    /// The socket address (`NOTIFY_SOCKET`) is neither an absolute path nor an abstract `@name`,
    /// or is too long for a Unix socket address.
    case invalidSocketAddress(String)

    /// The datagram could not be sent to `socket`; `code` is the `errno` value, for example
    /// `ENOENT` when nothing exists at that path, or `ECONNREFUSED` when nothing is bound there.
    case sendFailed(socket: String, code: Int32)

    /// A one-line explanation naming what to fix.
    public var description: String {
        switch self {
        case .noStates:
            "no notify states given; pass at least one, such as .ready"
        case .invalidValue(let field, let value, let problem):
            "notify field \(field): value \(String(reflecting: value)) \(problem)"
        case .invalidCustomName(let name):
            "custom notify field name \(String(reflecting: name)) must be X_ followed by letters, digits or _, such as X_PHASE"
        case .invalidSocketAddress(let address):
            "NOTIFY_SOCKET \(String(reflecting: address)) is not usable: it must be an absolute path or an @abstract name shorter than 108 bytes; fix the variable or unset it"
        case .sendFailed(let socket, let code):
            "cannot send to notify socket \(String(reflecting: socket)): \(SystemErrno.describe(code)) (errno \(code)); check that the service manager is still listening there"
        }
    }
}
