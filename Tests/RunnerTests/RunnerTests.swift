import Runner
import Synchronization
import Testing

@Suite("Runner")
struct RunnerTests {
    @Test func tokenCancellationCallsTheStopperAndReturnsTheTaskResult() async throws {
        let task = StoppableTask()
        let start = ContinuousClock.now
        let result = try await task.runner().run(CancellationToken(timeout: .seconds(1)))
        #expect(result.runnerID == "task")
        #expect(result.error == nil)
        #expect(task.stopperCalls == 1)
        #expect((0.9...1.8).contains(seconds(since: start)))
    }

    @Test func interruptAfterTheTokenStoppedTheRunnerDoesNothing() async throws {
        let task = StoppableTask()
        let runner = task.runner()
        let result = try await runner.run(CancellationToken(timeout: .seconds(1)))
        #expect(result.error == nil)
        runner.interrupt()
        runner.interrupt()
        #expect(task.stopperCalls == 1)
    }

    @Test func taskFinishingByItselfReportsItsErrorAndIsNeverStopped() async throws {
        let stops = StubbornTask()
        let runner = Runner(id: "failing", task: {
            try await Task.sleep(for: .milliseconds(100))
            throw TestFailure(message: "boom")
        }, stopper: { stops.release.cancel() })
        let result = try await runner.run(CancellationToken())
        #expect(result.runnerID == "failing")
        #expect(result.error as? TestFailure == TestFailure(message: "boom"))
        #expect(!stops.release.isCancelled)
        #expect(runner.isFinished)
    }

    @Test func taskIgnoringItsStopperKeepsTheCallerWaitingForTheDefaultDuration() async throws {
        let task = StubbornTask()
        defer { task.release.cancel() }
        let runner = defaultsLock.withLock { _ in task.runner() }
        #expect(runner.interruptDuration == .seconds(10))
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        let token = CancellationToken(timeout: .seconds(1))
        let caller = Task { try await runner.run(token) }
        Task { continuation.yield(try await caller.value) }
        #expect(await next(results, within: .milliseconds(4_500)) == nil)
        #expect(task.stopperCalls == 1)
    }

    @Test func taskIgnoringItsStopperTimesOutAfterTheInterruptDuration() async throws {
        let task = StubbornTask()
        defer { task.release.cancel() }
        let start = ContinuousClock.now
        let result = try await task.runner("slow", interruptDuration: .seconds(3)).run(CancellationToken(timeout: .seconds(1)))
        let timeout = try #require(result.error as? TimeoutError)
        #expect(timeout == TimeoutError(runnerID: "slow", duration: .seconds(3), scope: .runner))
        #expect(timeout.description.contains("timed out"))
        #expect(timeout.description.contains("slow"))
        #expect((3.9...4.8).contains(seconds(since: start)))
    }

    @Test func runningTwiceIsRefused() async throws {
        let runner = StoppableTask().runner("once")
        _ = try await runner.run(CancellationToken(timeout: .milliseconds(10)))
        await #expect(throws: RunnerError.alreadyStarted(runnerID: "once")) {
            try await runner.run(CancellationToken())
        }
        let (_, continuation) = AsyncStream<RunResult>.makeStream()
        #expect(throws: RunnerError.alreadyStarted(runnerID: "once")) {
            try runner.runAsync(into: continuation)
        }
    }

    @Test func runAsyncDeliversTheResultAndRefusesASecondStart() async throws {
        let runner = Runner(id: "quick", task: { try await Task.sleep(for: .milliseconds(50)) }, stopper: {})
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try runner.runAsync(into: continuation)
        #expect(throws: RunnerError.alreadyStarted(runnerID: "quick")) {
            try runner.runAsync(into: continuation)
        }
        let result = try #require(await next(results, within: .seconds(5)))
        #expect(result.runnerID == "quick")
        #expect(result.error == nil)
        // Exactly one result: the stream stays empty afterwards.
        #expect(await next(results, within: .milliseconds(300)) == nil)
    }

    @Test func interruptingARunAsyncRunnerDeliversTheStoppersErrorOnce() async throws {
        let task = StoppableTask(finishingWith: TestFailure(message: "stopped"))
        let runner = task.runner()
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try runner.runAsync(into: continuation)
        runner.interrupt()
        runner.interrupt()
        runner.interrupt()
        let result = try #require(await next(results, within: .seconds(5)))
        #expect(result.error as? TestFailure == TestFailure(message: "stopped"))
        #expect(task.stopperCalls == 1)
        #expect(await next(results, within: .milliseconds(300)) == nil)
    }

    @Test func interruptingATaskThatIgnoresItsStopperTimesOut() async throws {
        let task = StubbornTask()
        defer { task.release.cancel() }
        let runner = task.runner("ignorer", interruptDuration: .seconds(1))
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try runner.runAsync(into: continuation)
        let start = ContinuousClock.now
        runner.interrupt()
        let result = try #require(await next(results, within: .seconds(5)))
        #expect(result.timeout == TimeoutError(runnerID: "ignorer", duration: .seconds(1)))
        #expect((0.9...1.8).contains(seconds(since: start)))
        #expect(!runner.isFinished)
        task.release.cancel()
        await runner.waitUntilFinished()
        #expect(runner.isFinished)
    }

    @Test func waitUntilFinishedReturnsOnceTheTaskHasReturned() async throws {
        let task = StoppableTask()
        let runner = task.runner()
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try runner.runAsync(into: continuation)
        #expect(!runner.isFinished)
        let waiter = Task { await runner.waitUntilFinished() }
        try await Task.sleep(for: .milliseconds(100))
        runner.interrupt()
        await waiter.value
        #expect(runner.isFinished)
        #expect(await next(results, within: .seconds(5))?.error == nil)
        // Waiting after the fact returns at once.
        await runner.waitUntilFinished()
    }

    @Test func cancellingTheAwaitingTaskInterruptsTheRunnerButNotItsTask() async throws {
        let stop = CancellationToken()
        let taskSawCancellation = Counter()
        let runner = Runner(id: "served", task: {
            await stop.wait()
            if Task.isCancelled { taskSawCancellation.increment() }
        }, stopper: { stop.cancel() })
        let token = CancellationToken()
        let caller = Task { try await runner.run(token) }
        try await Task.sleep(for: .milliseconds(100))
        caller.cancel()
        let result = try await caller.value
        #expect(result.error == nil)
        #expect(stop.isCancelled)
        #expect(taskSawCancellation.count == 0)
        // The caller's token is the caller's: cancelling the Task does not cancel it.
        #expect(!token.isCancelled)
    }

    @Test func interruptBeforeStartIsAppliedOnceTheRunnerStarts() async throws {
        let task = StoppableTask()
        let runner = task.runner()
        runner.interrupt()
        #expect(task.stopperCalls == 0)
        let result = try await runner.run(CancellationToken())
        #expect(result.error == nil)
        #expect(task.stopperCalls == 1)
    }

    @Test func defaultInterruptDurationsCanBeChangedThreadSafely() async {
        defaultsLock.withLock { _ in
            #expect(Runner.defaultInterruptDuration == .seconds(10))
            #expect(GroupRunner.defaultInterruptDuration == .seconds(15))
            Runner.defaultInterruptDuration = .seconds(4)
            GroupRunner.defaultInterruptDuration = .seconds(6)
            #expect(StoppableTask().runner().interruptDuration == .seconds(4))
            #expect(GroupRunner().interruptDuration == .seconds(6))
            Runner.defaultInterruptDuration = .seconds(10)
            GroupRunner.defaultInterruptDuration = .seconds(15)
        }
        // Concurrent reads and writes must neither tear nor trap.
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<1_000 {
                        Runner.defaultInterruptDuration = .seconds(10)
                        #expect(Runner.defaultInterruptDuration == .seconds(10))
                        GroupRunner.defaultInterruptDuration = .seconds(15)
                        #expect(GroupRunner.defaultInterruptDuration == .seconds(15))
                    }
                }
            }
        }
    }
}
