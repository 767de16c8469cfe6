import Glibc
import Synchronization

/// A non-blocking datagram socket to the service manager's notify socket (`NOTIFY_SOCKET`),
/// opened once, for a program whose event loop must never wait on the manager.
///
/// ``Notifier`` sends the way `sd_notify` does: a blocking `sendto` on a new socket per message.
/// When the manager does not read its socket (a busy or stopped PID 1, or a test's socket that is
/// bound and never read) its receive queue fills, and such a send waits until the manager reads
/// again. ``trySend(_:)-(String)`` never waits: when the queue is full it returns
/// ``SendResult/wouldBlock``, and the caller waits for ``fileDescriptor`` to become writable
/// (`EPOLLOUT`), which the kernel reports once the manager has taken datagrams out of its queue.
///
/// ```swift
/// guard let connection = try NotifyConnection(environment: ProcessEnvironment.current().variables) else {
///     return  // not under a service manager
/// }
/// switch try connection.trySend(Notifier.datagram([.ready])) {
/// case .sent: break
/// case .wouldBlock: break  // wait for connection.fileDescriptor to be writable, then try again
/// }
/// ```
///
/// - Socket: `SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC`, created by the initializer and
///   connected to the address on the first send. It has to be connected: only a connected Unix
///   datagram socket reports its peer's full queue through `poll`/`epoll`; an unconnected one
///   looks writable all the time.
/// - A replaced manager socket: a send on a connection whose peer socket was closed fails with
///   `ECONNREFUSED`; the same descriptor is then connected again to the address and the send is
///   tried once more. So ``fileDescriptor`` stays the same for the connection's whole life, and
///   an event loop may keep watching it.
/// - Datagrams: each send is one datagram, sent with `MSG_NOSIGNAL` and `MSG_DONTWAIT`, carrying
///   exactly the bytes given: encode states with ``Notifier/datagram(_:)``. The kernel attaches
///   the sender's credentials itself, since the manager's socket has `SO_PASSCRED`.
/// - Concurrency: thread-safe. Sends from several threads are serialised by a lock that is held
///   only for the duration of a non-blocking system call; datagrams sent from one thread arrive
///   in order.
public final class NotifyConnection: Sendable {
    /// What a non-blocking send did with a datagram. A failure is thrown instead.
    public enum SendResult: Sendable, Hashable {
        /// The kernel queued the datagram at the manager's socket.
        case sent
        /// The manager's receive queue is full (`EAGAIN`); nothing was sent. Try again once
        /// ``NotifyConnection/fileDescriptor`` is writable.
        case wouldBlock
    }

    /// The manager's address as `NOTIFY_SOCKET` spells it: an absolute path or an `@abstract` name.
    public let address: String

    /// The socket, for an event loop to wait on for writability after a
    /// ``SendResult/wouldBlock``. It stays the same, and open, until the connection is
    /// deinitialised; do not read from it, close it or change its flags.
    public let fileDescriptor: Int32

    /// Whether `fileDescriptor` is connected to `address`. Also the lock that serialises sends.
    private let connected = Mutex(false)

    /// A connection to `address`, written as `NOTIFY_SOCKET` would be: an absolute path
    /// (`/run/systemd/notify`) or an abstract name (`@name`).
    ///
    /// Creates the socket but does not connect it yet, so a manager that is not listening at this
    /// moment is not an error here: the first send connects.
    ///
    /// - Throws: ``NotifyError/invalidSocketAddress(_:)`` for an address that is neither a path
    ///   nor an abstract name, or is too long (the rules of ``Notifier/init(socket:)``);
    ///   ``NotifyError/sendFailed(socket:code:)`` when no socket can be created (for example
    ///   `EMFILE`: the process is out of file descriptors).
    public init(socket address: String) throws(NotifyError) {
        var storage = sockaddr_un()
        _ = try NotifySocket.fill(&storage, with: address)
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = Glibc.socket(AF_UNIX, type, 0)
        guard fd >= 0 else { throw .sendFailed(socket: address, code: errno) }
        self.address = address
        self.fileDescriptor = fd
    }

    /// A connection to the `NOTIFY_SOCKET` of `environment`, or `nil` when it has none (the
    /// process does not run under a service manager that listens for notifications).
    ///
    /// - Throws: the errors of ``init(socket:)``.
    public convenience init?(environment: [String: String]) throws(NotifyError) {
        guard let address = environment["NOTIFY_SOCKET"] else { return nil }
        try self.init(socket: address)
    }

    deinit {
        close(fileDescriptor)
    }

    /// Sends `datagram` as one datagram if the manager's queue has room, and never waits.
    ///
    /// - Returns: ``SendResult/sent``, or ``SendResult/wouldBlock`` when the manager's receive
    ///   queue (or this socket's send buffer) is full; then nothing was sent.
    /// - Throws: ``NotifyError/sendFailed(socket:code:)`` when the kernel refuses the datagram or
    ///   the connection: `ENOENT` when nothing exists at the address, `ECONNREFUSED` when nothing
    ///   is bound there (also after one reconnection attempt), `EMSGSIZE` for a datagram larger
    ///   than the socket allows. The connection stays usable after an error.
    public func trySend(_ datagram: String) throws(NotifyError) -> SendResult {
        var text = datagram
        let outcome = text.withUTF8 { send(UnsafeRawBufferPointer($0)) }
        switch outcome {
        case 0:
            return .sent
        case EAGAIN, EWOULDBLOCK:
            return .wouldBlock
        default:
            throw .sendFailed(socket: address, code: outcome)
        }
    }

    /// Encodes `states` with ``Notifier/datagram(_:)`` and sends them as one datagram; the contract
    /// of ``trySend(_:)-(String)``, plus its value errors (thrown before anything is sent).
    public func trySend(_ states: [NotifyState]) throws(NotifyError) -> SendResult {
        try trySend(Notifier.datagram(states))
    }

    /// Sends `bytes`, connecting first when needed; 0 or the errno.
    private func send(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let address = self.address
        let fd = fileDescriptor
        return connected.withLock { isConnected -> Int32 in
            // A peer that was closed (the manager's socket was replaced) fails the send with
            // ECONNREFUSED and leaves the socket unconnected: connect again once and retry.
            for attempt in 0..<2 {
                if !isConnected {
                    let code = Self.connect(fd, to: address)
                    guard code == 0 else { return code }
                    isConnected = true
                }
                let code = Self.send(bytes, on: fd)
                if (code == ECONNREFUSED || code == ENOTCONN) && attempt == 0 {
                    isConnected = false
                    continue
                }
                return code
            }
            return ECONNREFUSED
        }
    }

    /// Connects `fd` to `address`; 0 or the errno. Connecting a datagram socket never waits.
    private static func connect(_ fd: Int32, to address: String) -> Int32 {
        var storage = sockaddr_un()
        // The address was checked by the initializer, so filling cannot fail here.
        guard let length = try? NotifySocket.fill(&storage, with: address) else { return EINVAL }
        let result = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        return result == 0 ? 0 : errno
    }

    /// Sends one datagram on the connected, non-blocking `fd`; 0 or the errno.
    private static func send(_ bytes: UnsafeRawBufferPointer, on fd: Int32) -> Int32 {
        // MSG_DONTWAIT as well as SOCK_NONBLOCK: the descriptor is public, and a caller that
        // clears O_NONBLOCK on it must still not turn this into a blocking send.
        let flags = Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)
        while true {
            if Glibc.send(fd, bytes.baseAddress, bytes.count, flags) >= 0 { return 0 }
            let error = errno
            if error != EINTR { return error }
        }
    }
}
