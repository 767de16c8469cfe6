import RunnerdConfig
import Glibc
@testable import RunnerDaemon
import Runner
import RunnerdTestSupport

/// Real processes through the daemon's own machinery (event loop, process table, log writer),
/// inside the test process. The table reaps only its own children, so other tests' children are
/// left alone. Service output goes to a file that tests read back.
final class ServiceHarness: Sendable {
    static let loop = EventLoop(name: "test-loop")
    static let processes = ProcessTable(loop: loop, reapsEveryChild: false)

    let outputPath: String
    let router: OutputRouter

    init() {
        var template = Array("/tmp/runnerd-output-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        precondition(fd >= 0, "mkstemp failed")
        outputPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        router = OutputRouter(loop: Self.loop, writer: LogWriter(target: .terminal(fd: fd)))
    }

    deinit {
        unlink(outputPath)
    }

    /// A service running `command` (argv; `[0]` an absolute path) in group `test`.
    func service(
        _ name: String, _ command: [String], environment: [String] = ["PATH=/usr/bin:/bin"],
        stopSignal: Int32 = SIGTERM, interruptTimeout: Duration = .seconds(5),
        workingDirectory: String? = nil, credentials: Credentials? = nil,
        serviceEnvironment: [EnvironmentVariable] = [], events: ProcessService.Events = .init(),
        cgroups: (tree: CgroupTree, watcher: CgroupWatcher)? = nil
    ) -> ProcessService {
        ProcessService(
            group: "test",
            config: ServiceConfig(
                name: name, command: command, executable: command[0], environment: serviceEnvironment,
                workingDirectory: workingDirectory,
                credentials: credentials, stopSignal: stopSignal, interruptTimeout: interruptTimeout
            ),
            context: ProcessService.Context(
                processes: Self.processes, router: router, relay: nil, baseEnvironment: ChildEnvironment(environment), events: events,
                cgroups: cgroups
            )
        )
    }

    /// The output file's lines so far.
    var lines: [String] {
        readFile(outputPath).split(separator: "\n").map(String.init)
    }

    /// Waits (bounded) until the output has a line satisfying `matches`, and returns the lines.
    func waitForLine(timeout: Duration = .seconds(10), _ matches: (String) -> Bool) async throws -> [String] {
        let deadline = Deadline(after: timeout)
        while !deadline.hasPassed {
            let current = lines
            if current.contains(where: matches) { return current }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestTimeout(description: "no matching line within \(timeout); output: \(lines)")
    }
}

/// Whether any process is left in the process group `pgid`.
func processGroupExists(_ pgid: pid_t) -> Bool {
    kill(-pgid, 0) == 0 || errno != ESRCH
}

/// Whether `pid` exists (a zombie counts).
func processExists(_ pid: pid_t) -> Bool {
    kill(pid, 0) == 0 || errno != ESRCH
}

/// The pids of every zombie among this process's children, from /proc.
func zombieChildren(of parent: pid_t = getpid()) -> [pid_t] {
    processes().filter { $0.parent == parent && $0.state == "Z" }.map(\.pid)
}

/// Every process on the machine with its parent and state, from /proc/PID/stat.
func processes() -> [(pid: pid_t, parent: pid_t, state: Character, processGroup: pid_t, session: pid_t)] {
    guard let directory = opendir("/proc") else { return [] }
    defer { closedir(directory) }
    var found: [(pid_t, pid_t, Character, pid_t, pid_t)] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let pid = pid_t(name), let file = fopen("/proc/\(pid)/stat", "r") else { continue }
        var buffer = [CChar](repeating: 0, count: 1024)
        let line = fgets(&buffer, 1024, file).map { _ in String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) } ?? ""
        fclose(file)
        guard let close = line.lastIndex(of: ")") else { continue }
        let fields = line[line.index(after: close)...].split(separator: " ")
        guard fields.count > 4, let state = fields[0].first, let parent = pid_t(fields[1]),
              let group = pid_t(fields[2]), let session = pid_t(fields[3]) else { continue }
        found.append((pid, parent, state, group, session))
    }
    return found
}

/// A bounded wait that ran out.
struct TestTimeout: Error, CustomStringConvertible {
    let description: String
}
