import Glibc
@testable import RunnerDaemon
import Runner
import Testing

/// Waiting for readiness: real services that open their port late, a status that turns 2xx, a
/// file that appears; the schedule, the timeout's message and cancellation.
///
/// The schedule attempts at about 0, 50, 150, 350, 750 and 1550 ms. A service that becomes
/// reachable at 1 s is therefore seen by the attempt at about 1.55 s: never before it opened, and
/// within one pause (800 ms here) after. The upper bounds leave 450 ms for a loaded machine.
@Suite("Probe readiness")
struct ProbeReadinessTests {
    let waiter = ReadinessWaiter(prober: Prober(processes: ServiceHarness.processes))

    /// Waits for `check` in a task of its own, runs `stimulus` 1 s after the wait began, and
    /// returns the result with when the stimulus happened and when the wait ended, both measured
    /// from the wait's start.
    private func waitWhile(
        _ check: ProbeCheck, after delay: Duration = .seconds(1), stimulus: @escaping @Sendable () throws -> ContinuousClock.Instant
    ) async throws -> (result: Result<Void, ProbeFailure>, stimulus: Duration, ready: Duration) {
        let waiter = self.waiter
        let start = ContinuousClock.now
        let wait = Task { await waiter.waitUntilReady(check, timeout: .seconds(10), cancellation: CancellationToken()) }
        try await Task.sleep(until: start + delay)
        let stimulated = try stimulus()
        let result = await wait.value
        return (result, stimulated - start, ContinuousClock.now - start)
    }

    @Test(arguments: [("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("127.0.0.1", "localhost")])
    func tcpIsReadyOnceTheServiceListens(serverHost: String, probeHost: String) async throws {
        let service = try await ProbeTestServer.start(.tcp, host: serverHost, listening: false)
        defer { Task { await service.stop() } }
        let (result, opened, ready) = try await waitWhile(.tcp(host: probeHost, port: service.port)) { service.openPort() }
        #expect(result.failure == nil)
        #expect(ready > opened, "ready at \(ready), before the port opened at \(opened)")
        #expect(ready >= .milliseconds(1000) && ready <= .milliseconds(2000), "ready after \(ready)")
    }

    @Test func httpIsReadyOnceTheServiceListensAndAnswers2xx() async throws {
        let service = try await ProbeTestServer.start(.http, listening: false)
        defer { Task { await service.stop() } }
        _ = service.becomeHealthy()
        let (result, opened, ready) = try await waitWhile(.http(url: service.url("/healthz"))) { service.openPort() }
        #expect(result.failure == nil)
        #expect(ready > opened, "ready at \(ready), before the port opened at \(opened)")
        #expect(ready >= .milliseconds(1000) && ready <= .milliseconds(2000), "ready after \(ready)")
    }

    @Test func httpIsNotReadyWhileItAnswers503() async throws {
        let service = try await ProbeTestServer.start(.http)
        defer { Task { await service.stop() } }
        let (result, healed, ready) = try await waitWhile(.http(url: service.url("/healthz"))) { service.becomeHealthy() }
        #expect(result.failure == nil)
        #expect(ready > healed, "ready at \(ready), before the service answered 200 at \(healed)")
        #expect(ready >= .milliseconds(1000) && ready <= .milliseconds(2000), "ready after \(ready)")
        // Every attempt but the last was answered, with 503; no attempt came in between.
        let statuses = await service.sentStatuses()
        #expect(statuses.last == "200")
        #expect(statuses.dropLast().allSatisfy { $0 == "503" })
        #expect(statuses.count >= 2 && statuses.count <= 6, "\(statuses)")
    }

    @Test func execIsReadyOnceItsCommandSucceeds() async throws {
        let directory = try ProbeDirectory()
        let check = try directory.script("check", "test -e \(directory.path)/flag")
        let (result, created, ready) = try await waitWhile(.exec(command: [check], executable: check)) {
            let now = ContinuousClock.now
            try directory.touch("flag")
            return now
        }
        #expect(result.failure == nil)
        #expect(ready > created, "ready at \(ready), before the file appeared at \(created)")
        #expect(ready >= .milliseconds(1000) && ready <= .milliseconds(2000), "ready after \(ready)")
    }

    @Test func aServiceThatIsReadyAtOnceIsSeenAtOnce() async throws {
        let server = ProbeLoopbackServer(.close)
        defer { server.stop() }
        let start = ContinuousClock.now
        let result = await waiter.waitUntilReady(.tcp(host: "127.0.0.1", port: server.port), timeout: .seconds(10), cancellation: CancellationToken())
        #expect(result.failure == nil)
        #expect(ContinuousClock.now - start < .seconds(1))
        try await waitUntil { server.connections > 0 }
        #expect(server.connections == 1, "one attempt, and no pause before it")
    }

    // MARK: The schedule

    @Test func pausesDoubleFrom50msUpTo1s() {
        let pauses = (1...8).map { ReadinessWaiter.pause(afterAttempt: $0) }
        #expect(pauses == [50, 100, 200, 400, 800, 1000, 1000, 1000].map { .milliseconds($0) })
    }

    @Test func attemptsFollowTheScheduleWithoutBusyLooping() async throws {
        let directory = try ProbeDirectory()
        let check = try directory.script("check", "echo attempt >> \(directory.path)/attempts; exit 1")
        let start = ContinuousClock.now
        let result = await waiter.waitUntilReady(.exec(command: [check], executable: check), timeout: .seconds(2), cancellation: CancellationToken())
        let took = ContinuousClock.now - start
        #expect(result.failure?.description == "not ready within 2s: \(check) exited with status 1")
        #expect(took >= .seconds(2) && took < .milliseconds(2300), "gave up after \(took)")
        // Attempts at about 0, 0.05, 0.15, 0.35, 0.75 and 1.55 s; the next would be at 2.55 s.
        let attempts = try directory.lineCount("attempts")
        #expect(attempts >= 4 && attempts <= 6, "\(attempts) attempts in 2s")
    }

    // MARK: Timeouts

    @Test func aTimeoutQuotesTheLastAttemptsError() async {
        let (fd, port) = refusingPort()
        defer { close(fd) }
        let start = ContinuousClock.now
        let result = await waiter.waitUntilReady(.tcp(host: "127.0.0.1", port: port), timeout: .milliseconds(500), cancellation: CancellationToken())
        let took = ContinuousClock.now - start
        #expect(result.failure == .timedOut(after: .milliseconds(500), lastError: .refused(address: "127.0.0.1:\(port)")))
        #expect(result.failure?.description == "not ready within 500ms: connect to 127.0.0.1:\(port) refused")
        #expect(took >= .milliseconds(500) && took < .milliseconds(800), "gave up after \(took)")
    }

    @Test func attemptsThatHangAreCutByTheAttemptTimeoutAndTheOverallOne() async {
        let server = ProbeLoopbackServer(.silent)
        defer { server.stop() }
        let url = server.url("/healthz")
        // Each attempt gets 300ms: two of them time out, the third is cut short by the overall 1s.
        let short = ReadinessWaiter(prober: Prober(processes: ServiceHarness.processes), attemptTimeout: .milliseconds(300))
        var start = ContinuousClock.now
        let result = await short.waitUntilReady(.http(url: url), timeout: .seconds(1), cancellation: CancellationToken())
        var took = ContinuousClock.now - start
        #expect(result.failure?.description == "not ready within 1s: GET \(url) timed out after 300ms")
        #expect(took >= .seconds(1) && took < .milliseconds(1300), "gave up after \(took)")
        // A single attempt longer than the whole wait: the wait's own limit names it.
        start = ContinuousClock.now
        let single = await waiter.waitUntilReady(.http(url: url), timeout: .milliseconds(400), cancellation: CancellationToken())
        took = ContinuousClock.now - start
        #expect(single.failure?.description == "not ready within 400ms: GET \(url) timed out after 400ms")
        #expect(took >= .milliseconds(400) && took < .milliseconds(700), "gave up after \(took)")
    }

    // MARK: Cancellation

    @Test func cancellingTheTokenEndsTheWaitPromptly() async throws {
        let (fd, port) = refusingPort()
        defer { close(fd) }
        let directory = try ProbeDirectory()
        let slow = try directory.script("slow", "echo $$ > \(directory.path)/pid; exec sleep 30")
        // During a pause between attempts, and during an exec attempt that runs long.
        for check in [ProbeCheck.tcp(host: "127.0.0.1", port: port), .exec(command: [slow], executable: slow)] {
            let token = CancellationToken()
            let cancelled = CancelAfter(.milliseconds(300), token)
            let result = await waiter.waitUntilReady(check, timeout: .seconds(30), cancellation: token)
            let end = ContinuousClock.now
            #expect(result.failure == .cancelled, "\(check)")
            let late = end - (await cancelled.instant)
            #expect(late < .milliseconds(200), "\(check): ended \(late) after the cancel")
        }
        let pid = try #require(pid_t(directory.read("pid").split(separator: "\n").first ?? ""))
        #expect(!processExists(pid))
    }

    @Test func cancellingTheTaskEndsTheWaitPromptly() async {
        let (fd, port) = refusingPort()
        defer { close(fd) }
        let waiter = self.waiter
        let task = Task { await waiter.waitUntilReady(.tcp(host: "127.0.0.1", port: port), timeout: .seconds(30), cancellation: CancellationToken()) }
        try? await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        task.cancel()
        let result = await task.value
        #expect(result.failure == .cancelled)
        #expect(ContinuousClock.now - start < .milliseconds(200))
    }

    @Test func anAlreadyCancelledTokenMakesNoAttempt() async throws {
        let directory = try ProbeDirectory()
        let check = try directory.script("check", "echo attempt >> \(directory.path)/attempts")
        let token = CancellationToken()
        token.cancel()
        let start = ContinuousClock.now
        let result = await waiter.waitUntilReady(.exec(command: [check], executable: check), timeout: .seconds(10), cancellation: token)
        #expect(result.failure == .cancelled)
        #expect(ContinuousClock.now - start < .milliseconds(100))
        #expect(try directory.lineCount("attempts") == 0)
    }
}
