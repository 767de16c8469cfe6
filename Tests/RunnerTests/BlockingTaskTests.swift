#if canImport(Glibc)
import Glibc
#endif
import Runner
import Synchronization
import Testing

@Suite("Tasks that block their thread")
struct BlockingTaskTests {
    @Test func blockedTasksNeitherDelayTimeoutsNorStarveTheCooperativePool() async throws {
        let started = Atomic(0)
        let group = GroupRunner(interruptDuration: .seconds(2))
        for index in 1...4 {
            try group.add(Runner(id: "sleeper\(index)", interruptDuration: .seconds(30), task: {
                started.add(1, ordering: .relaxed)
                usleep(6_000_000)
            }, stopper: {}))
        }
        // Code that polls on the cooperative pool meanwhile must keep running.
        let polls = Atomic(0)
        let poller = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(10))
                polls.add(1, ordering: .relaxed)
            }
        }
        defer { poller.cancel() }
        let start = ContinuousClock.now
        let results = try await group.run(CancellationToken(timeout: .seconds(1)))
        let elapsed = seconds(since: start)
        #expect((2.9...3.8).contains(elapsed), "returned after \(elapsed) s")
        #expect(results.count == 4)
        #expect(results.allSatisfy { $0.timeout?.scope == .group })
        #expect(Set(results.map(\.runnerID)) == ["sleeper1", "sleeper2", "sleeper3", "sleeper4"])
        // All four blocked at once: the executor added threads beyond the two cores.
        #expect(started.load(ordering: .relaxed) == 4)
        #expect(polls.load(ordering: .relaxed) > 100, "the cooperative pool polled only \(polls.load(ordering: .relaxed)) times in 3 s")
    }

    @Test func aBlockedTaskDoesNotDelayTheStartOfOthers() async throws {
        let release = CancellationToken()
        let blocker = Runner(id: "blocker", interruptDuration: .seconds(5), task: {
            while !release.isCancelled { usleep(1_000) }
        }, stopper: { release.cancel() })
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try blocker.runAsync(into: continuation)
        let quick = Runner(id: "quick", task: {}, stopper: {})
        let start = ContinuousClock.now
        let result = try await quick.run(CancellationToken())
        #expect(result.error == nil)
        #expect(seconds(since: start) < 1)
        blocker.interrupt()
        #expect(await next(results, within: .seconds(5))?.error == nil)
    }

    @Test func cooperativePlacementRunsTasksOnTheSharedPool() async throws {
        let task = StoppableTask()
        let runner = Runner(id: "async", placement: .cooperative, task: { try await task.run() }, stopper: { task.stopper() })
        #expect(runner.placement == .cooperative)
        let result = try await runner.run(CancellationToken(timeout: .milliseconds(100)))
        #expect(result.error == nil)
    }
}
