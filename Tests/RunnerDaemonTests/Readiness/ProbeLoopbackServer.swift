import Runner
import CLinuxSupport
import Glibc
@testable import RunnerDaemon
import Synchronization

/// A TCP server inside the test process, on a thread of its own, for probe tests that need exact
/// replies (or none) but no separate service: it costs no process start, so dozens of tests can
/// use one at once without loading the machine. It binds a free port (port 0, read back) at once
/// and listens from `listen()` on; until then, and after `stop()`, connects are refused.
final class ProbeLoopbackServer: @unchecked Sendable {
    // @unchecked: the descriptors are fixed at init; everything else is behind `state`.

    /// What the server does with each connection.
    enum Behaviour: Sendable {
        /// Closes it at once.
        case close
        /// Reads the request (up to its blank line), records it, writes `reply` and closes.
        case reply([UInt8])
        /// Never reads or writes; holds the connection until `stop()`.
        case silent
    }

    /// The port, bound on `host`.
    let port: UInt16
    /// The host, as given.
    let host: String
    private let behaviour: Behaviour
    private let fd: Int32
    /// Signalled by `stop()`; the server thread watches it.
    private let wake: Int32
    /// Signalled by the server thread once it has closed everything; `stop()` waits for it.
    private let done: Int32
    private struct State {
        var requests: [[UInt8]] = []
        var connections = 0
        var listening = false
        var stopped = false
    }
    private let state = Mutex(State())

    /// Binds a free port on `host` (`127.0.0.1` or `::1`); listens at once unless `listening` is false.
    init(_ behaviour: Behaviour, host: String = "127.0.0.1", listening: Bool = true) {
        let bound = refusingPort(host: host)
        fd = bound.fd
        port = bound.port
        self.host = host
        self.behaviour = behaviour
        wake = eventfd(0, Int32(EFD_CLOEXEC))
        done = eventfd(0, Int32(EFD_CLOEXEC))
        if listening { listen() }
    }

    /// Replies with an HTTP status line and no body.
    convenience init(status: String, host: String = "127.0.0.1") {
        self.init(.reply(Array("HTTP/1.1 \(status)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)), host: host)
    }

    deinit {
        stop()
    }

    /// `host:port`, as a tcp probe names it.
    var address: String { ProbeCheck.address(host: host, port: port) }

    /// `http://host:port<path>`.
    func url(_ path: String = "/") -> String { "http://\(address)\(path)" }

    /// The requests read so far.
    var requests: [[UInt8]] { state.withLock { $0.requests } }

    /// How many connections the server accepted so far.
    var connections: Int { state.withLock { $0.connections } }

    /// Starts listening and accepting. A second call does nothing.
    func listen() {
        let start = state.withLock { state in
            defer { state.listening = true }
            return !state.listening && !state.stopped
        }
        guard start else { return }
        precondition(Glibc.listen(fd, 64) == 0, "listen failed: errno \(errno)")
        spawnThread(name: "test-server") { [self] in serve() }
    }

    /// Stops accepting and closes every connection; connects are refused from now on. Returns once
    /// the server thread has let go of everything. A second call does nothing.
    func stop() {
        let (wasListening, first) = state.withLock { state in
            defer { state.stopped = true }
            return (state.listening, !state.stopped)
        }
        guard first else { return }
        if wasListening {
            var value: UInt64 = 1
            _ = write(wake, &value, 8)
            _ = read(done, &value, 8)
        } else {
            close(fd)
        }
        close(wake)
        close(done)
    }

    private func serve() {
        var held: [Int32] = []
        while true {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 2, -1) >= 0 || errno == EINTR else { break }
            if fds[1].revents != 0 { break }
            guard fds[0].revents != 0 else { continue }
            // Glibc does not show accept4; a child spawned in between may inherit the connection
            // for its lifetime, which no test here minds.
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { continue }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            state.withLock { $0.connections += 1 }
            switch behaviour {
            case .close:
                close(connection)
            case .silent:
                held.append(connection)
            case .reply(let reply):
                let request = readRequest(connection)
                state.withLock { $0.requests.append(request) }
                _ = reply.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(connection)
            }
        }
        for connection in held { close(connection) }
        close(fd)
        var one: UInt64 = 1
        _ = write(done, &one, 8)
    }

    /// Reads until the blank line that ends a request's headers, 2 s of silence, or `stop()`.
    private func readRequest(_ connection: Int32) -> [UInt8] {
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let end = Array("\r\n\r\n".utf8)
        while !request.ends(with: end) {
            var fds = [pollfd(fd: connection, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 2, 2000) > 0, fds[1].revents == 0 else { break }
            let count = recv(connection, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            request += buffer[..<count]
        }
        return request
    }
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
