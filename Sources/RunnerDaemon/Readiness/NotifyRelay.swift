import CLinuxSupport
import Glibc
import Logging
import Synchronization
import RunnerdConfig

/// Serves `NOTIFY_SOCKET` to the services whose readiness is `notify`, so that a program written
/// for systemd's `Type=notify` runs under runnerd unchanged: each run of such a service gets a
/// socket of its own (a ``NotifyEndpoint``), served on the daemon's event loop, which accepts
/// messages only from that service's processes.
///
/// ```swift
/// let endpoint = try relay.open(for: "web/api", owner: credentials?.uid) { message in ... }
/// // spawn with endpoint.environment added to the service's environment, then:
/// endpoint.authorize(processGroup: pid)
/// // ... when the run is over:
/// endpoint.close()
/// ```
///
/// - Addresses: with ``Addressing/path`` (the default), each socket is a file in a directory of
///   the relay's own, created (mode 0711) on the first `open` inside the directory given to
///   `init`: `$RUNTIME_DIRECTORY` under systemd (see ``parentDirectory(environment:)``), else
///   `$TMPDIR` or `/tmp`. A fresh directory per relay means no stale socket of an earlier daemon
///   can be in the way. With ``Addressing/abstract``, sockets live in the abstract namespace as
///   `@runnerd/<daemon pid>/<group>/<service>/<n>`: nothing to clean up, but any process in the
///   network namespace can reach them, so the credential check is all that keeps strangers out
///   (it is for paths too; file permissions only narrow who can try).
/// - Credentials: see ``NotifyEndpoint`` for who counts as the service, and what systemd-notify
///   puts in its credentials.
/// - Threads: `open` and `close` may be called from any thread; every message is handled, and
///   every callback runs, on the event loop's thread.
/// - Lifetime: ``close()`` closes every endpoint still open and removes the directory. It is
///   called by `deinit` too, so a relay that goes away leaves nothing behind.
final class NotifyRelay: Sendable {
    /// Where a relay binds its sockets.
    enum Addressing: Sendable, Equatable {
        /// A socket file under the relay's directory.
        case path
        /// A name in the abstract Unix socket namespace (Linux).
        case abstract
    }

    private struct State {
        var directory: String?
        var nextNumber = 1
        var endpoints: [Int: NotifyEndpoint] = [:]
        var closed = false
    }

    let loop: EventLoop
    let addressing: Addressing
    private let parentDirectory: String
    private let logger: Logger
    private let logInterval: Duration
    private let state = Mutex(State())


    /// A relay serving its sockets on `loop`; nothing is created until the first ``open``.
    ///
    /// - Parameters:
    ///   - directory: Where the relay creates its own directory for path sockets: pass
    ///     ``parentDirectory(environment:)``. nil means `$TMPDIR`, or `/tmp`.
    ///   - addressing: Path sockets (the default) or abstract names.
    ///   - logger: Where rejected and malformed messages are reported, rate-limited.
    ///   - logInterval: The least time between two reports of the same kind from one endpoint.
    init(
        loop: EventLoop, directory: String? = nil, addressing: Addressing = .path, logger: Logger,
        logInterval: Duration = .seconds(10)
    ) {
        self.loop = loop
        self.addressing = addressing
        self.logger = logger
        self.logInterval = logInterval
        parentDirectory = directory ?? getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    }

    deinit {
        close()
    }

    /// The directory systemd made for the daemon (the first entry of `$RUNTIME_DIRECTORY`, which
    /// lists several separated by `:` when the unit asks for several), or nil outside systemd.
    static func parentDirectory(environment: [String: String]) -> String? {
        guard let value = environment["RUNTIME_DIRECTORY"],
              let first = value.split(separator: ":").first, first.hasPrefix("/") else { return nil }
        return String(first)
    }

    /// The relay's own directory, once the first path socket has been opened; nil before that,
    /// with abstract addressing, and after ``close()``.
    var directory: String? { state.withLock { $0.directory } }

    /// Opens a notify socket for one run of `service`. Call it before spawning the service, put
    /// the endpoint's ``NotifyEndpoint/environment`` into the service's environment, and call
    /// ``NotifyEndpoint/authorize(processGroup:)`` once it has spawned. Messages that arrive in
    /// between are held, and judged then.
    ///
    /// - Parameters:
    ///   - service: `group/service`, for the socket's name and the log.
    ///   - owner: The uid the service runs as, when that is not runnerd's own: a path socket is
    ///     given to it (mode 0600), so that the service can connect and no other user can.
    ///     nil leaves the socket to runnerd's uid, mode 0600.
    ///   - onMessage: Called on the event loop for each message from the service, in the order
    ///     they arrived. It must not block. It is not called after the endpoint is closed.
    /// - Throws: ``NotifyRelayError``: nothing is left behind then.
    func open(
        for service: String, owner: uid_t? = nil, onMessage: @escaping @Sendable (NotifyMessage) -> Void
    ) throws(NotifyRelayError) -> NotifyEndpoint {
        let (number, directory) = try reserve()
        let address = Self.address(for: service, number: number, addressing: addressing, directory: directory)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .socket(errno: errno) }
        var on: Int32 = 1
        guard setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .socket(errno: code)
        }
        let path = addressing == .path ? address : nil
        do throws(NotifyRelayError) {
            try Self.bind(fd, to: address)
            if let path { try Self.restrict(path, to: owner) }
        } catch {
            Glibc.close(fd)
            if let path { unlink(path) }
            throw error
        }
        let endpoint = NotifyEndpoint(
            service: service, address: address, path: path, fd: fd, loop: loop, logger: logger,
            logInterval: logInterval, onMessage: onMessage,
            onClose: { [weak self] in self?.forget(number) }
        )
        let registered = state.withLock { state in
            guard !state.closed else { return false }
            state.endpoints[number] = endpoint
            return true
        }
        guard registered else {
            endpoint.close()
            throw .closed
        }
        endpoint.start()
        return endpoint
    }

    /// Closes every endpoint still open and removes the relay's directory. Idempotent; `open`
    /// throws ``NotifyRelayError/closed`` afterwards.
    func close() {
        let (endpoints, directory) = state.withLock { state in
            state.closed = true
            defer {
                state.endpoints = [:]
                state.directory = nil
            }
            return (Array(state.endpoints.values), state.directory)
        }
        // Each close unlinks its socket before returning, so the directory is empty after them.
        for endpoint in endpoints { endpoint.close() }
        if let directory { rmdir(directory) }
    }

    private func forget(_ number: Int) {
        state.withLock { _ = $0.endpoints.removeValue(forKey: number) }
    }

    /// The next endpoint number, and the relay's directory (created now if this is the first path
    /// socket).
    private func reserve() throws(NotifyRelayError) -> (Int, String?) {
        let result = state.withLock { state -> Result<(Int, String?), NotifyRelayError> in
            guard !state.closed else { return .failure(.closed) }
            if addressing == .path && state.directory == nil {
                var template = Array((parentDirectory + "/runnerd-notify-XXXXXX").utf8CString)
                guard let made = mkdtemp(&template) else {
                    return .failure(.directory(parent: parentDirectory, errno: errno))
                }
                let directory = String(cString: made)
                // Search but not read for others: a service running as another user must reach its
                // socket, and needs to learn nothing else here.
                chmod(directory, 0o711)
                state.directory = directory
            }
            defer { state.nextNumber += 1 }
            return .success((state.nextNumber, state.directory))
        }
        return try result.get()
    }

    /// `NOTIFY_SOCKET` for endpoint `number` of `service`: a readable name when it fits the
    /// address limit, the bare number when it does not.
    static func address(for service: String, number: Int, addressing: Addressing, directory: String?) -> String {
        switch addressing {
        case .path:
            let base = directory ?? ""
            // Config names are letters, digits, ".", "_" and "-"; the "/" between group and
            // service, and anything unexpected, becomes a ".".
            let name = String(String.UnicodeScalarView(service.unicodeScalars.map { scalar in
                ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || scalar == "-" || scalar == "_" || scalar == "." ? scalar : "."
            }))
            let readable = "\(base)/\(name).\(number)"
            return UnixSocketAddress.fits(readable) ? readable : "\(base)/\(number)"
        case .abstract:
            let readable = "@runnerd/\(getpid())/\(service)/\(number)"
            return UnixSocketAddress.fits(readable) ? readable : "@runnerd/\(getpid())/\(number)"
        }
    }

    private static func bind(_ fd: Int32, to address: String) throws(NotifyRelayError) {
        guard let bound = UnixSocketAddress.with(address, { Glibc.bind(fd, $0, $1) }) else { throw .addressTooLong(address) }
        guard bound == 0 else { throw .bind(address: address, errno: errno) }
    }

    /// Lets only the service's user (and root) connect to the socket file: connecting takes write
    /// permission on it, which `bind` grants to whatever the umask allows.
    private static func restrict(_ path: String, to owner: uid_t?) throws(NotifyRelayError) {
        if let owner, owner != geteuid() {
            guard chown(path, owner, gid_t.max) == 0 else { throw .ownership(path: path, uid: owner, errno: errno) }
        }
        chmod(path, 0o600)
    }
}
