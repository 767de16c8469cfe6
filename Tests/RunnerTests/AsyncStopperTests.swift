import Runner
import Synchronization
import Testing

@Suite("Async stoppers")
struct AsyncStopperTests {
    @Test func aSynchronousStopperStillRunsBeforeInterruptReturns() throws {
        let task = StoppableTask()
        let runner = Runner(id: "sync", task: { try await task.run() }, stopper: { task.stopper() })
        let (_, continuation) = AsyncStream<RunResult>.makeStream()
        try runner.runAsync(into: continuation)
        runner.interrupt()
        // Resolved to the synchronous overload: no hop to another thread.
        #expect(task.stopperCalls == 1)
    }

    @Test func anAsyncStopperThatAwaitsTheShutdownStopsTheTask() async throws {
        let stop = CancellationToken()
        let runner = Runner(id: "server", interruptDuration: .seconds(5), task: { await stop.wait() }, stopper: {
            try? await Task.sleep(for: .milliseconds(50))
            stop.cancel()
        })
        let result = try await runner.run(CancellationToken(timeout: .milliseconds(50)))
        #expect(result.runnerID == "server" && result.error == nil)
        #expect(stop.isCancelled)
    }

    @Test func anAsyncStoppersOwnTimeCountsTowardTheInterruptDuration() async throws {
        let stop = CancellationToken()
        let releaseStopper = CancellationToken()
        defer { releaseStopper.cancel() }
        let runner = Runner(id: "slow-shutdown", interruptDuration: .milliseconds(500), task: { await stop.wait() }, stopper: {
            await releaseStopper.wait()
            stop.cancel()
        })
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try runner.runAsync(into: continuation)
        let start = ContinuousClock.now
        runner.interrupt()
        let result = try #require(await next(results, within: .seconds(5)))
        #expect(result.timeout == TimeoutError(runnerID: "slow-shutdown", duration: .milliseconds(500)))
        #expect((0.4...1.2).contains(seconds(since: start)))
    }

    @Test func aGroupDoesNotWaitForAnAsyncStopperBeforeTheNextOne() async throws {
        let releaseFirst = CancellationToken()
        defer { releaseFirst.cancel() }
        let firstStop = CancellationToken()
        let second = StoppableTask()
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(Runner(id: "first", interruptDuration: .seconds(5), task: { await firstStop.wait() }, stopper: {
            await releaseFirst.wait()
            firstStop.cancel()
        }))
        try group.add(second.runner("second", interruptDuration: .seconds(5)))
        let results = try group.runResults(CancellationToken(timeout: .milliseconds(50)))
        var iterator = results.makeAsyncIterator()
        let firstResult = await iterator.next()
        // The second stopper ran although the first one is still waiting.
        #expect(firstResult?.runnerID == "second")
        #expect(second.stopperCalls == 1)
        releaseFirst.cancel()
        #expect(await iterator.next()?.runnerID == "first")
        #expect(await iterator.next() == nil)
    }
}

@Suite("Result sequences")
struct ResultSequenceTests {
    @Test func theSequenceFinishesAfterTheLastResult() async throws {
        let tasks = (0..<3).map { _ in StoppableTask() }
        let group = GroupRunner(interruptDuration: .seconds(5))
        for (index, task) in tasks.enumerated() { try group.add(task.runner("t\(index)")) }
        let results = try group.runResults(CancellationToken(timeout: .milliseconds(100)))
        var ids: [String] = []
        for await result in results {
            #expect(result.error == nil)
            ids.append(result.runnerID)
        }
        #expect(ids.sorted() == ["t0", "t1", "t2"])
    }

    @Test func theSequenceCarriesTheGroupTimeoutsAndThenFinishes() async throws {
        let stubborn = StubbornTask()
        defer { stubborn.release.cancel() }
        let group = GroupRunner(interruptDuration: .milliseconds(300))
        try group.add(stubborn.runner("a", interruptDuration: .seconds(30)))
        try group.add(stubborn.runner("b", interruptDuration: .seconds(30)))
        let token = CancellationToken()
        let results = try group.runResults(token)
        token.cancel()
        var timeouts: [TimeoutError] = []
        for await result in results { timeouts += [result.timeout].compactMap { $0 } }
        #expect(Set(timeouts) == [
            TimeoutError(runnerID: "a", duration: .milliseconds(300), scope: .group),
            TimeoutError(runnerID: "b", duration: .milliseconds(300), scope: .group),
        ])
    }

    @Test func cancellingTheConsumingTaskInterruptsTheGroup() async throws {
        let task = StoppableTask()
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(task.runner("served"))
        let results = try group.runResults(CancellationToken())
        let consumer = Task {
            for await _ in results {}
        }
        try await Task.sleep(for: .milliseconds(50))
        consumer.cancel()
        await consumer.value
        #expect(await eventually(within: .seconds(5)) { task.stopperCalls == 1 })
    }

    @Test func anEmptyGroupsSequenceFinishesAtOnce() async throws {
        var count = 0
        for await _ in try GroupRunner().runResults(CancellationToken()) { count += 1 }
        #expect(count == 0)
    }
}
