import Glibc
@testable import RunnerDaemon
import RunnerdTestSupport

/// A small TCP or HTTP server in a python3 child process, for probe tests: a service of its own,
/// spawned through the daemon's process table. It binds a free port (port 0, read back) at once,
/// so the port is known and refuses connections, and only listens once `listenAfter` has passed:
/// a service that opens its port late. It then says `listening` on its stdout, and reports every
/// request it reads there.
final class ProbeTestServer: Sendable {
    enum Mode {
        /// Accepts connections and closes them.
        case tcp
        /// Answers every request with `503 Service Unavailable` during the first `unhealthyFor`
        /// after it started listening, and with `200 OK` after that.
        case http(unhealthyFor: Duration = .zero)
        /// Reads a request, reports it, then writes `reply` and closes.
        case canned(reply: [UInt8])
        /// Accepts connections and never reads or writes them.
        case silent

        var arguments: [String] {
            switch self {
            case .tcp: ["tcp", "0"]
            case .http(let unhealthyFor): ["http", seconds(unhealthyFor)]
            case .canned(let reply): ["canned", reply.map { String($0, radix: 16).leftPadded(2) }.joined()]
            case .silent: ["silent", "0"]
            }
        }
    }

    static let script = """
        import socket, sys, time, signal
        signal.alarm(120)
        mode, host, delay, argument = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        server = socket.socket(family, socket.SOCK_STREAM)
        server.bind((host, 0))
        print(server.getsockname()[1], flush=True)
        time.sleep(delay)
        server.listen(64)
        listened = time.monotonic()
        print('listening', flush=True)
        held = []
        def read_request(connection):
            connection.settimeout(5)
            data = b''
            while b'\\r\\n\\r\\n' not in data:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                data += chunk
            print(data.hex(), flush=True)
        while True:
            connection, _ = server.accept()
            try:
                if mode == 'http':
                    read_request(connection)
                    late = time.monotonic() - listened >= float(argument)
                    status = b'200 OK' if late else b'503 Service Unavailable'
                    connection.sendall(b'HTTP/1.1 ' + status + b'\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n')
                elif mode == 'canned':
                    read_request(connection)
                    connection.sendall(bytes.fromhex(argument))
                elif mode == 'silent':
                    held.append(connection)
                    continue
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

    /// Starts a server on `host` (an IPv4 or IPv6 literal or `localhost`) and returns once it has
    /// bound its port; it listens once `listenAfter` has passed from then. Without `listenAfter`,
    /// returns once it listens.
    static func start(_ mode: Mode, host: String = "127.0.0.1", listenAfter: Duration = .zero) async throws -> ProbeTestServer {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TestTimeout(description: "pipe failed: errno \(errno)") }
        let request = ProcessTable.Request(
            executable: "/usr/bin/python3",
            arguments: ["python3", "-c", script] + [mode.arguments[0], host, seconds(listenAfter), mode.arguments[1]],
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
        if listenAfter == .zero {
            guard await server.waitUntilListening() else {
                await server.stop()
                throw TestTimeout(description: "the test server did not start listening")
            }
        }
        return server
    }

    /// Waits (bounded) until the server says it listens; false if it did not within `timeout`.
    func waitUntilListening(timeout: Duration = .seconds(10)) async -> Bool {
        await output.nextLine(timeout: timeout) == "listening"
    }

    /// `host:port`, as a tcp probe names it.
    var address: String { ProbeCheck.address(host: host, port: port) }

    /// `http://host:port<path>`.
    func url(_ path: String = "/") -> String { "http://\(address)\(path)" }

    /// The next request the server read, as bytes; nil if none came within `timeout`. Only for a
    /// server that `start` or `waitUntilListening` saw listening.
    func nextRequest(timeout: Duration = .seconds(5)) async -> [UInt8]? {
        guard let line = await output.nextLine(timeout: timeout) else { return nil }
        return stride(from: 0, to: line.count - 1, by: 2).compactMap { offset in
            let start = line.index(line.startIndex, offsetBy: offset)
            return UInt8(line[start..<line.index(start, offsetBy: 2)], radix: 16)
        }
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
            startThread(named: "test-lines") { [self] in
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

/// A port on `host` that is bound but not listening, so connects to it are refused, for as long
/// as the returned descriptor stays open.
func refusingPort(host: String = "127.0.0.1") -> (fd: Int32, port: UInt16) {
    let ipv6 = host.contains(":")
    let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0, "socket failed")
    if ipv6 {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        _ = inet_pton(AF_INET6, host, &address.sin6_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                precondition(bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0, "bind failed")
            }
        }
        return (fd, UInt16(bigEndian: address.sin6_port))
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    _ = inet_pton(AF_INET, host, &address.sin_addr)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
            precondition(bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0, "bind failed")
        }
    }
    return (fd, UInt16(bigEndian: address.sin_port))
}

/// A duration in seconds, as python's float() reads it.
private func seconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    return "\(Double(seconds) + Double(attoseconds) / 1e18)"
}

private extension String {
    func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
