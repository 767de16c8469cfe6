import CLinuxSupport
import Glibc
import Logging

/// What the control socket hands its decoded requests to: the supervisor, on the event loop.
protocol ControlHandler: AnyObject, Sendable {
    /// Loop only. Carries out `request` and calls `respond` (on the loop) with each reply: once,
    /// or, for a watch, again with `continues` set until the client goes away.
    func handleControl(_ request: ControlInterface.Request, id: Int, respond: @escaping (VarlinkReply) -> Void)
    /// Loop only. The client of `id` went away: its replies are no longer wanted.
    func abandonControl(_ id: Int)
}

/// The control socket: a unix stream socket speaking varlink, served on the event loop without
/// ever blocking it.
///
/// - Framing: each message is a JSON object ended by a NUL byte. Calls on one connection are
///   answered in order; the next is read once the last reply of the one before has gone out.
/// - Limits: at most ``maximumMessage`` bytes of a message, or of calls sent ahead of their
///   replies; at most ``maximumClients`` clients at once (one more is told so and closed); and a
///   client with no call under way that sends
///   nothing for ``idleTimeout`` is dropped. A client that stops reading is dropped once
///   ``maximumPendingOutput`` bytes wait for it. Whatever a client sends, the worst it gets is an
///   error reply and a closed connection; the daemon is never affected.
/// - Permissions: ``ControlAccess``, from the peer's credentials at connect time; the socket is
///   mode 0660 with group `control-group`, 0600 without one.
/// - Cost: nothing runs while no client is connected; the listening socket is one more
///   descriptor in the loop's epoll set.
final class ControlServer: @unchecked Sendable {
    // @unchecked: everything mutable is touched only on the loop thread (`open` and `close` hop
    // onto it); other threads only hold a reference.

    static let maximumMessage = 64 * 1024
    static let maximumClients = 16
    static let idleTimeout: Duration = .seconds(10)
    static let maximumPendingOutput = 16 * 1024 * 1024

    private final class Connection {
        let fd: Int32
        let access: ControlAccess
        var input: [UInt8] = []
        var output: [UInt8] = []
        var sentOffset = 0
        /// The call being answered, if any.
        var pending: Int?
        var idleTimer: EventLoop.TimerID?
        /// Close once the output has gone out.
        var closing = false

        init(fd: Int32, access: ControlAccess) {
            self.fd = fd
            self.access = access
        }
    }

    let path: String
    private let controlGroup: gid_t?
    private let loop: EventLoop
    private let logger: Logger
    private let handler: any ControlHandler
    private let version: String
    private var listener: Int32 = -1
    private var connections: [Int32: Connection] = [:]
    private var nextRequest = 1

    init(path: String, controlGroup: gid_t?, loop: EventLoop, logger: Logger, handler: any ControlHandler, version: String) {
        self.path = path
        self.controlGroup = controlGroup
        self.loop = loop
        self.logger = logger
        self.handler = handler
        self.version = version
    }

    /// Why the socket could not be opened.
    struct OpenError: Error, CustomStringConvertible {
        var description: String
    }

    /// Creates the socket file (and its directory) and starts serving it. The socket appears
    /// under its final name only with its final mode and group: it is bound under a temporary
    /// name and renamed into place. A daemon already answering at the path is left alone.
    func open() throws(OpenError) {
        let directory = String(path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/"))
        if !directory.isEmpty { try Self.makeDirectory(directory) }
        // A stale file of a daemon that died is replaced; a live daemon's is not.
        if Self.somebodyAnswers(at: path) {
            throw OpenError(description: "another runnerd answers at \(path); give this one its own --control-socket")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw OpenError(description: "cannot create a socket: \(Self.reason(errno))") }
        let temporary = "\(directory.isEmpty ? "." : directory)/.control-\(getpid()).tmp"
        unlink(temporary)
        guard UnixSocketAddress.with(temporary, { bind(fd, $0, $1) }) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw OpenError(description: "cannot bind \(path): \(UnixSocketAddress.fits(temporary) ? Self.reason(code) : "the path is longer than \(UnixSocketAddress.maximumPathLength) bytes")")
        }
        if let controlGroup { chown(temporary, uid_t.max, controlGroup) }
        chmod(temporary, controlGroup == nil ? 0o600 : 0o660)
        guard listen(fd, 64) == 0, rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            Glibc.close(fd)
            throw OpenError(description: "cannot listen at \(path): \(Self.reason(code))")
        }
        listener = fd
        loop.execute { [self] in
            loop.watch(fd) { [self] in acceptAll() }
        }
    }

    /// Stops serving, closes every connection and removes the socket file.
    func close() {
        guard listener >= 0 else { return }
        let fd = listener
        listener = -1
        unlink(path)
        loop.execute { [self] in
            loop.unwatch(fd)
            Glibc.close(fd)
            for connection in connections.values { drop(connection) }
        }
    }

    // MARK: - Connections

    private func acceptAll() {
        while true {
            let fd = runnerd_accept_nonblocking(listener)
            guard fd >= 0 else { return }
            let connection = Connection(fd: fd, access: ControlAccess(peerOf: fd, controlGroup: controlGroup))
            if connections.count >= Self.maximumClients {
                // Told why, best effort, and closed: the one message fits any socket buffer.
                let reply = VarlinkReply.failure("\(ControlInterface.name).TooManyClients", [("limit", .number(Double(Self.maximumClients)))]).encoded
                _ = reply.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                Glibc.close(fd)
                continue
            }
            connections[fd] = connection
            loop.watch(fd) { [self] in readable(connection) }
            armIdleTimer(connection)
        }
    }

    private func readable(_ connection: Connection) {
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { break }
                return drop(connection)
            }
            if count == 0 { return drop(connection) }
            if connection.closing { continue }
            connection.input += chunk[..<count]
            armIdleTimer(connection)
            process(connection)
            guard connections[connection.fd] === connection, !connection.closing else { return }
            // What waits unanswered, pipelined calls included, is bounded by the one limit: a
            // client with a watch open cannot queue up calls without end.
            if connection.input.count > Self.maximumMessage {
                return refuse(connection, .failure("\(ControlInterface.name).RequestTooLarge", [("limit", .number(Double(Self.maximumMessage)))]))
            }
        }
    }

    /// Answers the buffered calls of `connection`, one at a time.
    private func process(_ connection: Connection) {
        while connection.pending == nil, !connection.closing, let end = connection.input.firstIndex(of: 0) {
            let message = connection.input[..<end]
            let call: VarlinkCall
            do {
                call = try VarlinkCall.decode(message)
            } catch {
                let reason: String
                switch error {
                case .notJSON(let problem): reason = "\(problem)"
                case .notACall(let problem): reason = problem
                }
                return refuse(connection, .failure("\(ControlInterface.name).InvalidMessage", [("reason", .string(reason))]))
            }
            connection.input.removeSubrange(...end)
            dispatch(call, on: connection)
        }
    }

    private func dispatch(_ call: VarlinkCall, on connection: Connection) {
        guard connection.access.allows(call.method) else {
            if !call.oneway { write(.failure("org.varlink.service.PermissionDenied"), to: connection) }
            logger.notice("control socket: uid \(connection.access.uid) may not call \(call.method)")
            return
        }
        let request: ControlInterface.Request
        switch ControlInterface.request(for: call) {
        case .request(let decoded): request = decoded
        case .error(let reply):
            if !call.oneway { write(reply, to: connection) }
            return
        }
        switch request {
        case .getInfo:
            if !call.oneway { write(VarlinkReply(parameters: ControlInterface.info(version: version)), to: connection) }
        case .describe(let interface):
            let text = interface == ControlInterface.name ? ControlInterface.description : ControlInterface.serviceDescription
            if !call.oneway { write(VarlinkReply(parameters: .object([("description", .string(text))])), to: connection) }
        default:
            let id = nextRequest
            nextRequest += 1
            let oneway = call.oneway
            if !oneway {
                connection.pending = id
                cancelIdleTimer(connection)
            }
            handler.handleControl(request, id: id, respond: { [weak self, weak connection] reply in
                guard let self, let connection, !oneway, connection.pending == id, self.connections[connection.fd] === connection else { return }
                self.write(reply, to: connection)
                if !reply.continues {
                    connection.pending = nil
                    self.armIdleTimer(connection)
                    self.process(connection)
                }
            })
        }
    }

    /// Sends `reply` and closes the connection once it has gone out.
    private func refuse(_ connection: Connection, _ reply: VarlinkReply) {
        connection.input = []
        write(reply, to: connection)
        connection.closing = true
        flush(connection)
    }

    // MARK: - Output

    private func write(_ reply: VarlinkReply, to connection: Connection) {
        connection.output += reply.encoded
        if connection.output.count - connection.sentOffset > Self.maximumPendingOutput {
            logger.warning("control socket: dropping a client that does not read its replies (uid \(connection.access.uid))")
            return drop(connection)
        }
        flush(connection)
    }

    private func flush(_ connection: Connection) {
        while connection.sentOffset < connection.output.count {
            let count = connection.output[connection.sentOffset...].withUnsafeBytes {
                send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    if !loop.isWatchedWritable(connection.fd) {
                        loop.watchWritable(connection.fd) { [self] in flush(connection) }
                    }
                    return
                }
                return drop(connection)
            }
            connection.sentOffset += count
        }
        connection.output = []
        connection.sentOffset = 0
        loop.unwatchWritable(connection.fd)
        if connection.closing { drop(connection) }
    }

    private func drop(_ connection: Connection) {
        guard connections.removeValue(forKey: connection.fd) != nil else { return }
        cancelIdleTimer(connection)
        loop.unwatch(connection.fd)
        loop.unwatchWritable(connection.fd)
        Glibc.close(connection.fd)
        if let id = connection.pending {
            connection.pending = nil
            handler.abandonControl(id)
        }
    }

    // MARK: - Idle clients

    private func armIdleTimer(_ connection: Connection) {
        cancelIdleTimer(connection)
        guard connection.pending == nil else { return }
        connection.idleTimer = loop.schedule(after: Self.idleTimeout) { [weak self, weak connection] in
            guard let self, let connection else { return }
            connection.idleTimer = nil
            self.drop(connection)
        }
    }

    private func cancelIdleTimer(_ connection: Connection) {
        if let timer = connection.idleTimer { loop.cancelTimer(timer) }
        connection.idleTimer = nil
    }

    // MARK: - The socket file

    private static func makeDirectory(_ directory: String) throws(OpenError) {
        var parts: [String] = []
        for part in directory.split(separator: "/") {
            parts.append(String(part))
            let prefix = (directory.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw OpenError(description: "cannot create \(prefix): \(reason(errno))")
            }
        }
    }

    /// Whether a daemon accepts connections at `path` now.
    private static func somebodyAnswers(at path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        return UnixSocketAddress.with(path, { connect(fd, $0, $1) }) == 0
    }

    private static func reason(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
