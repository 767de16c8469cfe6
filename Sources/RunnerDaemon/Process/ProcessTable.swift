import CLinuxSupport
import Glibc
import Runner
import Synchronization

/// Spawns children and learns of their exits: the daemon's one owner of `fork`, `exec` and
/// `waitpid`. Everything runs on the event loop's thread; callers await from anywhere.
///
/// With `reapsEveryChild`, the table reaps any child with `waitpid(-1)`, including orphaned
/// grandchildren re-parented to a subreaper daemon, so no zombie is ever left. Without it, it
/// reaps only the children it spawned, which lets it share a process with other code that waits
/// for children of its own (a test runner, an embedding server).
final class ProcessTable: @unchecked Sendable {
    // @unchecked: `children` and `drains` are touched only on the loop thread.

    /// What `spawn` needs to start a child.
    struct Request: Sendable {
        var executable: String
        var arguments: [String]
        var environment: [String]
        var workingDirectory: String?
        var credentials: Credentials?
        var stdoutFD: Int32
        var stderrFD: Int32
    }

    private struct Child {
        var status: ProcessExit?
        var waiters: [CheckedContinuation<ProcessExit, Never>] = []
    }

    private struct Drain {
        let processGroup: pid_t
        let continuation: CheckedContinuation<Void, Never>
    }

    let loop: EventLoop
    private let reapsEveryChild: Bool
    private var children: [pid_t: Child] = [:]
    private var drains: [Drain] = []
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
        let outcome = await loop.submit { [self] in spawnOnLoop(request) }
        return try outcome.get()
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
        await withCheckedContinuation { continuation in
            loop.execute { [self] in
                if kill(-processGroup, 0) != 0 && errno == ESRCH {
                    continuation.resume()
                } else {
                    drains.append(Drain(processGroup: processGroup, continuation: continuation))
                    scheduleDrainPoll()
                }
            }
        }
    }

    // MARK: - Loop only

    private func spawnOnLoop(_ request: Request) -> Result<pid_t, SpawnError> {
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
                            return runnerd_spawn(&spawn, &result)
                        }
                    }
                }
            }
        }
        guard status == 0 else {
            return .failure(SpawnError(
                stage: result.stage, errno: result.error, executable: request.executable,
                workingDirectory: request.workingDirectory, credentials: request.credentials
            ))
        }
        children[result.pid] = Child()
        return .success(result.pid)
    }

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
        // Orphans re-parented to a subreaper daemon are reaped and forgotten.
        guard var child = children[pid] else { return }
        if child.waiters.isEmpty {
            child.status = status
            children[pid] = child
        } else {
            children[pid] = nil
            for waiter in child.waiters { waiter.resume(returning: status) }
        }
    }

    private func checkDrains() {
        drains.removeAll { drain in
            guard kill(-drain.processGroup, 0) != 0 && errno == ESRCH else { return false }
            drain.continuation.resume()
            return true
        }
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
