@testable import RunnerDaemon
import Glibc
import Runner
import RunnerdConfig
import Testing

/// How an OOM kill becomes a service's result, with a real process but a stand-in cgroup: a plain
/// directory holding the files the kernel would (`cgroup.procs`, `cgroup.events`, `memory.events`,
/// `memory.max`), so that `oom_kill` can be set, which no machine without the memory controller
/// in cgroup v2 can do for real (e2e 20 does, where it can).
@Suite("ProcessService: an OOM kill")
struct ProcessServiceOOMTests {
    let harness = ServiceHarness()

    /// The stand-in for runnerd's cgroup, with `test/eater` prepared; `oomKills` in its memory.events.
    private func fakeTree(oomKills: Int) throws -> CgroupTree {
        var template = Array("/tmp/runnerd-fake-cgroup-XXXXXX".utf8CString)
        let root = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        mkdir(root + "/test", 0o755)
        mkdir(root + "/test/eater", 0o755)
        for (file, text) in [
            ("cgroup.procs", ""), ("cgroup.events", "populated 0\nfrozen 0\n"), ("memory.max", "max\n"),
            ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill \(oomKills)\noom_group_kill 0\n"),
        ] {
            let fd = open(root + "/test/eater/" + file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            _ = text.withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
        return CgroupTree(path: root, cgroupPath: "/fake", available: [])
    }

    private func removeFake(_ tree: CgroupTree) {
        for file in ["cgroup.procs", "cgroup.events", "memory.max", "memory.events"] { unlink(tree.path + "/test/eater/" + file) }
        rmdir(tree.path + "/test/eater")
        rmdir(tree.path + "/test")
        rmdir(tree.path)
    }

    private func run(oomKills: Int) async throws -> (any Error)? {
        let tree = try fakeTree(oomKills: oomKills)
        defer { removeFake(tree) }
        let watcher = try #require(CgroupWatcher(loop: ServiceHarness.loop))
        var config = ServiceConfig(name: "eater", command: ["/bin/sh", "-c", "kill -9 $$"], executable: "/bin/sh")
        config.limits.memoryMax = .value(32 << 20)
        let service = ProcessService(
            group: "test", config: config,
            context: ProcessService.Context(
                processes: ServiceHarness.processes, router: harness.router, relay: nil,
                baseEnvironment: ChildEnvironment(["PATH=/usr/bin:/bin"]), events: .init(), cgroups: (tree, watcher)
            )
        )
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try service.makeRunner().runAsync(into: continuation)
        var iterator = results.makeAsyncIterator()
        let result = try #require(await iterator.next())
        #expect(readFile(tree.path + "/test/eater/memory.max") == "33554432", "memory-max is written to memory.max")
        return result.error
    }

    @Test func anOOMKillInTheCgroupIsTheRunsFailureNamingMemoryMax() async throws {
        let error = try await run(oomKills: 1)
        #expect(error as? ServiceFailure == .oomKilled(memoryMax: "32M"))
        #expect("\(try #require(error))" == "was killed by the OOM killer (memory-max 32M)")
    }

    @Test func withoutAnOOMKillTheSameSIGKILLIsJustASignal() async throws {
        let error = try await run(oomKills: 0)
        #expect(error as? ServiceFailure == .exited(.signaled(SIGKILL, coreDumped: false)))
    }
}
