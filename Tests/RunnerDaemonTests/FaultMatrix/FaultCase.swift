import Glibc
import RunnerdTestSupport
import Synchronization
import Testing

/// One case of the fault matrix: a real `runnerd` with a notify socket the test reads, and a
/// marker that every service of the case carries in its environment, so that anything the case
/// started can be found through /proc afterwards, even a process that left the daemon's tree.
///
/// On the way out (`deinit`) it kills whatever still carries the marker, so a failed case does
/// not leave processes behind for the next one.
final class FaultCase {
    /// Unique to this case and this test process: `fault-<name>-<pid>-<random>`.
    let marker: String
    /// What every service of the case writes after its command: `environment: { FAULT_MARKER: ... }`.
    let environment: String
    let notify: NotifyLog
    private(set) var daemon: RunnerdProcess!
    private(set) var configPath = ""
    /// Every pid seen in the daemon's tree so far; none may exist at the end.
    private var seen: Set<pid_t> = []

    init(_ name: String) throws {
        marker = "fault-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        environment = "environment: { FAULT_MARKER: \(marker) }"
        notify = try NotifyLog()
    }

    deinit {
        notify.stop()
        for pid in markedProcesses(marker) { kill(pid, SIGKILL) }
        if !configPath.isEmpty { unlink(configPath) }
    }

    /// Writes `yaml` to a fresh config file and starts `runnerd run` on it, with `NOTIFY_SOCKET`
    /// set to this case's receiver plus `environment`.
    func start(
        _ yaml: String, environment: [String: String] = [:], arguments: [String] = [], stdoutFD: Int32? = nil,
        stderrFD: Int32? = nil
    ) throws {
        configPath = temporaryConfig(yaml)
        try start(configAt: configPath, environment: environment, arguments: arguments, stdoutFD: stdoutFD, stderrFD: stderrFD)
    }

    /// Starts `runnerd run` on an existing config file, with `arguments` after the config's. A
    /// `NOTIFY_SOCKET` in `environment` wins over the case's own receiver.
    func start(
        configAt path: String, environment: [String: String] = [:], arguments: [String] = [], stdoutFD: Int32? = nil,
        stderrFD: Int32? = nil
    ) throws {
        configPath = path
        var variables = environment
        variables["NOTIFY_SOCKET"] = environment["NOTIFY_SOCKET"] ?? notify.address
        daemon = try RunnerdProcess(["run", "--config", path] + arguments, environment: variables, stdoutFD: stdoutFD, stderrFD: stderrFD)
    }

    /// Replaces the config file's contents (for a reload).
    func rewriteConfig(_ yaml: String) {
        let fd = open(configPath, O_WRONLY | O_TRUNC)
        let bytes = Array(yaml.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Remembers the daemon's current tree, and returns it.
    @discardableResult
    func recordTree() -> [pid_t] {
        let tree = daemon.descendants
        seen.formUnion(tree)
        return tree
    }

    /// The pid in the `nth` (1-based) `service NAME started (pid N)` line.
    func pid(of service: String, nth: Int = 1) async throws -> pid_t {
        let lines = try await daemon.waitForLines(containing: "service \(service) started (pid ", count: nth)
        let pid = pid_t(lines[nth - 1].split(separator: "(pid ").last!.dropLast())!
        seen.insert(pid)
        return pid
    }

    /// The daemon's open file descriptors once they have held still for a moment: the steady
    /// state to compare before a fault and after the recovery. A descriptor on
    /// `/proc/self/task/N/comm` is not counted: naming a new thread opens one for an instant.
    func steadyFDCount() async throws -> Int {
        var last: [String] = []
        var previous: [String] = []
        var same = 0
        let deadline = Deadline(after: .seconds(10))
        while !deadline.hasPassed {
            let current = openFDs(of: daemon.pid).filter { !($0.contains("/task/") && $0.hasSuffix("/comm")) }.sorted()
            same = current == last ? same + 1 : 0
            (previous, last) = (last, current)
            if same == 3 { return current.count }
            try await Task.sleep(for: .milliseconds(30))
        }
        throw TestTimeout(description: "runnerd's fds did not settle; the last two reads:\n\(previous.joined(separator: "\n"))\n--\n\(last.joined(separator: "\n"))")
    }

    /// Waits (bounded) until no child of the daemon is a zombie, and says whether that happened.
    func noZombies(timeout: Duration = .seconds(5)) async throws -> Bool {
        try await eventually(timeout: timeout) { zombieChildren(of: self.daemon.pid).isEmpty }
    }

    /// After the daemon has exited: waits (bounded) until nothing of the case is left alive, then
    /// records every survivor as an issue: processes carrying the marker (in their environment
    /// or command line), and any pid ever seen in the daemon's tree. A zombie is dead: once the
    /// daemon is gone, reaping it is init's business (and this container's init is slow at it);
    /// the daemon's own zombies are checked while it runs (`noZombies`).
    func expectNothingLeft(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let gone = try await eventually(timeout: .seconds(5)) {
            markedProcesses(self.marker).isEmpty && self.seen.allSatisfy { !processIsAlive($0) }
        }
        if !gone {
            let marked = markedProcesses(marker)
            let survivors = seen.filter { processIsAlive($0) }
            Issue.record("left behind: marked \(marked), from the tree \(survivors.sorted())\n\(describe(marked + survivors))", sourceLocation: sourceLocation)
        }
    }

    /// The usual ending of a case: SIGTERM, exit 0 after STOPPING=1, and nothing left behind.
    func stopCleanly(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0, sourceLocation: sourceLocation)
        try await notify.waitFor { $0.hasPrefix("STOPPING=1") }
        try await expectNothingLeft(sourceLocation: sourceLocation)
    }
}

/// Every notify datagram a daemon sends, collected on a thread of its own (never on Swift's
/// cooperative pool) with the time it arrived.
final class NotifyLog: Sendable {
    private final class Storage: Sendable {
        let received = Mutex<[(text: String, at: ContinuousClock.Instant)]>([])
        let stopped = Atomic(false)
    }

    let receiver: NotifyReceiver
    private let storage = Storage()

    init() throws {
        receiver = try NotifyReceiver(.path)
        let receiver = self.receiver
        let storage = self.storage
        Task.detached {
            _ = try? await onOwnThread {
                while !storage.stopped.load(ordering: .acquiring) {
                    guard let datagram = try? receiver.receive(timeout: .milliseconds(100)) else { continue }
                    storage.received.withLock { $0.append((datagram.text, .now)) }
                }
            }
        }
    }

    var address: String { receiver.address }

    func stop() {
        storage.stopped.store(true, ordering: .releasing)
    }

    /// Every datagram so far, in order.
    var texts: [String] { storage.received.withLock { $0.map(\.text) } }

    /// Every datagram so far with its arrival time.
    var timed: [(text: String, at: ContinuousClock.Instant)] { storage.received.withLock { $0 } }

    /// Waits (bounded) for a datagram at index `from` or later that satisfies `matches`; returns
    /// its index.
    @discardableResult
    func waitFor(from: Int = 0, timeout: Duration = .seconds(15), _ matches: (String) -> Bool) async throws -> Int {
        let deadline = Deadline(after: timeout)
        while !deadline.hasPassed {
            let all = texts
            if from < all.count, let index = all[from...].firstIndex(where: matches) { return index }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestTimeout(description: "no matching notify datagram from #\(from) within \(timeout); got \(texts)")
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration, _ condition: () -> Bool) async throws -> Bool {
    let deadline = Deadline(after: timeout)
    while !condition() {
        if deadline.hasPassed { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
    return true
}

/// Whether `pid` exists and is not a zombie.
func processIsAlive(_ pid: pid_t) -> Bool {
    guard let state = processState(pid) else { return false }
    return state != "Z"
}

/// The state letter of `pid` from /proc/PID/stat (`R`, `S`, `T`, `Z`, ...), or nil once it is gone.
func processState(_ pid: pid_t) -> Substring? {
    guard let stat = String(validating: procFile("/proc/\(pid)/stat"), as: UTF8.self),
          let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ").first
}

/// The number of open file descriptors of `pid`, from /proc/PID/fd.
func openFDCount(of pid: pid_t) -> Int {
    openFDs(of: pid).count
}

/// `fd -> target` for every open descriptor of `pid`, for messages.
func openFDs(of pid: pid_t) -> [String] {
    guard let directory = opendir("/proc/\(pid)/fd") else { return [] }
    defer { closedir(directory) }
    var found: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != ".", name != ".." else { continue }
        var target = [CChar](repeating: 0, count: 512)
        let length = readlink("/proc/\(pid)/fd/\(name)", &target, target.count - 1)
        found.append("\(name) -> \(length > 0 ? String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?")")
    }
    return found
}

/// Every process whose environment or command line contains `marker`. A zombie has neither
/// any more; callers that care about zombies also check the pids they saw.
func markedProcesses(_ marker: String) -> [pid_t] {
    let needle = Array(marker.utf8)
    return processes().map(\.pid).filter { pid in
        pid != getpid() && (fileContains("/proc/\(pid)/environ", needle) || fileContains("/proc/\(pid)/cmdline", needle))
    }
}

/// `ps`-like lines for `pids`, for messages.
func describe(_ pids: [pid_t]) -> String {
    let all = processes()
    return pids.map { pid in
        guard let process = all.first(where: { $0.pid == pid }) else { return "\(pid): gone" }
        let command = String(decoding: procFile("/proc/\(pid)/cmdline").map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        return "\(pid): parent \(process.parent), state \(process.state), pgid \(process.processGroup), session \(process.session): \(command)"
    }.joined(separator: "\n")
}

private func fileContains(_ path: String, _ needle: [UInt8]) -> Bool {
    let bytes = procFile(path)
    guard bytes.count >= needle.count, let first = needle.first else { return false }
    var index = 0
    while index + needle.count <= bytes.count {
        if bytes[index] == first && bytes[index..<index + needle.count].elementsEqual(needle) { return true }
        index += 1
    }
    return false
}

/// The whole contents of a (small) file, or nothing when it cannot be read.
func procFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16384)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count <= 0 { return bytes }
        bytes += buffer[..<count]
    }
}

/// The value of `name` in the initial environment of `pid`, from /proc/PID/environ.
func environmentVariable(_ name: String, of pid: pid_t) -> String? {
    let prefix = Array((name + "=").utf8)
    for entry in procFile("/proc/\(pid)/environ").split(separator: 0) where entry.starts(with: prefix) {
        return String(decoding: entry.dropFirst(prefix.count), as: UTF8.self)
    }
    return nil
}

/// Sends `text` as one datagram to the notify socket at `address` (a path, or `@name`), from
/// this process: a stranger to every service.
func sendDatagram(_ text: String, to address: String) -> Bool {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var storage = sockaddr_un()
    storage.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(address.utf8)
    let abstract = address.hasPrefix("@")
    withUnsafeMutableBytes(of: &storage.sun_path) {
        $0.copyBytes(from: bytes)
        if abstract { $0[0] = 0 }
    }
    let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
    let payload = Array(text.utf8)
    let sent = withUnsafePointer(to: &storage) { address in
        address.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
            payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, length) }
        }
    }
    return sent == payload.count
}
