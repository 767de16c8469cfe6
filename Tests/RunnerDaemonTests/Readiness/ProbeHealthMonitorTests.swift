import RunnerdConfig
import Glibc
@testable import RunnerDaemon
import Runner
import Synchronization
import Testing

/// Health monitoring: real servers and scripts checked on a short interval.
@Suite("Health monitor")
struct ProbeHealthMonitorTests {
    let prober = Prober(processes: ServiceHarness.processes)

    /// What a started monitor reported, with when.
    final class Reports: Sendable {
        let failedChecks = Mutex<[(inARow: Int, failure: ProbeFailure)]>([])
        let unhealthy = Mutex<[(failure: ProbeFailure, at: ContinuousClock.Instant)]>([])
    }

    private func start(_ probe: HealthProbe, _ reports: Reports, cancellation: CancellationToken = CancellationToken()) -> HealthMonitor {
        HealthMonitor.start(
            probe, prober: prober, cancellation: cancellation,
            onFailedCheck: { inARow, failure in reports.failedChecks.withLock { $0.append((inARow, failure)) } },
            onUnhealthy: { failure in reports.unhealthy.withLock { $0.append((failure, .now)) } }
        )
    }

    @Test func aKilledServerIsReportedAfterExactlyFailuresChecksInARow() async throws {
        let server = try await ProbeTestServer.start(.tcp)
        let reports = Reports()
        let interval = Duration.milliseconds(200)
        let monitor = start(HealthProbe(check: .tcp(host: "127.0.0.1", port: server.port), interval: interval, timeout: .seconds(1), failures: 3), reports)
        defer { monitor.stop() }
        // Healthy through several intervals: no failure, no report.
        try await Task.sleep(for: .milliseconds(700))
        #expect(reports.failedChecks.withLock { $0.isEmpty })
        #expect(reports.unhealthy.withLock { $0.isEmpty })

        await server.stop()
        let killed = ContinuousClock.now
        await monitor.waitUntilFinished()
        let failed = reports.failedChecks.withLock { $0 }
        let unhealthy = reports.unhealthy.withLock { $0 }
        let refused = ProbeFailure.refused(address: "127.0.0.1:\(server.port)")
        #expect(failed.map(\.inARow) == [1, 2, 3])
        #expect(failed.allSatisfy { $0.failure == refused })
        #expect(unhealthy.map(\.failure) == [.unhealthy(failures: 3, lastError: refused)])
        #expect(unhealthy.first?.failure.description == "3 health checks in a row failed, the last with: connect to 127.0.0.1:\(server.port) refused")
        // The first failed check comes within one interval of the kill, the third two intervals later.
        let after = try #require(unhealthy.first).at - killed
        #expect(after >= interval * 2 && after <= interval * 3 + .milliseconds(300), "reported \(after) after the kill")
    }

    @Test func aSuccessResetsTheCountAndTheMonitorStopsOnceItReported() async throws {
        let directory = try ProbeDirectory()
        // Checks 1, 2, 4, 5 and 6 fail; 3 succeeds, so the third failure in a row is check 6.
        let check = try directory.script("check", """
            n=$(cat \(directory.path)/checks 2>/dev/null | wc -l)
            echo check >> \(directory.path)/checks
            case $n in 2) exit 0 ;; *) exit 1 ;; esac
            """)
        let reports = Reports()
        let interval = Duration.milliseconds(100)
        let probe = HealthProbe(check: .exec(command: [check], executable: check), interval: interval, timeout: .seconds(2), failures: 3)
        let start = ContinuousClock.now
        let monitor = self.start(probe, reports)
        await monitor.waitUntilFinished()
        let took = ContinuousClock.now - start
        #expect(reports.failedChecks.withLock { $0.map(\.inARow) } == [1, 2, 1, 2, 3])
        #expect(reports.unhealthy.withLock { $0.map(\.failure) } == [.unhealthy(failures: 3, lastError: .exited(executable: check, status: .exited(1)))])
        // Six intervals, never fewer; each check's own time may add to that on a loaded machine.
        #expect(took >= interval * 6 && took < interval * 6 + .milliseconds(800), "reported after \(took)")
        #expect(try directory.lineCount("checks") == 6)
        // Finished means finished: no check runs after the report.
        try await Task.sleep(for: interval * 3)
        #expect(try directory.lineCount("checks") == 6)
    }

    @Test func checksRunOncePerIntervalFromTheStart() async throws {
        let server = ProbeLoopbackServer(.close)
        defer { server.stop() }
        let reports = Reports()
        let start = ContinuousClock.now
        let monitor = self.start(HealthProbe(check: .tcp(host: "127.0.0.1", port: server.port), interval: .milliseconds(100), failures: 1), reports)
        // The first check waits one interval: the service has just proved itself ready.
        try await Task.sleep(until: start + .milliseconds(50))
        let early = server.connections
        try await Task.sleep(until: start + .milliseconds(1050))
        monitor.stop()
        await monitor.waitUntilFinished()
        let checks = server.connections
        #expect(early == 0)
        // At 100, 200, ... 1000 ms: at most ten; a loaded machine may fit a few fewer.
        #expect(checks >= 6 && checks <= 10, "\(checks) checks in 1050ms at 100ms")
        #expect(reports.failedChecks.withLock { $0.isEmpty })
        #expect(reports.unhealthy.withLock { $0.isEmpty })
    }

    @Test func stoppingEndsARunningCheckAndReportsNothing() async throws {
        let directory = try ProbeDirectory()
        let slow = try directory.script("slow", "echo $$ > \(directory.path)/pid; exec sleep 30")
        let reports = Reports()
        let token = CancellationToken()
        let monitor = start(HealthProbe(check: .exec(command: [slow], executable: slow), interval: .milliseconds(50), timeout: .seconds(30), failures: 1), reports, cancellation: token)
        try await waitUntil { (try? directory.read("pid").isEmpty) == false }
        let pid = try #require(pid_t(directory.read("pid").split(separator: "\n").first ?? ""))
        let start = ContinuousClock.now
        token.cancel()
        await monitor.waitUntilFinished()
        #expect(ContinuousClock.now - start < .milliseconds(300))
        #expect(!processExists(pid))
        #expect(reports.failedChecks.withLock { $0.isEmpty })
        #expect(reports.unhealthy.withLock { $0.isEmpty })
        monitor.stop()
    }

    @Test func watchReturnsTheFailureToItsOwnTask() async {
        let (fd, port) = refusingPort()
        defer { close(fd) }
        let probe = HealthProbe(check: .tcp(host: "127.0.0.1", port: port), interval: .milliseconds(50), failures: 2)
        let failure = await HealthMonitor.watch(probe, prober: prober, cancellation: CancellationToken())
        #expect(failure == .unhealthy(failures: 2, lastError: .refused(address: "127.0.0.1:\(port)")))
        let cancelled = CancellationToken()
        cancelled.cancel()
        #expect(await HealthMonitor.watch(probe, prober: prober, cancellation: cancelled) == nil)
    }

    @Test func cancellingTheWatchingTaskEndsARunningCheck() async throws {
        let directory = try ProbeDirectory()
        let slow = try directory.script("slow", "echo $$ > \(directory.path)/pid; exec sleep 30")
        let probe = HealthProbe(check: .exec(command: [slow], executable: slow), interval: .milliseconds(50), timeout: .seconds(30), failures: 1)
        let prober = self.prober
        let task = Task { await HealthMonitor.watch(probe, prober: prober, cancellation: CancellationToken()) }
        try await waitUntil { (try? directory.read("pid").isEmpty) == false }
        let pid = try #require(pid_t(directory.read("pid").split(separator: "\n").first ?? ""))
        let start = ContinuousClock.now
        task.cancel()
        #expect(await task.value == nil)
        #expect(ContinuousClock.now - start < .milliseconds(300))
        #expect(!processExists(pid))
    }
}
