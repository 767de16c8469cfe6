import Glibc

/// A notify socket could not be set up for a service. Its description says what failed and what
/// to do about it; the service should not be started without its socket.
enum NotifyRelayError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The relay was closed before this `open`.
    case closed
    /// The relay's directory could not be created under `parent`.
    case directory(parent: String, errno: Int32)
    /// `socket(2)` or `setsockopt(2)` failed.
    case socket(errno: Int32)
    /// The address does not fit a `sockaddr_un` (107 bytes, or 106 after an abstract name's `@`).
    case addressTooLong(String)
    /// `bind(2)` failed at `address`.
    case bind(address: String, errno: Int32)
    /// The socket file could not be given to the service's user.
    case ownership(path: String, uid: uid_t, errno: Int32)

    var description: String {
        switch self {
        case .closed:
            return "the notify relay is closed (runnerd is shutting down); do not start services after it"
        case .directory(let parent, let code):
            return "cannot create a directory for notify sockets under \(parent): \(Self.reason(code)); "
                + "make \(parent) writable by runnerd, or run runnerd with RuntimeDirectory= (or TMPDIR) set to a writable directory"
        case .socket(let code):
            let hint = code == EMFILE || code == ENFILE
                ? "runnerd has run out of file descriptors; raise LimitNOFILE= in its unit"
                : "the system refused a Unix datagram socket"
            return "cannot create a notify socket: \(Self.reason(code)); \(hint)"
        case .addressTooLong(let address):
            return "the notify socket address \(address) is \(address.utf8.count) bytes, more than a Unix socket "
                + "address holds (107); use a shorter RuntimeDirectory= or TMPDIR, or abstract addresses"
        case .bind(let address, let code):
            return "cannot bind the notify socket \(address): \(Self.reason(code)); "
                + (code == EADDRINUSE ? "another process holds that address" : "check the directory's permissions")
        case .ownership(let path, let uid, let code):
            return "cannot give the notify socket \(path) to uid \(uid): \(Self.reason(code)); "
                + "runnerd must run as root to run services as another user"
        }
    }

    private static func reason(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
