import RunnerdConfig
import Glibc
import Logging
@testable import RunnerDaemon
import RunnerdTestSupport
import Synchronization
import Testing

/// What the relay's tests share: the C notify client, children spawned through the daemon's own
/// process table, a collected log, and a message inbox with bounded waits.
enum NotifyRelayFixtures {
    /// Whether a C compiler is there to build `Tests/Fixtures/notify-client.c`.
    static let hasCompiler = access("/usr/bin/cc", X_OK) == 0

    /// Whether systemd-notify is installed (it comes with systemd).
    static let hasSystemdNotify = access("/usr/bin/systemd-notify", X_OK) == 0

    /// Whether this process may name another pid in SCM_CREDENTIALS (CAP_SYS_ADMIN, bit 21 of
    /// CapEff), which decides what a root systemd-notify sends.
    static let canForgeCredentials: Bool = {
        guard let file = fopen("/proc/self/status", "r") else { return false }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 512)
        while fgets(&buffer, 512, file) != nil {
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let fields = line.split(whereSeparator: \.isWhitespace)
            if fields.count == 2, fields[0] == "CapEff:", let mask = UInt64(fields[1], radix: 16) {
                return mask & (1 << 21) != 0
            }
        }
        return false
    }()

    /// The notify client, compiled once per test process into a temporary directory that is
    /// removed at exit.
    static func client() async throws -> String {
        try await build.value
    }

    private static let build = Task<String, any Error> {
        let source = String(#filePath.split(separator: "/").dropLast(3).joined(separator: "/"))
        var template = Array("/tmp/runnerd-notify-client-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestTimeout(description: "mkdtemp failed: errno \(errno)") }
        let directory = String(cString: made)
        clientDirectory.withLock { $0 = directory }
        atexit {
            guard let directory = NotifyRelayFixtures.clientDirectory.withLock({ $0 }) else { return }
            unlink(directory + "/notify-client")
            rmdir(directory)
        }
        let binary = directory + "/notify-client"
        let status = try await run(
            ["/usr/bin/cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", binary, "/" + source + "/Fixtures/notify-client.c"],
            environment: ["PATH=/usr/bin:/bin"]
        )
        guard status == .exited(0) else { throw TestTimeout(description: "cc failed (\(status)) for notify-client.c") }
        return binary
    }

    private static let clientDirectory = Mutex<String?>(nil)

    /// Spawns `command` as a service would be: its own session, output to /dev/null, SIGKILL if
    /// the test process dies.
    static func spawn(_ command: [String], environment: [String], credentials: Credentials? = nil) async throws -> pid_t {
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(null) }
        return try await ServiceHarness.processes.spawn(ProcessTable.Request(
            executable: command[0], arguments: command, environment: ["PATH=/usr/bin:/bin"] + environment,
            workingDirectory: nil, credentials: credentials, stdoutFD: null, stderrFD: null
        ))
    }

    /// Runs `command` to its end, bounded, and returns how it ended.
    static func run(
        _ command: [String], environment: [String], credentials: Credentials? = nil, timeout: Duration = .seconds(10)
    ) async throws -> ProcessExit {
        let pid = try await spawn(command, environment: environment, credentials: credentials)
        return try await exit(of: pid, timeout: timeout)
    }

    /// The exit of `pid` (spawned here), waiting at most `timeout`; the process is killed then.
    static func exit(of pid: pid_t, timeout: Duration = .seconds(10)) async throws -> ProcessExit {
        let killed = Atomic(false)
        let killer = Task {
            try await Task.sleep(for: timeout)
            killed.store(true, ordering: .relaxed)
            kill(-pid, SIGKILL)
        }
        defer { killer.cancel() }
        let status = await ServiceHarness.processes.waitForExit(pid)
        if killed.load(ordering: .relaxed) {
            throw TestTimeout(description: "pid \(pid) did not exit within \(timeout)")
        }
        return status
    }

    /// Stops a long-running child (and its process group) and reaps it.
    static func stop(_ pid: pid_t) async {
        kill(-pid, SIGKILL)
        _ = await ServiceHarness.processes.waitForExit(pid)
    }

    /// Lets the event loop finish everything handed to it before now (closes included).
    static func drainLoop() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            ServiceHarness.loop.execute { done.resume() }
        }
    }

    /// The socket inodes this process holds descriptors for, from /proc/self/fd.
    static func socketInodes() -> [UInt64] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        var inodes: [UInt64] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            var target = [CChar](repeating: 0, count: 256)
            let length = readlink("/proc/self/fd/" + name, &target, 255)
            guard length > 0 else { continue }
            let text = String(decoding: target.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("socket:["), let inode = UInt64(text.dropFirst(8).dropLast()) { inodes.append(inode) }
        }
        return inodes
    }

    /// The inode of the Unix socket bound at `address` (a path, or `@name`), from /proc/net/unix,
    /// which writes an abstract name with a leading `@`, as NOTIFY_SOCKET does.
    static func inode(ofSocketAt address: String) -> UInt64? {
        guard let file = fopen("/proc/net/unix", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 1024)
        while fgets(&buffer, 1024, file) != nil {
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let fields = line.split(whereSeparator: \.isWhitespace)
            // Num RefCount Protocol Flags Type St Inode Path
            if fields.count >= 8, fields[7] == address { return UInt64(fields[6]) }
        }
        return nil
    }
}

/// A log handler that keeps every message, for tests of what the relay logs.
struct CollectedLog: Sendable {
    private let store = Store()

    private final class Store: Sendable {
        let lines = Mutex<[(Logger.Level, String)]>([])
        let metadata = Mutex<[Logger.Metadata]>([])
    }

    private struct Handler: LogHandler {
        let store: Store
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            store.lines.withLock { $0.append((event.level, event.message.description)) }
            store.metadata.withLock { $0.append(event.metadata ?? [:]) }
        }
    }

    /// A logger whose messages land here.
    var logger: Logger {
        Logger(label: "runnerd.test.notify-relay") { _ in Handler(store: store) }
    }

    /// Every message so far, in order.
    var lines: [String] { store.lines.withLock { $0.map(\.1) } }

    /// Every message so far with the metadata of its log call, in order.
    var entries: [(message: String, metadata: Logger.Metadata)] {
        let lines = self.lines
        let metadata = store.metadata.withLock { $0 }
        return Array(zip(lines, metadata))
    }

    /// The messages at warning level or above.
    var warnings: [String] { store.lines.withLock { $0.filter { $0.0 >= .warning }.map(\.1) } }

    /// Waits (bounded) until some message satisfies `matches`, and returns all of them.
    func wait(timeout: Duration = .seconds(10), for matches: (String) -> Bool) async throws -> [String] {
        let deadline = Deadline(after: timeout)
        while !deadline.hasPassed {
            let current = lines
            if current.contains(where: matches) { return current }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TestTimeout(description: "no matching log line within \(timeout); log: \(lines)")
    }
}

/// The messages an endpoint delivered, with bounded waits.
final class NotifyInbox: Sendable {
    private let messages = Mutex<[NotifyMessage]>([])

    /// The callback to give `open`.
    var deliver: @Sendable (NotifyMessage) -> Void {
        { [self] message in messages.withLock { $0.append(message) } }
    }

    /// Everything delivered so far.
    var all: [NotifyMessage] { messages.withLock { $0 } }

    /// Waits (bounded) until at least `count` messages have arrived, and returns them all.
    func wait(for count: Int, timeout: Duration = .seconds(10)) async throws -> [NotifyMessage] {
        let deadline = Deadline(after: timeout)
        while !deadline.hasPassed {
            let current = all
            if current.count >= count { return current }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TestTimeout(description: "\(all.count) of \(count) messages within \(timeout): \(all)")
    }
}
