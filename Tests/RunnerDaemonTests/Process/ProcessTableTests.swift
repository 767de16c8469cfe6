import Glibc
@testable import RunnerDaemon
import RunnerdTestSupport
import Synchronization
import Testing

/// The process table with real children, as the service harness uses it: reaping only its own.
@Suite("ProcessTable")
struct ProcessTableTests {
    @Test func childrenSpawnedTogetherThatExitAtOnceAreEachReapedWithTheirStatus() async throws {
        // Two threads spawn at once, and a child may exit before the loop knows its pid; no
        // other child's exit will come along to have it reaped later.
        let processes = ServiceHarness.processes
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(null) }
        let count = 200
        let exits = Mutex<[Int: ProcessExit]?>(nil)
        Task {
            let collected = await withTaskGroup(of: (Int, ProcessExit?).self) { group in
                for index in 0..<count {
                    group.addTask {
                        let request = ProcessTable.Request(
                            executable: "/bin/sh", arguments: ["sh", "-c", "exit \(index % 7)"], environment: [],
                            workingDirectory: nil, credentials: nil, stdoutFD: null, stderrFD: null
                        )
                        guard let pid = try? await processes.spawn(request) else { return (index, nil) }
                        return (index, await processes.waitForExit(pid))
                    }
                }
                var collected: [Int: ProcessExit] = [:]
                for await (index, exit) in group { collected[index] = exit }
                return collected
            }
            exits.withLock { $0 = collected }
        }
        let deadline = Deadline(after: .seconds(30))
        while exits.withLock({ $0 }) == nil && !deadline.hasPassed {
            try await Task.sleep(for: .milliseconds(10))
        }
        let collected = try #require(exits.withLock { $0 }, "not every child's exit arrived within 30 s")
        #expect(collected.count == count)
        for index in 0..<count {
            #expect(collected[index] == .exited(Int32(index % 7)), "child \(index)")
        }
    }
}
