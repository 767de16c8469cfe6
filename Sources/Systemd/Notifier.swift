import CSystemd
import Glibc

/// Tells the service manager about the service's state through the `sd_notify(3)` protocol.
///
/// ```swift
/// let notifier = Notifier()
/// try notifier.send(.ready, .status("listening on :8080"))
/// ```
///
/// Each ``send(_:)-(NotifyState...)`` encodes all its states, in order, as newline-separated
/// `NAME=value` lines in **one** datagram, so the manager applies them together.
///
/// - Where it sends: ``init()`` uses libsystemd's `sd_notify`, which reads `NOTIFY_SOCKET` from
///   the process environment at each send. ``init(environment:)`` and ``init(socket:)`` take the
///   address as a value and send the same bytes the same way, without touching the environment
///   (useful for tests and for relays). The environment is never modified: `NOTIFY_SOCKET` stays
///   set, so use ``ProcessEnvironment/forChildren()`` when spawning children.
/// - Without a socket: when there is no `NOTIFY_SOCKET`, sending is a silent no-op that returns
///   `false`, so the same code runs under systemd and on a terminal.
/// - Failures: values that would corrupt the datagram are refused before anything is sent; a bad
///   address or a failed send throws. All are ``NotifyError``s.
/// - Cost: one `socket`/`sendto`/`close` per send, as in `sd_notify`: about 10 µs, cheap enough
///   for every state change (see the notifier figures in BENCHMARKS.md).
/// - Concurrency: a `Notifier` is an immutable value; any thread may send at any time.
public struct Notifier: Sendable {
    enum Target: Sendable, Hashable {
        case processEnvironment
        case socket(String)
        case none
    }

    let target: Target

    /// A notifier that sends through libsystemd's `sd_notify` to the socket named by the process's
    /// `NOTIFY_SOCKET`, read at each send.
    public init() {
        target = .processEnvironment
    }

    /// A notifier that sends to the `NOTIFY_SOCKET` of `environment`, or does nothing when
    /// `environment` has no `NOTIFY_SOCKET`. The address is checked when sending, as `sd_notify`
    /// does.
    public init(environment: [String: String]) {
        self.init(socket: environment["NOTIFY_SOCKET"])
    }

    /// A notifier that sends to `address`, written as `NOTIFY_SOCKET` would be: an absolute path
    /// (`/run/systemd/notify`) or an abstract name (`@name`). With `nil`, sending is a no-op that
    /// returns `false`. The address is checked when sending, as `sd_notify` does.
    public init(socket address: String?) {
        target = address.map(Target.socket) ?? .none
    }

    /// Sends `states` in one datagram.
    ///
    /// - Returns: `true` when the datagram was handed to the socket; `false` when there is no
    ///   notify socket to send to (no `NOTIFY_SOCKET`), in which case nothing happens.
    /// - Throws: ``NotifyError/noStates`` for an empty call; ``NotifyError/invalidValue(field:value:problem:)``
    ///   or ``NotifyError/invalidCustomName(_:)`` for a value that cannot be encoded, before
    ///   anything is sent; ``NotifyError/invalidSocketAddress(_:)`` for an address that is neither a
    ///   path nor an abstract name; ``NotifyError/sendFailed(socket:code:)`` when the kernel refuses
    ///   the datagram. Value errors are thrown even when there is no socket, so that a bad value
    ///   shows up on a developer's terminal rather than only in production.
    @discardableResult
    public func send(_ states: NotifyState...) throws(NotifyError) -> Bool {
        try send(states)
    }

    /// Sends `states` in one datagram; the array form of ``send(_:)-(NotifyState...)``, with the same
    /// contract.
    @discardableResult
    public func send(_ states: [NotifyState]) throws(NotifyError) -> Bool {
        let message = try Self.datagram(states)
        switch target {
        case .none:
            return false
        case .socket(let address):
            try NotifySocket.send(message, to: address)
            return true
        case .processEnvironment:
            let result = sd_notify(0, message)
            if result > 0 {
                return true
            }
            if result == 0 {
                return false
            }
            let address = getenv("NOTIFY_SOCKET").map { String(cString: $0) } ?? ""
            // sd_notify reports a malformed or over-long address as EINVAL or ENAMETOOLONG; give
            // those the same error the explicit-address path gives.
            if result == -EINVAL || result == -ENAMETOOLONG {
                throw .invalidSocketAddress(address)
            }
            throw .sendFailed(socket: address, code: -result)
        }
    }

    /// The exact text of the datagram that ``send(_:)-([NotifyState])`` would send for `states`:
    /// each state's `NAME=value` line(s), joined by `\n`, with no trailing newline.
    ///
    /// - Throws: the same value errors as ``send(_:)-([NotifyState])``.
    public static func datagram(_ states: [NotifyState]) throws(NotifyError) -> String {
        guard !states.isEmpty else { throw .noStates }
        var message = ""
        for (index, state) in states.enumerated() {
            if index > 0 {
                message += "\n"
            }
            try state.encode(into: &message)
        }
        return message
    }
}
