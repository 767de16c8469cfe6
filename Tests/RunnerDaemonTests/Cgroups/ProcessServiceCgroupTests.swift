@testable import RunnerDaemon
import Glibc
import Runner
import RunnerdConfig
import Synchronization
import Testing

/// A service in a real cgroup of its own, outside systemd: a throw-away cgroup v2 tree made under
/// the machine's cgroup v2 mount (the tests need root and such a mount, and are skipped without
/// them), standing in for runnerd's delegated cgroup. The kernel's own semantics, with real
/// processes: the child starts in its cgroup, what escapes the process group is still found and
/// killed with `cgroup.kill`, the run ends when the cgroup is empty, and the cgroup is removed.
@Suite("ProcessService in a cgroup", .enabled(if: ScratchCgroup.available, "needs root and a writable cgroup v2 mount"))
struct ProcessServiceCgroupTests {
    let harness = ServiceHarness()

    @Test func theChildStartsInItsCgroupWhichIsRemovedWhenTheRunEnds() async throws {
        let scratch = try #require(ScratchCgroup())
        defer { scratch.remove() }
        let watcher = try #require(CgroupWatcher(loop: ServiceHarness.loop))
        let spawned = Mutex<pid_t>(0)
        let service = harness.service(
            "short", ["/bin/sh", "-c", "grep '^0::' /proc/self/cgroup; exit 4"],
            events: .init(spawned: { _, pid in spawned.withLock { $0 = pid } }), cgroups: (scratch.tree, watcher)
        )
        let runner = service.makeRunner()
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try runner.runAsync(into: continuation)
        var iterator = results.makeAsyncIterator()
        let result = await iterator.next()
        #expect(result?.error as? ServiceFailure == .exited(.exited(4)))
        // The shell was in the service's cgroup from its start.
        let lines = try await harness.waitForLine { $0.hasPrefix("test/short | 0::") }
        #expect(lines.contains("test/short | 0::\(scratch.tree.cgroupPath)/test/short"), "\(lines)")
        #expect(access(scratch.tree.path + "/test/short", F_OK) != 0, "the run's cgroup is removed")
        #expect(scratch.tree.services.isEmpty)
    }

    @Test func anEscapeeThatClearedItsEnvironmentIsSignalledThenKilledWithCgroupKill() async throws {
        let scratch = try #require(ScratchCgroup())
        defer { scratch.remove() }
        let watcher = try #require(CgroupWatcher(loop: ServiceHarness.loop))
        let escaped = Mutex<[pid_t]>([])
        let spawned = Mutex<pid_t>(0)
        let service = harness.service(
            "leaver",
            ["/bin/sh", "-c", "(env -i /usr/bin/setsid /bin/sh -c 'trap \"\" TERM; echo escaped; while :; do sleep 1; done' &); exec sleep 1000"],
            interruptTimeout: .milliseconds(300),
            events: .init(
                spawned: { _, pid in spawned.withLock { $0 = pid } },
                escaped: { _, pids, _ in escaped.withLock { $0 = pids } }
            ),
            cgroups: (scratch.tree, watcher)
        )
        let runner = service.makeRunner()
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try runner.runAsync(into: continuation)
        try await waitUntil { spawned.withLock { $0 } != 0 }
        let main = spawned.withLock { $0 }
        let cgroup = try #require(service.cgroup)
        // Once it says so, it ignores SIGTERM.
        _ = try await harness.waitForLine { $0 == "test/leaver | escaped" }
        // The escapee: in the cgroup, but in a session of its own, with an empty environment.
        var escapee: pid_t = 0
        try await waitUntil {
            escapee = cgroup.processes.first { getsid($0) != main && getsid($0) == $0 } ?? 0
            return escapee != 0
        }
        #expect(readFile("/proc/\(escapee)/environ").isEmpty)
        #expect(scratch.tree.services["test/leaver"] === cgroup)
        #expect(cgroup.accounting.cpuUsage != nil)

        runner.interrupt()
        var iterator = results.makeAsyncIterator()
        // The stop signal ends the main process; the escapee ignores it, so the runner gives up
        // after its interrupt timeout, and (as GroupLifecycle would decide) the service is killed.
        let result = await iterator.next()
        #expect(result?.error is TimeoutError)
        #expect(escaped.withLock { $0 }.contains(escapee), "the escapee was reported: \(escaped.withLock { $0 })")
        #expect(processExists(escapee), "it ignored SIGTERM")
        service.kill()
        await runner.waitUntilFinished()
        try await waitUntil { !processExists(escapee) || isZombie(escapee) }
        #expect(service.wasKilled)
        #expect(access(cgroup.path, F_OK) != 0, "the run's cgroup is removed")
    }
}

/// Whether `pid` has exited and waits to be reaped (by init, here: the test process is no subreaper).
private func isZombie(_ pid: pid_t) -> Bool {
    processes().first { $0.pid == pid }?.state == "Z"
}

/// A throw-away cgroup v2 tree for one test, standing in for runnerd's delegated cgroup.
struct ScratchCgroup {
    let tree: CgroupTree
    private static let counter = Atomic<Int>(0)

    /// The cgroup v2 mount, when this process may make cgroups in it.
    static let mount: String? = {
        guard geteuid() == 0 else { return nil }
        return ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].first { CgroupTree.isCgroup2($0) && access($0, W_OK) == 0 }
    }()

    static var available: Bool { mount != nil }

    init?() {
        guard let mount = Self.mount else { return nil }
        let name = "runnerd-tests-\(getpid())-\(Self.counter.add(1, ordering: .relaxed).newValue)"
        guard mkdir("\(mount)/\(name)", 0o755) == 0 else { return nil }
        let controllers = readFile("\(mount)/\(name)/cgroup.controllers").split(whereSeparator: \.isWhitespace).map(String.init)
        tree = CgroupTree(path: "\(mount)/\(name)", cgroupPath: "/\(name)", available: Set(controllers))
    }

    /// Kills whatever a failed test left, and removes the tree.
    func remove() {
        for (_, cgroup) in tree.services { cgroup.kill() }
        tree.removeEmpty()
        rmdir(tree.path)
    }
}
