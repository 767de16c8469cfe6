import CLinuxSupport
import Glibc
import Runner
import Synchronization
import RunnerdConfig

/// Spawns children and learns of their exits: the daemon's one owner of `fork`, `exec` and
/// `waitpid`. Everything runs on the event loop's thread, except that every other spawn runs on a
/// spawner thread of the table's own, so that two children can be on their way to `exec` at once;
/// callers await from anywhere.
///
/// With `reapsEveryChild`, the table reaps any child with `waitpid(-1)`, including orphaned
/// grandchildren re-parented to a subreaper daemon, so no zombie is ever left, and it can find
/// those orphans while they run (`escapedProcesses(marker:)`). Without it, it reaps only the
/// children it spawned, which lets it share a process with other code that waits for children of
/// its own (a test runner, an embedding server).
final class ProcessTable: @unchecked Sendable {
    // @unchecked: `children`, `unclaimed`, `drains` and `scans` are touched only on the loop
    // thread.

    /// What `spawn` needs to start a child.
    struct Request: Sendable {
        var executable: String
        var arguments: [String]
        var environment: [String]
        var workingDirectory: String?
        var credentials: Credentials?
        var stdoutFD: Int32
        var stderrFD: Int32
        /// The `cgroup.procs` of the cgroup to start the child in, open for writing; -1: the
        /// daemon's own.
        var cgroupProcsFD: Int32 = -1
    }

    private struct Child {
        var status: ProcessExit?
        var waiters: [CheckedContinuation<ProcessExit, Never>] = []
    }

    /// A wait for some processes to be gone: `isDone` is checked on the loop.
    private struct Drain {
        let isDone: () -> Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    /// A request for the adopted children whose environment holds `marker`.
    private struct Scan {
        let marker: [UInt8]
        let continuation: CheckedContinuation<[pid_t], Never>
    }

    let loop: EventLoop
    /// The second thread that spawns. Like the loop's, it lives as long as the table:
    /// `PR_SET_PDEATHSIG` fires when the thread that spawned a child exits.
    private let spawner = EventLoop(name: "runnerd-spawn")
    private let spawns = Atomic<UInt>(0)
    private let reapsEveryChild: Bool
    private var children: [pid_t: Child] = [:]
    /// Spawns on the spawner thread that the loop has not yet taken in: counted from before
    /// their clone until their pid is in `children`.
    private let spawnsInFlight = Atomic<Int>(0)
    /// Exits reaped while spawns were in flight, of pids not (yet) in `children`: the child of
    /// such a spawn may exit before the loop learns its pid. Emptied whenever no spawn is in
    /// flight; the rest were orphans.
    private var unclaimed: [pid_t: ProcessExit] = [:]
    private var drains: [Drain] = []
    private var scans: [Scan] = []
    private var drainPollScheduled = false
    private let subscription = Mutex<SignalSubscription?>(nil)

    init(loop: EventLoop, reapsEveryChild: Bool) {
        self.loop = loop
        self.reapsEveryChild = reapsEveryChild
        let subscription = SignalSubscription([SIGCHLD]) { [weak self] _ in
            guard let self else { return }
            self.loop.execute { self.reap() }
        }
        self.subscription.withLock { $0 = subscription }
    }

    /// Starts a child in its own session and process group. Returns its pid once `exec` has
    /// succeeded; a child that failed before that is reaped, and its failure thrown.
    func spawn(_ request: Request) async throws(SpawnError) -> pid_t {
        try await withUnsafeContinuation { continuation in
            spawn(request) { continuation.resume(returning: $0) }
        }.get()
    }

    /// Starts a child like `spawn(_:)`, and calls `started` with its pid or its failure, on the
    /// thread that spawned it. A service's task awaits this in a continuation of its own: a task
    /// keeps the memory of the deepest stack of async frames it ever had, and without the frame of
    /// `spawn(_:)` a service's task fits in the task allocator's first block (1 KB) rather than
    /// taking a second one for the life of the process.
    func spawn(_ request: Request, started: @escaping @Sendable (Result<pid_t, SpawnError>) -> Void) {
        // Spawns alternate between the loop and the spawner thread.
        if spawns.wrappingAdd(1, ordering: .relaxed).oldValue % 2 == 0 {
            loop.execute { [self] in
                let outcome = Self.launch(request)
                if case .success(let pid) = outcome { children[pid] = Child() }
                started(outcome)
            }
            return
        }
        spawner.execute { [self] in
            // Counted before the clone, so that the loop keeps the child's exit if it reaps the
            // child before it knows the pid; the pid is handed to the loop before the caller can
            // wait for it.
            spawnsInFlight.add(1, ordering: .sequentiallyConsistent)
            let outcome = Self.launch(request)
            loop.execute { [self] in takeIn(outcome) }
            started(outcome)
        }
    }

    /// Suspends until the child `pid` (spawned here) has exited and been reaped.
    func waitForExit(_ pid: pid_t) async -> ProcessExit {
        await withCheckedContinuation { continuation in
            loop.execute { [self] in
                if let status = children[pid]?.status {
                    children[pid] = nil
                    continuation.resume(returning: status)
                } else {
                    children[pid, default: Child()].waiters.append(continuation)
                }
            }
        }
    }

    /// Suspends until no process is left in `processGroup`. Checked after every reaped child,
    /// and every 50 ms while some group is draining, because members that are not our children
    /// (grandchildren whose parent still lives) exit without telling us.
    func waitUntilEmpty(processGroup: pid_t) async {
        await waitUntil { kill(-processGroup, 0) != 0 && errno == ESRCH }
    }

    /// Suspends until every process in `pids` is gone (exited and reaped), checked as
    /// `waitUntilEmpty(processGroup:)` checks.
    func waitUntilGone(_ pids: [pid_t]) async {
        await waitUntil { pids.allSatisfy { kill($0, 0) != 0 && errno == ESRCH } }
    }

    /// Whether orphans are re-parented to this table's process and reaped here: true for the
    /// daemon's table (`reapsEveryChild`, in a child subreaper). Only then can processes that left
    /// a service be found with `escapedProcesses(marker:)`.
    var adoptsOrphans: Bool { reapsEveryChild }

    /// The processes that left a service: children of this process that it did not spawn
    /// (orphans re-parented to the subreaper), whose environment, as it was at their `exec`,
    /// holds the entry `marker` (`NAME=value`, exactly). A process that replaced its environment
    /// cannot be recognised.
    ///
    /// Requests that arrive together share one look through `/proc`. Without a child at all
    /// (`waitid` says `ECHILD`) nothing is read.
    func escapedProcesses(marker: String) async -> [pid_t] {
        await withCheckedContinuation { continuation in
            loop.execute { [self] in
                scans.append(Scan(marker: Array(marker.utf8), continuation: continuation))
                if scans.count == 1 { loop.execute { [self] in runScans() } }
            }
        }
    }

    // MARK: - Loop only

    /// Records the outcome of a spawn made on the spawner thread.
    private func takeIn(_ outcome: Result<pid_t, SpawnError>) {
        if case .success(let pid) = outcome {
            if let status = unclaimed.removeValue(forKey: pid) {
                children[pid] = Child(status: status)
            } else {
                children[pid] = Child()
                // Without `reapsEveryChild` only known children are reaped: this one may have
                // exited before it was known.
                if !reapsEveryChild { reap() }
            }
        }
        // Another spawn counted from here on has not cloned yet, and its child's exit can only
        // be reaped on this thread, after this.
        guard spawnsInFlight.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 else { return }
        unclaimed = [:]
        if !scans.isEmpty { runScans() }
    }

    // MARK: - Any spawning thread

    private static func launch(_ request: Request) -> Result<pid_t, SpawnError> {
        var strings: [UnsafeMutablePointer<CChar>?] = []
        defer { for pointer in strings { free(pointer) } }
        func cStrings(_ values: [String]) -> [UnsafeMutablePointer<CChar>?] {
            let pointers = values.map { strdup($0) }
            strings += pointers
            return pointers + [nil]
        }
        let argv = cStrings(request.arguments)
        let envp = cStrings(request.environment)
        let groups = request.credentials?.supplementaryGroups ?? []
        var result = runnerd_spawn_result()
        let status = request.executable.withCString { path in
            (request.workingDirectory ?? "").withCString { directory in
                argv.withUnsafeBufferPointer { argv in
                    envp.withUnsafeBufferPointer { envp in
                        groups.withUnsafeBufferPointer { groups in
                            var spawn = runnerd_spawn_request()
                            spawn.path = path
                            spawn.argv = argv.baseAddress
                            spawn.envp = envp.baseAddress
                            spawn.working_directory = request.workingDirectory == nil ? nil : directory
                            if let credentials = request.credentials {
                                spawn.set_credentials = 1
                                spawn.uid = credentials.uid
                                spawn.gid = credentials.gid
                                spawn.groups = groups.baseAddress
                                spawn.group_count = groups.count
                            }
                            spawn.stdout_fd = request.stdoutFD
                            spawn.stderr_fd = request.stderrFD
                            spawn.death_signal = SIGKILL
                            spawn.cgroup_procs_fd = request.cgroupProcsFD
                            return runnerd_spawn(&spawn, &result)
                        }
                    }
                }
            }
        }
        guard status == 0 else {
            return .failure(SpawnError(
                stage: result.stage, errno: result.error, executable: request.executable,
                workingDirectory: request.workingDirectory, credentials: request.credentials,
                environment: request.environment
            ))
        }
        return .success(result.pid)
    }

    // MARK: - Loop only

    private func reap() {
        if reapsEveryChild {
            var status: Int32 = 0
            while true {
                let pid = waitpid(-1, &status, WNOHANG)
                if pid <= 0 { break }
                record(pid, ProcessExit(waitStatus: status))
            }
        } else {
            for pid in children.keys where children[pid]?.status == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid { record(pid, ProcessExit(waitStatus: status)) }
            }
        }
        checkDrains()
    }

    private func record(_ pid: pid_t, _ status: ProcessExit) {
        guard var child = children[pid] else {
            // The child of a spawn not yet taken in, or an orphan re-parented to a subreaper
            // daemon, which is reaped and forgotten.
            if spawnsInFlight.load(ordering: .sequentiallyConsistent) > 0 { unclaimed[pid] = status }
            return
        }
        if child.waiters.isEmpty {
            child.status = status
            children[pid] = child
        } else {
            children[pid] = nil
            for waiter in child.waiters { waiter.resume(returning: status) }
        }
    }

    private func waitUntil(_ isDone: @escaping @Sendable () -> Bool) async {
        await withCheckedContinuation { continuation in
            loop.execute { [self] in
                if isDone() {
                    continuation.resume()
                } else {
                    drains.append(Drain(isDone: isDone, continuation: continuation))
                    scheduleDrainPoll()
                }
            }
        }
    }

    private func checkDrains() {
        drains.removeAll { drain in
            guard drain.isDone() else { return false }
            drain.continuation.resume()
            return true
        }
    }

    private func runScans() {
        // A child spawned but not yet taken in would look adopted: wait until it is (takeIn).
        guard spawnsInFlight.load(ordering: .sequentiallyConsistent) == 0 else { return }
        let requests = scans
        scans = []
        var environments: [(pid: pid_t, entries: [ArraySlice<UInt8>])] = []
        for pid in adoptedChildren() {
            guard case .success(let bytes) = FileContents.read(path: "/proc/\(pid)/environ") else { continue }
            environments.append((pid, bytes.split(separator: 0)))
        }
        for request in requests {
            let marked = environments.filter { $0.entries.contains { $0.elementsEqual(request.marker) } }
            request.continuation.resume(returning: marked.map(\.pid))
        }
    }

    /// The live children of this process that it did not spawn.
    private func adoptedChildren() -> [pid_t] {
        var info = siginfo_t()
        if waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD { return [] }
        return Self.children(of: getpid()).filter { children[$0] == nil }
    }

    /// The children of `pid`, zombies included: from the kernel's per-thread lists, which costs
    /// a read per thread of `pid`, or, when the kernel has none, from every process's stat.
    static func children(of pid: pid_t) -> [pid_t] {
        childrenFromTaskLists(of: pid) ?? childrenFromStat(of: pid)
    }

    /// The children of `pid`, from `/proc/PID/task/*/children` (one list per thread), or nil
    /// when the kernel has no such file (it needs `CONFIG_PROC_CHILDREN`).
    private static func childrenFromTaskLists(of pid: pid_t) -> [pid_t]? {
        guard let tasks = opendir("/proc/\(pid)/task") else { return nil }
        defer { closedir(tasks) }
        var found: [pid_t] = []
        while let entry = readdir(tasks) {
            guard let tid = pid_t(entryName(entry)) else { continue }
            switch FileContents.read(path: "/proc/\(pid)/task/\(tid)/children") {
            case .success(let bytes):
                found += bytes.split { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }
                    .compactMap { pid_t(String(decoding: $0, as: UTF8.self)) }
            case .failure(let failure):
                if failure.errno == ENOENT && found.isEmpty { return nil }
            }
        }
        return found
    }

    /// The children of `pid`, from every process's `/proc/PID/stat`.
    private static func childrenFromStat(of pid: pid_t) -> [pid_t] {
        guard let proc = opendir("/proc") else { return [] }
        defer { closedir(proc) }
        var found: [pid_t] = []
        while let entry = readdir(proc) {
            guard let child = pid_t(entryName(entry)), child != pid, parentPID(of: child) == pid else { continue }
            found.append(child)
        }
        return found
    }

    private static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    private func scheduleDrainPoll() {
        guard !drainPollScheduled else { return }
        drainPollScheduled = true
        loop.schedule(after: .milliseconds(50)) { [self] in
            drainPollScheduled = false
            if reapsEveryChild { reap() } else { checkDrains() }
            if !drains.isEmpty { scheduleDrainPoll() }
        }
    }
}

/// The parent pid from `/proc/PID/stat`, or nil if the process is gone.
private func parentPID(of pid: pid_t) -> pid_t? {
    guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 512)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
    let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    // The command name is in parentheses and may contain spaces; fields resume after the last ')'.
    guard let close = line.lastIndex(of: ")") else { return nil }
    let fields = line[line.index(after: close)...].split(separator: " ")
    return fields.count > 1 ? pid_t(fields[1]) : nil
}
