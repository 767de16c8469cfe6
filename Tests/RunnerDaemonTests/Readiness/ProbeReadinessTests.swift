import Glibc
@testable import RunnerDaemon
import Runner
import Testing

/// Waiting for readiness: real services that open their port late, a status that turns 2xx, a
/// file that appears; the schedule, the timeout's message and cancellation.
@Suite("Probe readiness")
struct ProbeReadinessTests {
    let waiter = ReadinessWaiter(prober: Prober(processes: ServiceHarness.processes))

    /// How long `waitUntilReady` took, and what it returned.
    private func timedWait(
        _ check: ProbeCheck, timeout: Duration = .seconds(10), cancellation: CancellationToken = CancellationToken(),
        using waiter: ReadinessWaiter? = nil
    ) async -> (result: Result<Void, ProbeFailure>, took: Duration) {
        let start = ContinuousClock.now
        let result = await (waiter ?? self.waiter).waitUntilReady(check, timeout: timeout, cancellation: cancellation)
        return (result, ContinuousClock.now - start)
    }

    // The server listens 1s after it bound its port. The schedule attempts at about 0, 50, 150,
    // 350, 750 and 1550 ms, so the wait ends at the attempt of about 1.55 s; the upper bound
    // leaves 350 ms for a loaded machine.

    @Test(arguments: ["127.0.0.1", "::1", "localhost"])
    func tcpIsReadyOnceTheServiceListens(host: String) async throws {
        let server = try await ProbeTestServer.start(.tcp, host: host, listenAfter: .seconds(1))
        defer { Task { await server.stop() } }
        let (result, took) = await timedWait(.tcp(host: host, port: server.port))
        #expect(result.failure == nil)
        #expect(took >= .milliseconds(950) && took <= .milliseconds(1900), "ready after \(took)")
    }

    @Test func httpIsReadyOnceTheServiceListensAndAnswers2xx() async throws {
        let server = try await ProbeTestServer.start(.http(), listenAfter: .seconds(1))
        defer { Task { await server.stop() } }
        let (result, took) = await timedWait(.http(url: server.url("/healthz")))
        #expect(result.failure == nil)
        #expect(took >= .milliseconds(950) && took <= .milliseconds(1900), "ready after \(took)")
    }

    @Test func httpIsNotReadyWhileItAnswers503() async throws {
        let server = try await ProbeTestServer.start(.http(unhealthyFor: .seconds(1)))
        defer { Task { await server.stop() } }
        let (result, took) = await timedWait(.http(url: server.url("/healthz")))
        #expect(result.failure == nil)
        #expect(took >= .milliseconds(950) && took <= .milliseconds(1900), "ready after \(took)")
        // Every attempt before the last saw the 503: the server answered each one.
        var statuses: [String] = []
        while let request = await server.nextRequest(timeout: .milliseconds(500)) {
            statuses.append(String(decoding: request.prefix(4), as: UTF8.self))
        }
        #expect(statuses.count >= 5 && statuses.count <= 7, "\(statuses.count) attempts")
    }

    @Test func execIsReadyOnceItsCommandSucceeds() async throws {
        let directory = try ProbeDirectory()
        let check = try directory.script("check", "test -e \(directory.path)/flag")
        Task {
            try await Task.sleep(for: .seconds(1))
            try directory.touch("flag")
        }
        let (result, took) = await timedWait(.exec(command: [check], executable: check))
        #expect(result.failure == nil)
        #expect(took >= .milliseconds(1000) && took <= .milliseconds(1900), "ready after \(took)")
    }

    @Test func aServiceThatIsReadyAtOnceIsSeenAtOnce() async throws {
        let server = try await ProbeTestServer.start(.tcp)
        defer { Task { await server.stop() } }
        let (result, took) = await timedWait(.tcp(host: "127.0.0.1", port: server.port))
        #expect(result.failure == nil)
        #expect(took < .milliseconds(100), "ready after \(took)")
    }

    // MARK: The schedule

    @Test func pausesDoubleFrom50msUpTo1s() {
        let pauses = (1...8).map { ReadinessWaiter.pause(afterAttempt: $0) }
        #expect(pauses == [50, 100, 200, 400, 800, 1000, 1000, 1000].map { .milliseconds($0) })
    }

    @Test func attemptsFollowTheScheduleWithoutBusyLooping() async throws {
        let directory = try ProbeDirectory()
        let check = try directory.script("check", "echo attempt >> \(directory.path)/attempts; exit 1")
        let (result, took) = await timedWait(.exec(command: [check], executable: check), timeout: .seconds(2))
        #expect(result.failure?.description == "not ready within 2s: \(check) exited with status 1")
        #expect(took >= .seconds(2) && took < .milliseconds(2400), "gave up after \(took)")
        // Attempts at about 0, 0.05, 0.15, 0.35, 0.75 and 1.55 s; the next would be at 2.55 s.
        let attempts = try directory.lineCount("attempts")
        #expect(attempts >= 5 && attempts <= 7, "\(attempts) attempts in 2s")
    }

    // MARK: Timeouts

    @Test func aTimeoutQuotesTheLastAttemptsError() async {
        let (fd, port) = refusingPort()
        defer { close(fd) }
        let (result, took) = await timedWait(.tcp(host: "127.0.0.1", port: port), timeout: .milliseconds(500))
        #expect(result.failure == .timedOut(after: .milliseconds(500), lastError: .refused(address: "127.0.0.1:\(port)")))
        #expect(result.failure?.description == "not ready within 500ms: connect to 127.0.0.1:\(port) refused")
        #expect(took >= .milliseconds(500) && took < .milliseconds(800), "gave up after \(took)")
    }

    @Test func attemptsThatHangAreCutByTheAttemptTimeoutAndTheOverallOne() async throws {
        let server = try await ProbeTestServer.start(.silent)
        defer { Task { await server.stop() } }
        let url = server.url("/healthz")
        // Each attempt gets 300ms: two of them fail, the third is cut short by the overall 1s.
        let short = ReadinessWaiter(prober: Prober(processes: ServiceHarness.processes), attemptTimeout: .milliseconds(300))
        let (result, took) = await timedWait(.http(url: url), timeout: .seconds(1), using: short)
        #expect(result.failure?.description == "not ready within 1s: GET \(url) timed out after 300ms")
        #expect(took >= .seconds(1) && took < .milliseconds(1300), "gave up after \(took)")
        // A single attempt longer than the whole wait: the wait's own limit names it.
        let (single, singleTook) = await timedWait(.http(url: url), timeout: .milliseconds(400))
        #expect(single.failure?.description == "not ready within 400ms: GET \(url) timed out after 400ms")
        #expect(singleTook >= .milliseconds(400) && singleTook < .milliseconds(700), "gave up after \(singleTook)")
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
            Task {
                try await Task.sleep(for: .milliseconds(300))
                token.cancel()
            }
            let (result, took) = await timedWait(check, timeout: .seconds(30), cancellation: token)
            #expect(result.failure == .cancelled, "\(check)")
            #expect(took >= .milliseconds(300) && took < .milliseconds(500), "\(check): cancelled after \(took)")
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
        #expect(ContinuousClock.now - start < .milliseconds(150))
    }

    @Test func anAlreadyCancelledTokenMakesNoAttempt() async throws {
        let directory = try ProbeDirectory()
        let check = try directory.script("check", "echo attempt >> \(directory.path)/attempts")
        let token = CancellationToken()
        token.cancel()
        let (result, took) = await timedWait(.exec(command: [check], executable: check), cancellation: token)
        #expect(result.failure == .cancelled)
        #expect(took < .milliseconds(100))
        #expect(try directory.lineCount("attempts") == 0)
    }
}
