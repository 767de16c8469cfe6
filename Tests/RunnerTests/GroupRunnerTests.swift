import Runner
import Synchronization
import Testing

@Suite("GroupRunner")
struct GroupRunnerTests {
    @Test func duplicateIDIsRefused() throws {
        let group = GroupRunner()
        try group.add(StoppableTask().runner("api"))
        #expect(throws: RunnerError.duplicateID("api")) {
            try group.add(StoppableTask().runner("api"))
        }
    }

    @Test func addingAfterRunIsRefused() async throws {
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(StoppableTask().runner("one"))
        let token = CancellationToken()
        let running = Task { try await group.run(token) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(throws: RunnerError.groupAlreadyStarted) {
            try group.add(StoppableTask().runner("two"))
        }
        token.cancel()
        #expect(try await running.value.count == 1)
    }

    @Test func addingAfterRunAsyncIsRefused() throws {
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(StoppableTask().runner("one"))
        let (_, continuation) = AsyncStream<RunResult>.makeStream()
        try group.runAsync(into: continuation)
        #expect(throws: RunnerError.groupAlreadyStarted) {
            try group.add(StoppableTask().runner("two"))
        }
        group.interrupt()
    }

    @Test func cancellingTheTokenStopsEveryTaskCleanly() async throws {
        let tasks = (1...3).map { _ in StoppableTask() }
        let group = GroupRunner(interruptDuration: .seconds(5))
        for (index, task) in tasks.enumerated() { try group.add(task.runner("task\(index + 1)")) }
        let start = ContinuousClock.now
        let results = try await group.run(CancellationToken(timeout: .seconds(1)))
        #expect(Set(results.map(\.runnerID)) == ["task1", "task2", "task3"])
        #expect(results.allSatisfy { $0.error == nil })
        #expect(tasks.allSatisfy { $0.stopperCalls == 1 })
        #expect((0.9...1.8).contains(seconds(since: start)))
    }

    @Test func oneTaskFinishingStopsTheRestWithoutStoppingItself() async throws {
        let stopped = Atomic(0)
        let early = Runner(id: "early", task: { try await Task.sleep(for: .seconds(1)) }, stopper: { stopped.add(1, ordering: .relaxed) })
        let others = (1...2).map { _ in StoppableTask() }
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(early)
        for (index, task) in others.enumerated() { try group.add(task.runner("other\(index + 1)")) }
        let start = ContinuousClock.now
        let results = try await group.run(CancellationToken())
        #expect(seconds(since: start) < 3)
        #expect(results.first?.runnerID == "early")
        #expect(results.count == 3)
        #expect(results.allSatisfy { $0.error == nil })
        #expect(stopped.load(ordering: .relaxed) == 0)
        #expect(others.allSatisfy { $0.stopperCalls == 1 })
    }

    @Test func groupTimeoutNamesEveryOutstandingRunner() async throws {
        let stubborn = StubbornTask()
        defer { stubborn.release.cancel() }
        let group = GroupRunner(interruptDuration: .seconds(2))
        try group.add(stubborn.runner("task1", interruptDuration: .seconds(30)))
        try group.add(stubborn.runner("task2", interruptDuration: .seconds(30)))
        let start = ContinuousClock.now
        let results = try await group.run(CancellationToken(timeout: .seconds(1)))
        #expect((2.9...3.8).contains(seconds(since: start)))
        let timeouts = results.compactMap(\.timeout)
        #expect(Set(timeouts) == [
            TimeoutError(runnerID: "task1", duration: .seconds(2), scope: .group),
            TimeoutError(runnerID: "task2", duration: .seconds(2), scope: .group),
        ])
        #expect(Set(results.map(\.runnerID)) == ["task1", "task2"])
        #expect(stubborn.stopperCalls == 2)
    }

    @Test func interruptThenTheGroupTimeout() async throws {
        let stubborn = StubbornTask()
        defer { stubborn.release.cancel() }
        let polite = StoppableTask()
        let group = GroupRunner(interruptDuration: .seconds(1))
        try group.add(stubborn.runner("stubborn", interruptDuration: .seconds(30)))
        try group.add(polite.runner("polite"))
        let running = Task { try await group.run(CancellationToken()) }
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        group.interrupt()
        group.interrupt()
        let results = try await running.value
        #expect((0.9...1.8).contains(seconds(since: start)))
        #expect(results.map(\.runnerID) == ["polite", "stubborn"])
        #expect(results[0].error == nil)
        #expect(results[1].timeout == TimeoutError(runnerID: "stubborn", duration: .seconds(1), scope: .group))
        #expect(polite.stopperCalls == 1)
        #expect(stubborn.stopperCalls == 1)
    }

    @Test func runnersOwnTimeoutComesBeforeTheGroups() async throws {
        let stubborn = StubbornTask()
        defer { stubborn.release.cancel() }
        let group = GroupRunner(interruptDuration: .seconds(3))
        try group.add(stubborn.runner("quick-limit", interruptDuration: .milliseconds(500)))
        try group.add(stubborn.runner("slow-limit", interruptDuration: .seconds(30)))
        let results = try await group.run(CancellationToken(timeout: .milliseconds(100)))
        #expect(results.map(\.timeout) == [
            TimeoutError(runnerID: "quick-limit", duration: .milliseconds(500), scope: .runner),
            TimeoutError(runnerID: "slow-limit", duration: .seconds(3), scope: .group),
        ])
    }

    @Test func eachRunnersTimeoutStartsWhenItsOwnStopperIsCalled() async throws {
        let stubborn = StubbornTask()
        defer { stubborn.release.cancel() }
        let slowStopperReleased = CancellationToken()
        let stop = CancellationToken()
        let group = GroupRunner(interruptDuration: .seconds(10))
        // Stoppers run in the order runners were added: the stubborn one's first, then the slow one.
        try group.add(stubborn.runner("stubborn", interruptDuration: .milliseconds(500)))
        try group.add(Runner(id: "slow-stopper", interruptDuration: .seconds(10), task: { await stop.wait() }, stopper: {
            block(until: slowStopperReleased, atMost: .milliseconds(1_500))
            stop.cancel()
        }))
        let (results, continuation) = AsyncStream<(RunResult, Double)>.makeStream()
        let start = ContinuousClock.now
        try group.runAsync { continuation.yield(($0, seconds(since: start))) }
        group.interrupt()
        let arrived = await collect(2, from: results, within: .seconds(5))
        try #require(arrived.count == 2)
        #expect(arrived[0].0.timeout == TimeoutError(runnerID: "stubborn", duration: .milliseconds(500)))
        // Its 500 ms ran while the second stopper was still blocked (1.5 s), not after it.
        #expect((0.4...1.2).contains(arrived[0].1))
        #expect(arrived[1].0.runnerID == "slow-stopper" && arrived[1].0.error == nil)
    }

    @Test func theGroupTimeoutStartsOnceTheLastStopperHasReturned() async throws {
        let stubborn = StubbornTask()
        defer { stubborn.release.cancel() }
        let never = CancellationToken()
        let group = GroupRunner(interruptDuration: .seconds(1))
        try group.add(stubborn.runner("stubborn", interruptDuration: .seconds(30)))
        try group.add(Runner(id: "slow-stopper", interruptDuration: .seconds(30), task: { await stubborn.release.wait() }, stopper: {
            block(until: never, atMost: .seconds(1))
        }))
        let running = Task { try await group.run(CancellationToken()) }
        try await Task.sleep(for: .milliseconds(50))
        let start = ContinuousClock.now
        group.interrupt()
        let results = try await running.value
        #expect((1.9...2.8).contains(seconds(since: start)))
        #expect(results.allSatisfy { $0.timeout?.scope == .group })
    }

    @Test func runningTwiceIsRefused() async throws {
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(StoppableTask().runner())
        _ = try await group.run(CancellationToken(timeout: .milliseconds(10)))
        await #expect(throws: RunnerError.groupAlreadyStarted) { try await group.run(CancellationToken()) }
        let (_, continuation) = AsyncStream<RunResult>.makeStream()
        #expect(throws: RunnerError.groupAlreadyStarted) { try group.runAsync(into: continuation) }
    }

    @Test func aRunnerStartedElsewhereStopsTheGroupFromStartingAtAll() async throws {
        let outsider = StoppableTask()
        let member = StoppableTask()
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(member.runner("member"))
        let busy = outsider.runner("busy")
        try group.add(busy)
        let (_, continuation) = AsyncStream<RunResult>.makeStream()
        try busy.runAsync(into: continuation)
        await #expect(throws: RunnerError.alreadyStarted(runnerID: "busy")) { try await group.run(CancellationToken()) }
        busy.interrupt()
        // Nothing started: the member never ran, so the group can still be run once fixed.
        try await Task.sleep(for: .milliseconds(100))
        #expect(member.stopperCalls == 0)
    }

    @Test func runAsyncYieldsOneResultPerRunner() async throws {
        let group = GroupRunner(interruptDuration: .seconds(5))
        for index in 1...3 {
            try group.add(Runner(id: "r\(index)", task: { try await Task.sleep(for: .milliseconds(50 * index)) }, stopper: {}))
        }
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try group.runAsync(into: continuation)
        let collected = await collect(3, from: results, within: .seconds(5))
        #expect(Set(collected.map(\.runnerID)) == ["r1", "r2", "r3"])
        #expect(await next(results, within: .milliseconds(300)) == nil)
    }

    @Test func runAsyncWithACallbackHandsOverOneResultPerRunnerOutsideTheLock() async throws {
        let tasks = (0..<3).map { _ in StoppableTask() }
        let group = GroupRunner(interruptDuration: .seconds(5))
        for (index, task) in tasks.enumerated() { try group.add(task.runner("t\(index)")) }
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try group.runAsync { result in
            // The group's lock is not reentrant: called under it, this would never return.
            group.interrupt()
            continuation.yield(result)
        }
        tasks[1].stop.cancel()
        let collected = await collect(3, from: results, within: .seconds(5))
        #expect(collected.first?.runnerID == "t1")
        #expect(Set(collected.map(\.runnerID)) == ["t0", "t1", "t2"])
        #expect(collected.allSatisfy { $0.error == nil })
        #expect(await next(results, within: .milliseconds(300)) == nil)
    }

    @Test func runAsyncWithACallbackHandsOverTheGroupTimeouts() async throws {
        let stubborn = (0..<2).map { _ in StubbornTask() }
        defer { for task in stubborn { task.release.cancel() } }
        let group = GroupRunner(interruptDuration: .milliseconds(100))
        for (index, task) in stubborn.enumerated() { try group.add(task.runner("s\(index)")) }
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try group.runAsync { continuation.yield($0) }
        group.interrupt()
        let collected = await collect(2, from: results, within: .seconds(5))
        #expect(Set(collected.map(\.runnerID)) == ["s0", "s1"])
        #expect(collected.allSatisfy { $0.timeout?.scope == .group })
        #expect(await next(results, within: .milliseconds(300)) == nil)
    }

    @Test func runAsyncTwiceIsRefused() throws {
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(StoppableTask().runner())
        let (_, continuation) = AsyncStream<RunResult>.makeStream()
        try group.runAsync(into: continuation)
        #expect(throws: RunnerError.groupAlreadyStarted) { try group.runAsync(into: continuation) }
        group.interrupt()
    }

    @Test func runAsyncThenInterrupt() async throws {
        let tasks = (1...3).map { _ in StoppableTask() }
        let group = GroupRunner(interruptDuration: .seconds(5))
        for (index, task) in tasks.enumerated() { try group.add(task.runner("t\(index)")) }
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try group.runAsync(into: continuation)
        group.interrupt()
        let collected = await collect(3, from: results, within: .seconds(5))
        #expect(collected.count == 3)
        #expect(collected.allSatisfy { $0.error == nil })
        #expect(tasks.allSatisfy { $0.stopperCalls == 1 })
    }

    @Test func runAsyncThenInterruptReachingTheGroupTimeout() async throws {
        let stubborn = StubbornTask()
        defer { stubborn.release.cancel() }
        let group = GroupRunner(interruptDuration: .seconds(1))
        try group.add(stubborn.runner("a", interruptDuration: .seconds(30)))
        try group.add(stubborn.runner("b", interruptDuration: .seconds(30)))
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try group.runAsync(into: continuation)
        let start = ContinuousClock.now
        group.interrupt()
        let collected = await collect(2, from: results, within: .seconds(5))
        #expect((0.9...1.8).contains(seconds(since: start)))
        #expect(Set(collected.compactMap(\.timeout)) == [
            TimeoutError(runnerID: "a", duration: .seconds(1), scope: .group),
            TimeoutError(runnerID: "b", duration: .seconds(1), scope: .group),
        ])
        // The late results of the released tasks are not delivered: one result per runner.
        stubborn.release.cancel()
        #expect(await next(results, within: .milliseconds(300)) == nil)
    }

    @Test func cancellingTheAwaitingTaskInterruptsTheGroupButNotTheTasks() async throws {
        let sawCancellation = Atomic(false)
        let stops = (1...2).map { _ in CancellationToken() }
        let group = GroupRunner(interruptDuration: .seconds(5))
        for (index, stop) in stops.enumerated() {
            try group.add(Runner(id: "t\(index)", task: {
                await stop.wait()
                if Task.isCancelled { sawCancellation.store(true, ordering: .relaxed) }
            }, stopper: { stop.cancel() }))
        }
        let running = Task { try await group.run(CancellationToken()) }
        try await Task.sleep(for: .milliseconds(100))
        running.cancel()
        let results = try await running.value
        #expect(results.count == 2 && results.allSatisfy { $0.error == nil })
        #expect(stops.allSatisfy { $0.isCancelled })
        let taskSawCancellation = sawCancellation.load(ordering: .relaxed)
        #expect(!taskSawCancellation)
    }

    @Test func emptyGroupReturnsAtOnce() async throws {
        #expect(try await GroupRunner().run(CancellationToken()).isEmpty)
    }

    @Test func twoThousandRunnersStoppedByATokenYieldDistinctResults() async throws {
        let group = GroupRunner(interruptDuration: .seconds(10))
        for index in 0..<2_000 { try group.add(StoppableTask().runner("runner-\(index)")) }
        let token = CancellationToken()
        let running = Task { try await group.run(token) }
        try await Task.sleep(for: .milliseconds(200))
        token.cancel()
        let results = try await running.value
        #expect(results.count == 2_000)
        #expect(Set(results.map(\.runnerID)).count == 2_000)
        #expect(results.allSatisfy { $0.error == nil })
    }
}
