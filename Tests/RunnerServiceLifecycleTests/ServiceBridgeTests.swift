#if canImport(Glibc)
import Glibc
#endif
import Logging
import Runner
import RunnerServiceLifecycle
import ServiceLifecycle
import Synchronization
import Testing
import UnixSignals

/// A service that runs until its graceful shutdown, as a well-behaved server does, and records
/// that it saw one. `started` is cancelled once it runs.
final class GracefulService: Service {
    let started = CancellationToken()
    let sawGracefulShutdown = CancellationToken()

    func run() async throws {
        started.cancel()
        try await gracefulShutdown()
        sawGracefulShutdown.cancel()
    }
}

/// A service that ignores its graceful shutdown until the test releases it.
final class DeafService: Service {
    let release = CancellationToken()

    func run() async throws {
        await release.wait()
    }
}

struct ServiceFailure: Error, Equatable {}

/// A service that fails at once.
struct FailingService: Service {
    func run() async throws {
        throw ServiceFailure()
    }
}

let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

@Suite("Runner(service:)", .timeLimit(.minutes(1)))
struct RunnerOfAServiceTests {
    @Test func interruptingTheRunnerShutsTheServiceDownGracefully() async throws {
        let service = GracefulService()
        let runner = Runner(service: service, interruptDuration: .seconds(5))
        #expect(runner.id == "GracefulService")
        let result = try await runner.run(CancellationToken(timeout: .milliseconds(100)))
        #expect(result.runnerID == "GracefulService" && result.error == nil)
        #expect(service.sawGracefulShutdown.isCancelled)
    }

    @Test func whatTheServiceThrowsBecomesTheResultsError() async throws {
        let result = try await Runner(id: "failing", service: FailingService()).run(CancellationToken())
        #expect(result.runnerID == "failing")
        #expect(result.error as? ServiceFailure == ServiceFailure())
    }

    @Test func aServiceThatIgnoresItsShutdownTimesOutAfterTheInterruptDuration() async throws {
        let service = DeafService()
        defer { service.release.cancel() }
        let start = ContinuousClock.now
        let result = try await Runner(id: "deaf", service: service, interruptDuration: .milliseconds(300))
            .run(CancellationToken(timeout: .milliseconds(100)))
        #expect(result.timeout == TimeoutError(runnerID: "deaf", duration: .milliseconds(300)))
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(400) && elapsed < .seconds(2))
    }
}

@Suite("GroupRunner as a Service", .serialized, .timeLimit(.minutes(1)))
struct GroupRunnerServiceTests {
    @Test func aGroupInAServiceGroupStopsGracefullyOnASignal() async throws {
        let service = GracefulService()
        let stop = CancellationToken()
        let stopperCalls = Atomic(0)
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(Runner(service: service, interruptDuration: .seconds(5)))
        try group.add(Runner(id: "worker", task: { await stop.wait() }, stopper: {
            stopperCalls.add(1, ordering: .relaxed)
            stop.cancel()
        }))
        // SIGALRM: no other test in this process uses it, and its default would end the run loudly.
        let serviceGroup = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: group)],
            gracefulShutdownSignals: [.sigalrm],
            logger: quietLogger
        ))
        let running = Task { try await serviceGroup.run() }
        // The ServiceGroup traps its signals before it starts any service.
        await service.started.wait()
        kill(getpid(), SIGALRM)
        try await running.value
        #expect(service.sawGracefulShutdown.isCancelled)
        #expect(stopperCalls.load(ordering: .relaxed) == 1)
    }

    @Test func aGroupWhoseRunnerFailedThrowsEveryResult() async throws {
        let stop = CancellationToken()
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(Runner(id: "failing", service: FailingService()))
        try group.add(Runner(id: "worker", task: { await stop.wait() }, stopper: { stop.cancel() }))
        let serviceGroup = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: group)],
            logger: quietLogger
        ))
        let failure = await #expect(throws: GroupRunnerFailure.self) { try await serviceGroup.run() }
        #expect(failure?.failures.map(\.runnerID) == ["failing"])
        #expect(failure?.results.count == 2)
        #expect(failure?.description.hasPrefix("runner failing failed:") == true)
    }

    @Test func aGroupWhoseTasksAllReturnCleanlyReturns() async throws {
        let group = GroupRunner(interruptDuration: .seconds(5))
        try group.add(Runner(id: "brief", task: {}, stopper: {}))
        try await group.run()
    }
}
