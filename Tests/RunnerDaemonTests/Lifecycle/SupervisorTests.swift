import Glibc
import Logging
@testable import RunnerDaemon
import RunnerdConfig
import Synchronization
import Systemd
import Testing

/// The shell with real processes: what it carries out, and how its lines are tagged.
/// The notify messages the shell handed over, in order.
private final class Notified: Sendable {
    let texts = Mutex<[String]>([])
}

@Suite("Supervisor")
struct SupervisorTests {
    private func supervisor(_ groups: [GroupConfig], log: CollectedLog, tags: Bool, notified: Notified) -> Supervisor {
        let harness = ServiceHarness()
        let context = ProcessService.Context(
            processes: ServiceHarness.processes, router: harness.router, relay: nil,
            baseEnvironment: ChildEnvironment(["PATH=/usr/bin:/bin"]), events: .init()
        )
        return Supervisor(
            config: DaemonConfig(path: "test.yaml", defaults: .init(interruptTimeout: .seconds(2), groupInterruptTimeout: .seconds(3)), groups: groups),
            stopTimeout: nil, loop: ServiceHarness.loop, logger: log.logger,
            dependencies: Supervisor.Dependencies(
                makeService: { group, service, _, events in
                    var context = context
                    context.events = events
                    return ProcessService(group: group, config: service, context: context)
                },
                loadConfig: { .failure(ConfigErrors([])) },
                notify: { states in notified.texts.withLock { $0.append(states.map(\.description).joined(separator: "\n")) } },
                tagsLogLines: tags
            )
        )
    }

    private func group(_ name: String, _ command: [String], restart: RestartMode = .onFailure) -> GroupConfig {
        GroupConfig(
            name: name, restart: restart, restartDelay: .milliseconds(50), restartDelayMax: .milliseconds(50),
            maxRestarts: 5, restartWindow: .seconds(60), required: false, groupInterruptTimeout: .seconds(3),
            services: [ServiceConfig(name: "s", command: command, executable: command[0], interruptTimeout: .seconds(2))]
        )
    }

    /// `journalctl RUNNERD_GROUP=batch` must find runnerd's own lines about the group, not only
    /// its output.
    @Test func linesAboutAGroupCarryItsNameAndTheServicesFullName() async throws {
        let log = CollectedLog()
        let notified = Notified()
        let runs = supervisor([group("batch", ["/bin/sh", "-c", "sleep 0.1; exit 3"])], log: log, tags: true, notified: notified)
        let exit = Task { await withCheckedContinuation { done in runs.start { done.resume(returning: $0) } } }
        _ = try await log.wait { $0.contains("restarting in") }
        runs.post(.stopRequested(reason: "test"))
        #expect(await exit.value == 0)
        let entries = log.entries
        let started = try #require(entries.first { $0.message.hasPrefix("group batch: service s started (pid ") })
        #expect(started.metadata["RUNNERD_GROUP"] == .string("batch"))
        #expect(started.metadata["RUNNERD_SERVICE"] == .string("batch/s"))
        let restarting = try #require(entries.first { $0.message.contains("; restarting in 50ms") })
        #expect(restarting.metadata["RUNNERD_GROUP"] == .string("batch"))
    }

    @Test func onATerminalLinesCarryNoFields() async throws {
        let log = CollectedLog()
        let notified = Notified()
        let runs = supervisor([group("batch", ["/bin/sh", "-c", "sleep 0.1; exit 3"])], log: log, tags: false, notified: notified)
        let exit = Task { await withCheckedContinuation { done in runs.start { done.resume(returning: $0) } } }
        _ = try await log.wait { $0.contains("restarting in") }
        runs.post(.stopRequested(reason: "test"))
        #expect(await exit.value == 0)
        #expect(log.entries.allSatisfy { $0.metadata.isEmpty })
    }

    /// A service that ignores its stop signal is killed by its group's machine once its runner's
    /// interrupt timeout runs out, and the stop then counts as a failure.
    @Test func aServiceThatIgnoresItsStopSignalIsKilledAndTheExitCodeIs1() async throws {
        let log = CollectedLog()
        let notified = Notified()
        var stubborn = group("g", ["/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"])
        stubborn.services[0].interruptTimeout = .milliseconds(300)
        let runs = supervisor([stubborn], log: log, tags: false, notified: notified)
        let exit = Task { await withCheckedContinuation { done in runs.start { done.resume(returning: $0) } } }
        _ = try await log.wait { $0.contains("service s started") }
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        runs.post(.stopRequested(reason: "received SIGTERM"))
        #expect(await exit.value == 1)
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(290) && took < .seconds(3), "stopped after \(took)")
        #expect(log.lines.contains("group g: service s did not stop within 300ms; sending SIGKILL to its process group"))
        #expect(log.lines.contains("group g: s had to be killed during the stop"))
        let texts = notified.texts.withLock { $0 }
        #expect(texts.first { $0.hasPrefix("STOPPING=1") } == "STOPPING=1\nSTATUS=stopping: received SIGTERM")
    }
}
