#if canImport(Glibc)
import Glibc
#endif
import Runner
import Synchronization
import Testing

/// Real signals sent to this very process. If a signal still had its default effect the test
/// process would die, which fails the run. Serialized, because every subscriber sees every signal.
@Suite("Signals", .serialized)
struct SignalTests {
    @Test func sigtermCancelsTheTokenInsteadOfKillingTheProcess() async {
        let token = CancellationToken.signals([SIGTERM, SIGINT])
        #expect(!token.isCancelled)
        kill(getpid(), SIGTERM)
        await token.wait()
        #expect(token.cause == .signal(SIGTERM))
        #expect(token.cause?.signal == SIGTERM)
    }

    @Test func aSignalBeforeAnyoneWaitsIsNotLost() async throws {
        let token = CancellationToken.signals([SIGINT])
        kill(getpid(), SIGINT)
        // Nobody waits yet; the cancellation is recorded for whoever looks later.
        let deadline = ContinuousClock.now + .seconds(5)
        while !token.isCancelled && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        await token.wait()
        #expect(token.cause == .signal(SIGINT))
    }

    @Test func furtherSignalsReachTheRepeatHandler() async throws {
        let repeats = AsyncStream<Int32>.makeStream()
        let token = CancellationToken.signals([SIGTERM, SIGINT], onRepeat: { repeats.continuation.yield($0) })
        kill(getpid(), SIGTERM)
        await token.wait()
        kill(getpid(), SIGINT)
        kill(getpid(), SIGTERM)
        let escalations = await collect(2, from: repeats.stream, within: .seconds(5))
        // Two pending signals may be delivered in either order.
        #expect(escalations.sorted() == [SIGINT, SIGTERM])
        #expect(token.cause == .signal(SIGTERM))
    }

    @Test func aSignalTokenStopsARunner() async throws {
        let task = StoppableTask()
        let token = CancellationToken.signals([SIGTERM])
        let running = Task { try await task.runner("server").run(token) }
        try await Task.sleep(for: .milliseconds(50))
        kill(getpid(), SIGTERM)
        let result = try await running.value
        #expect(result.error == nil)
        #expect(task.stopperCalls == 1)
    }

    @Test func aSlowStopperHoldsBackNeitherTheSecondSignalNorTheSignalThread() async throws {
        let repeats = AsyncStream<Int32>.makeStream()
        let token = CancellationToken.signals([SIGINT], onRepeat: { repeats.continuation.yield($0) })
        let stop = CancellationToken()
        let stopperEntered = AsyncStream<String>.makeStream()
        let releaseStopper = CancellationToken()
        defer { releaseStopper.cancel() }
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(Runner(id: "slow-stopper", task: { await stop.wait() }, stopper: {
            stopperEntered.continuation.yield(currentThreadName())
            block(until: releaseStopper, atMost: .seconds(3))
            stop.cancel()
        }))
        let running = Task { try await group.run(token) }
        try await Task.sleep(for: .milliseconds(50))
        kill(getpid(), SIGINT)
        let stopperThread = try #require(await next(stopperEntered.stream, within: .seconds(5)))
        #expect(stopperThread == "runner-worker")
        // The stopper is still blocked; a second Ctrl-C must get through at once all the same.
        kill(getpid(), SIGINT)
        #expect(await next(repeats.stream, within: .seconds(1)) == SIGINT)
        releaseStopper.cancel()
        let results = try await running.value
        #expect(results.map(\.runnerID) == ["slow-stopper"] && results[0].error == nil)
    }

    @Test func stopSignalsPutsBackTheDefaultAndCancelsNoMore() async throws {
        // SIGWINCH, because its default (ignore) is harmless if the test goes wrong.
        #expect(dispositionAddress(SIGWINCH) == defaultDisposition)
        let token = CancellationToken.signals([SIGWINCH])
        #expect(dispositionAddress(SIGWINCH) != defaultDisposition)
        kill(getpid(), SIGWINCH)
        await token.wait()
        token.stopSignals()
        #expect(dispositionAddress(SIGWINCH) == defaultDisposition)
        #expect(token.cause == .signal(SIGWINCH))
        token.stopSignals()
        #expect(dispositionAddress(SIGWINCH) == defaultDisposition)
    }

    @Test func stopSignalsPutsBackAnEarlierDispositionOnceTheLastSubscriberStops() async throws {
        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = unsafeBitCast(ignoredDisposition, to: (@convention(c) (Int32) -> Void).self)
        sigaction(SIGURG, &ignore, nil)
        let first = CancellationToken.signals([SIGURG])
        let second = CancellationToken.signals([SIGURG])
        first.stopSignals()
        #expect(first.cause == .explicit)
        // The second token still listens, so the signal stays caught, and it cancels that token.
        #expect(dispositionAddress(SIGURG) != ignoredDisposition)
        kill(getpid(), SIGURG)
        await second.wait()
        #expect(second.cause == .signal(SIGURG))
        second.stopSignals()
        #expect(dispositionAddress(SIGURG) == ignoredDisposition)
    }

    @Test func stopSignalsOnAnOrdinaryTokenDoesNothing() {
        let token = CancellationToken()
        token.stopSignals()
        #expect(!token.isCancelled)
    }

    @Test func subscriptionsSeeEverySignalFromAnyThread() async throws {
        let seen = AsyncStream<Int32>.makeStream()
        let subscription = SignalSubscription([SIGUSR1]) { seen.continuation.yield($0) }
        defer { subscription.cancel() }
        // Pending signals of one kind merge, so send one at a time and see each one arrive.
        for _ in 0..<3 {
            kill(getpid(), SIGUSR1)
            #expect(await next(seen.stream, within: .seconds(5)) == SIGUSR1)
        }
    }
}

/// `SIG_DFL` and `SIG_IGN`, which Swift does not import, as addresses.
private let defaultDisposition: UInt = 0
private let ignoredDisposition: UInt = 1

/// What `signal` does now, as the address of its handler.
private func dispositionAddress(_ signal: Int32) -> UInt {
    var current = sigaction()
    sigaction(signal, nil, &current)
    return unsafeBitCast(current.__sigaction_handler.sa_handler, to: UInt.self)
}

/// Releasing the last reference to something must never happen under a lock that its deinit
/// takes again: these used to crash ("Recursive call to lock Mutex") or hang.
@Suite("Releases outside locks")
struct ReleaseOutsideLockTests {
    @Test func endingASubscriptionWhoseHandlerHoldsTheLastReferenceToAnotherOne() {
        func makeOuter() -> SignalSubscription {
            let inner = SignalSubscription([SIGUSR2]) { _ in }
            return SignalSubscription([SIGUSR2]) { _ in withExtendedLifetime(inner) {} }
        }
        var outer: SignalSubscription? = makeOuter()
        outer?.cancel()
        outer = nil
        #expect(outer == nil)
    }

    @Test func aRunnerWhoseTaskHoldsATimedTokenIsReleasedWithItsTimer() async throws {
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        do {
            let stop = CancellationToken()
            let timed = CancellationToken(timeout: .seconds(60))
            let runner = Runner(id: "holder", task: {
                await stop.wait()
                withExtendedLifetime(timed) {}
            }, stopper: { stop.cancel() })
            try runner.runAsync(into: continuation)
            // The interrupt timer now holds the runner; once the task returns, cancelling that
            // timer releases the runner, its task closure and the timed token, whose own timer
            // is cancelled in turn.
            runner.interrupt()
        }
        #expect(await next(results, within: .seconds(5))?.error == nil)
    }
}
