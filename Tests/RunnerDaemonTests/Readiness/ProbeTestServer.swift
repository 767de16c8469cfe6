import Runner
import CLinuxSupport
import Glibc
@testable import RunnerDaemon
import RunnerdTestSupport

/// A service for probe tests: a small TCP or HTTP server in a python3 child process, spawned
/// through the daemon's process table. It binds a free port (port 0, read back) at once, so the
/// port is known and refuses connections, and listens only when the test says so (`openPort()`),
/// so a test knows exactly when the service became reachable. An HTTP server answers 503 until
/// the test calls `becomeHealthy()`, and reports each status it sent on its stdout.
final class ProbeTestServer: Sendable {
    enum Mode: String {
        /// Accepts connections and closes them.
        case tcp
        /// Answers every request with `503 Service Unavailable` until `becomeHealthy()`, then `200 OK`.
        case http
    }

    static let script = """
        import signal, socket, sys
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        healthy = False
        def heal(number, frame):
            global healthy
            healthy = True
        signal.signal(signal.SIGUSR2, heal)
        signal.alarm(120)
        mode, host, wait = sys.argv[1], sys.argv[2], sys.argv[3] == 'wait'
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        server = socket.socket(family, socket.SOCK_STREAM)
        server.bind((host, 0))
        print(server.getsockname()[1], flush=True)
        if wait:
            signal.sigwait({signal.SIGUSR1})
        server.listen(64)
        print('listening', flush=True)
        while True:
            connection, _ = server.accept()
            try:
                if mode == 'http':
                    connection.settimeout(5)
                    data = b''
                    while b'\\r\\n\\r\\n' not in data:
                        chunk = connection.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    status = b'200 OK' if healthy else b'503 Service Unavailable'
                    connection.sendall(b'HTTP/1.1 ' + status + b'\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n')
                    print(status[:3].decode(), flush=True)
            except OSError:
                pass
            connection.close()
        """

    /// The server's pid, which is also its process group.
    let pid: pid_t
    /// The port it bound.
    let port: UInt16
    /// The host it bound, as given.
    let host: String
    private let output: LineReader

    private init(pid: pid_t, port: UInt16, host: String, output: LineReader) {
        self.pid = pid
        self.port = port
        self.host = host
        self.output = output
    }

    /// Starts a server on `host` (an IPv4 or IPv6 literal, or `localhost`) and returns once it has
    /// bound its port, and also listens unless `listening` is false.
    static func start(_ mode: Mode, host: String = "127.0.0.1", listening: Bool = true) async throws -> ProbeTestServer {
        var fds: [Int32] = [0, 0]
        guard runnerd_pipe_cloexec(&fds) == 0 else { throw TestTimeout(description: "pipe failed: errno \(errno)") }
        let request = ProcessTable.Request(
            executable: "/usr/bin/python3",
            arguments: ["python3", "-c", script, mode.rawValue, host, listening ? "now" : "wait"],
            environment: ["PATH=/usr/bin:/bin"], workingDirectory: nil, credentials: nil,
            stdoutFD: fds[1], stderrFD: 2
        )
        let pid: pid_t
        do {
            pid = try await ServiceHarness.processes.spawn(request)
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        close(fds[1])
        let output = LineReader(fd: fds[0])
        guard let line = await output.nextLine(timeout: .seconds(10)), let port = UInt16(line) else {
            kill(-pid, SIGKILL)
            _ = await ServiceHarness.processes.waitForExit(pid)
            throw TestTimeout(description: "the test server did not report its port")
        }
        let server = ProbeTestServer(pid: pid, port: port, host: host, output: output)
        if listening {
            guard await server.output.nextLine(timeout: .seconds(10)) == "listening" else {
                await server.stop()
                throw TestTimeout(description: "the test server did not start listening")
            }
        }
        return server
    }

    /// `host:port`, as a tcp probe names it.
    var address: String { ProbeCheck.address(host: host, port: port) }

    /// `http://host:port<path>`.
    func url(_ path: String = "/") -> String { "http://\(address)\(path)" }

    /// Tells a server started with `listening: false` to listen, and returns the instant just
    /// before: connects are refused until then.
    func openPort() -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        kill(pid, SIGUSR1)
        return now
    }

    /// Makes an http server answer 200 from now on, and returns the instant just before.
    func becomeHealthy() -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        kill(pid, SIGUSR2)
        return now
    }

    /// The statuses an http server sent so far (`503`, `200`); stops at `timeout` without a line.
    func sentStatuses(timeout: Duration = .milliseconds(500)) async -> [String] {
        var statuses: [String] = []
        while let line = await output.nextLine(timeout: timeout) {
            if line != "listening" { statuses.append(line) }
        }
        return statuses
    }

    /// Kills the server and reaps it; returns once its port is closed.
    func stop() async {
        kill(-pid, SIGKILL)
        _ = await ServiceHarness.processes.waitForExit(pid)
    }
}

/// Reads lines from a pipe on a thread of its own, so that no test blocks Swift's cooperative
/// threads (timing tests share them).
final class LineReader: Sendable {
    private let fd: Int32

    init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// The next line, without its newline; nil at end of file or when `timeout` passed first.
    /// Reads byte by byte, so nothing after the line is consumed; only one call at a time.
    func nextLine(timeout: Duration) async -> String? {
        await withCheckedContinuation { continuation in
            spawnThread(name: "test-lines") { [self] in
                let deadline = Deadline(after: timeout)
                var bytes: [UInt8] = []
                while true {
                    var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    guard poll(&poller, 1, deadline.remainingMilliseconds) == 1 else { break }
                    var byte: UInt8 = 0
                    guard read(fd, &byte, 1) == 1 else { break }
                    if byte == UInt8(ascii: "\n") {
                        continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
                        return
                    }
                    bytes.append(byte)
                }
                continuation.resume(returning: nil)
            }
        }
    }
}

/// A socket bound to a free port on `host` (`127.0.0.1` or `::1`) but not listening, so that
/// connects to it are refused for as long as the returned descriptor stays open.
func refusingPort(host: String = "127.0.0.1") -> (fd: Int32, port: UInt16) {
    let ipv6 = host.contains(":")
    let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    precondition(fd >= 0, "socket failed")
    var storage = sockaddr_storage()
    var length = socklen_t(ipv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &storage) { pointer in
        if ipv6 {
            pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                address.pointee.sin6_family = sa_family_t(AF_INET6)
                _ = inet_pton(AF_INET6, host, &address.pointee.sin6_addr)
            }
        } else {
            pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                address.pointee.sin_family = sa_family_t(AF_INET)
                _ = inet_pton(AF_INET, host, &address.pointee.sin_addr)
            }
        }
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
            precondition(bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0, "bind failed: errno \(errno)")
        }
    }
    // The port sits at the same offset in sockaddr_in and sockaddr_in6.
    let port = withUnsafePointer(to: &storage) { pointer in
        pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
    }
    return (fd, port)
}
