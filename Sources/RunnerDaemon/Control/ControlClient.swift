import Glibc

/// Why a control client could not get its answer. Each case maps to the exit code that
/// `runnerd status|start|stop|restart|reload` documents.
package enum ControlClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing listens at the socket (or there is no socket): is runnerd running?
    case noDaemon(path: String, errno: Int32)
    /// The socket's permissions, or the daemon's own check, refused this user.
    case notAllowed(String)
    /// The daemon answered with a varlink error.
    case failed(error: String, parameters: JSONValue)
    /// The answer did not come within the client's time limit.
    case timedOut(Duration)
    /// The daemon closed the connection or sent something that is not a reply.
    case badReply(String)

    package var description: String {
        switch self {
        case .noDaemon(let path, let code):
            "no runnerd answers at \(path) (\(String(cString: strerror(code)))); is it running? (`systemctl status runnerd`, or give --control-socket)"
        case .notAllowed(let what):
            "not allowed: \(what)"
        case .failed(let error, let parameters):
            "\(error) \(parameters.text)"
        case .timedOut(let limit):
            "no answer within \(limit)"
        case .badReply(let what):
            "a reply runnerd should not have sent: \(what)"
        }
    }
}

/// A blocking varlink client of the control socket, for the `runnerd` subcommands: one
/// connection, calls in turn, each bounded by a time limit.
package final class ControlClient {
    private let fd: Int32
    private let path: String
    private var buffer: [UInt8] = []
    /// Where the search for the next message's NUL resumes: bytes before it hold none.
    private var searched = 0

    /// Connects to the first of `paths` where a daemon listens.
    package init(paths: [String]) throws(ControlClientError) {
        var lastError: ControlClientError = .noDaemon(path: paths.first ?? "", errno: ENOENT)
        for path in paths {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw .badReply("cannot create a socket: errno \(errno)") }
            let connected = UnixSocketAddress.with(path) { connect(fd, $0, $1) } ?? -1
            if connected == 0 {
                self.fd = fd
                self.path = path
                return
            }
            let code = errno
            close(fd)
            lastError = code == EACCES || code == EPERM
                ? .notAllowed("\(path): \(String(cString: strerror(code))); ask for membership of the config's control-group, or use sudo")
                : .noDaemon(path: path, errno: code)
            if case .notAllowed = lastError { throw lastError }
        }
        throw lastError
    }

    deinit {
        close(fd)
    }

    /// Sends `call` and returns its one reply; a varlink error reply is thrown.
    package func call(_ call: VarlinkCall, timeout: Duration) throws(ControlClientError) -> JSONValue {
        try send(call)
        return try Self.decode(try receiveMessage(timeout: timeout)).parameters
    }

    /// Sends `call` and returns its reply's parameters as the daemon wrote them, checked but not
    /// decoded (for `--json`, which prints them as they are); a varlink error reply is thrown.
    package func callReturningText(_ call: VarlinkCall, timeout: Duration) throws(ControlClientError) -> [UInt8] {
        try send(call)
        let message = try receiveMessage(timeout: timeout)
        let members: [(name: String, range: Range<Int>)]
        do {
            members = try JSONValue.memberRanges(of: message)
        } catch {
            throw .badReply("\(error)")
        }
        if members.contains(where: { $0.name == "error" }) { _ = try Self.decode(message) }
        guard let parameters = members.first(where: { $0.name == "parameters" }) else { return Array("{}".utf8) }
        return Array(message[parameters.range])
    }

    /// Sends `call` with `more` and hands each reply to `body` until one says it is the last or
    /// `body` returns false.
    package func stream(_ call: VarlinkCall, timeout: Duration, _ body: (JSONValue) -> Bool) throws(ControlClientError) {
        var call = call
        call.more = true
        try send(call)
        while true {
            let reply = try Self.decode(try receiveMessage(timeout: timeout))
            guard body(reply.parameters), reply.continues else { return }
        }
    }

    private func send(_ call: VarlinkCall) throws(ControlClientError) {
        let bytes = call.encoded
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .badReply("the daemon closed the connection (errno \(errno))")
            }
            sent += count
        }
    }

    /// A reply, decoded; a varlink error reply is thrown.
    private static func decode(_ message: [UInt8]) throws(ControlClientError) -> VarlinkReply {
        let reply: VarlinkReply
        do {
            reply = try VarlinkReply.decode(message)
        } catch {
            throw .badReply("\(error)")
        }
        if let error = reply.error {
            if error.hasSuffix(".PermissionDenied") {
                throw .notAllowed(reply.parameters["reason"]?.stringValue ?? "runnerd refused the call")
            }
            throw .failed(error: error, parameters: reply.parameters)
        }
        return reply
    }

    /// The next message, without its NUL.
    private func receiveMessage(timeout: Duration) throws(ControlClientError) -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = buffer[searched...].firstIndex(of: 0) {
                let message = Array(buffer[..<end])
                buffer.removeSubrange(...end)
                searched = 0
                return message
            }
            let left = deadline - .now
            guard left > .zero else { throw .timedOut(timeout) }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(Double(Int32.max), (left / .milliseconds(1)).rounded(.up)))
            let ready = poll(&poller, 1, milliseconds)
            if ready < 0 && errno != EINTR { throw .badReply("poll failed: errno \(errno)") }
            guard ready > 0 else { continue }
            searched = buffer.count
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw .badReply("cannot read from \(path): errno \(errno)")
            }
            guard count > 0 else { throw .badReply("the daemon closed the connection before it answered") }
            buffer += chunk[..<count]
        }
    }
}
