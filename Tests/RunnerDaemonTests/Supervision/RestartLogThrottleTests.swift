import RunnerdConfig
import Glibc
@testable import RunnerDaemon
import Runner
import RunnerdTestSupport
import Synchronization
import Systemd
import Testing

@Suite("RestartLogThrottle")
struct RestartLogThrottleTests {
    private let start = ContinuousClock.now

    @Test func restartsAtAHumanPaceAreEachLogged() {
        var throttle = RestartLogThrottle(threshold: 10, window: .seconds(1), interval: .seconds(10))
        let decisions = (0..<30).map { throttle.restarted(at: start + .milliseconds(150 * $0), cause: "c") }
        #expect(decisions.allSatisfy { $0 == .log })
        #expect(!throttle.isFlapping)
        #expect(throttle.intervalEnded(at: start + .seconds(10)) == nil)
    }

    @Test func theThresholdWithinTheWindowStartsFlappingAndLaterRestartsAreOnlyCounted() {
        var throttle = RestartLogThrottle(threshold: 10, window: .seconds(1), interval: .seconds(10))
        let decisions = (0..<25).map { throttle.restarted(at: start + .milliseconds(50 * $0), cause: "cause \($0)") }
        #expect(decisions == Array(repeating: .log, count: 9) + [.startFlapping] + Array(repeating: .quiet, count: 15))
        #expect(throttle.isFlapping)
        let summary = throttle.intervalEnded(at: start + .milliseconds(450) + .seconds(10))
        #expect(summary == .init(restarts: 15, period: .seconds(10), stillFlapping: true, lastCause: "cause 24"))
        #expect(throttle.isFlapping)
        // A timer that fires late does not stretch the interval the summary names.
        _ = throttle.restarted(at: start + .seconds(15), cause: "late")
        let late = throttle.intervalEnded(at: start + .milliseconds(450 + 3) + .seconds(20))
        #expect(late?.period == .seconds(10))
    }

    @Test func anIntervalWithFewerRestartsThanTheThresholdEndsTheFlapping() {
        var throttle = RestartLogThrottle(threshold: 3, window: .seconds(1), interval: .seconds(10))
        for step in 0..<3 { _ = throttle.restarted(at: start + .milliseconds(step), cause: "fast") }
        #expect(throttle.isFlapping)
        #expect(throttle.restarted(at: start + .seconds(5), cause: "slow") == .quiet)
        #expect(throttle.restarted(at: start + .seconds(6), cause: "slow") == .quiet)
        let summary = throttle.intervalEnded(at: start + .seconds(10))
        #expect(summary?.restarts == 2 && summary?.stillFlapping == false && summary?.lastCause == "slow")
        #expect(!throttle.isFlapping)
        // Logged one by one again; it takes a fresh burst to flap again.
        #expect(throttle.restarted(at: start + .seconds(11), cause: "x") == .log)
        #expect(throttle.restarted(at: start + .seconds(11) + .milliseconds(1), cause: "x") == .log)
        #expect(throttle.restarted(at: start + .seconds(11) + .milliseconds(2), cause: "x") == .startFlapping)
    }

    @Test func finishingSummarisesWhatTheLastIntervalCountedAndNothingElse() {
        var throttle = RestartLogThrottle(threshold: 2, window: .seconds(1), interval: .seconds(10))
        #expect(throttle.finish(at: start) == nil)
        _ = throttle.restarted(at: start, cause: "a")
        _ = throttle.restarted(at: start + .milliseconds(10), cause: "b")
        #expect(throttle.finish(at: start + .seconds(1)) == nil, "nothing was held back yet")
        #expect(!throttle.isFlapping)
        _ = throttle.restarted(at: start + .seconds(2), cause: "c")
        _ = throttle.restarted(at: start + .seconds(2) + .milliseconds(10), cause: "d")
        _ = throttle.restarted(at: start + .seconds(3), cause: "e")
        #expect(throttle.finish(at: start + .seconds(4)) == .init(restarts: 1, period: .seconds(2) - .milliseconds(10), stillFlapping: false, lastCause: "e"))
        #expect(throttle.intervalEnded(at: start + .seconds(5)) == nil)
    }

    @Test func summaryPeriodsReadAsPeopleSayThem() {
        #expect(GroupLifecycle.roughly(.milliseconds(10_004)) == "10s")
        #expect(GroupLifecycle.roughly(.milliseconds(9_600)) == "10s")
        #expect(GroupLifecycle.roughly(.milliseconds(300)) == "300ms")
        #expect(GroupLifecycle.roughly(.milliseconds(2_400)) == "2s")
    }

    /// A real group whose only service exits at once, restarted every millisecond: after the
    /// threshold its runs are quiet and a summary comes once per interval.
    @Test func aFlappingGroupLogsASummaryPerIntervalInsteadOfALinePerRestart() async throws {
        let log = CollectedLog()
        let harness = ServiceHarness()
        // It prints the line its readiness probe waits for, so that each run can also log "is ready".
        let service = ServiceConfig(
            name: "blip", command: ["/bin/sh", "-c", "echo up"], executable: "/bin/sh",
            ready: ReadyProbe(check: .logLine(pattern: "up"), timeout: .seconds(5))
        )
        let config = GroupConfig(
            name: "flap", restart: .always, restartDelay: .milliseconds(1), restartDelayMax: .milliseconds(1),
            maxRestarts: 1_000_000, restartWindow: .milliseconds(1), required: false,
            groupInterruptTimeout: .seconds(5), services: [service]
        )
        let runs = Mutex<(loud: Int, quiet: Int)>((0, 0))
        let context = ProcessService.Context(
            processes: ServiceHarness.processes, router: harness.router, relay: nil,
            baseEnvironment: ChildEnvironment(["PATH=/usr/bin:/bin"]), events: .init()
        )
        let supervisor = Supervisor(
            config: DaemonConfig(path: "flap.yaml", defaults: .init(interruptTimeout: .seconds(5), groupInterruptTimeout: .seconds(5)), groups: [config]), stopTimeout: nil,
            loop: ServiceHarness.loop, logger: log.logger,
            restartLog: RestartLogThrottle(threshold: 3, window: .seconds(1), interval: .milliseconds(500)),
            dependencies: Supervisor.Dependencies(
                makeService: { group, service, quiet, events in
                    runs.withLock { quiet ? ($0.quiet += 1) : ($0.loud += 1) }
                    var context = context
                    context.events = events
                    return ProcessService(group: group, config: service, context: context)
                },
                loadConfig: { .failure(ConfigErrors([])) },
                notify: { _ in }
            )
        )
        let exit = Task {
            await withCheckedContinuation { continuation in supervisor.start { continuation.resume(returning: $0) } }
        }
        let summary = "group flap: restarted "
        let twoSummaries = try await eventually(timeout: .seconds(10)) {
            log.lines.filter { $0.hasPrefix(summary) && $0.hasSuffix("; still flapping") }.count >= 2
        }
        supervisor.post(.stopRequested(reason: "test"))
        #expect(twoSummaries, "\(log.lines)")
        #expect(await exit.value == 0)

        let lines = log.lines
        let restartLines = lines.filter { $0.contains("; restarting in 1ms (restart ") }
        #expect(restartLines.count == 3, "\(restartLines)")
        #expect(lines.filter { $0.contains("is flapping") } == [
            "group flap is flapping: restarted 3 times within 1s; logging a summary every 500ms instead of a line per restart",
        ])
        let summaries = lines.filter { $0.hasPrefix(summary) }
        #expect(summaries.count >= 2)
        for line in summaries.prefix(2) {
            #expect(line.hasSuffix(" in the last 500ms (last: service blip exited with status 0); still flapping"), "\(line)")
            let count = Int(line.dropFirst(summary.count).prefix { $0 != " " }) ?? 0
            #expect(count >= 3, "\(line)")
        }
        // It flapped to the end; the stop's last summary counts what came after the last one
        // (there is none when no restart came between the last interval's summary and the stop).
        #expect(!lines.contains { $0.contains("no longer flapping") }, "\(lines)")
        if let last = lines.last, last.hasPrefix(summary), !last.hasSuffix("; still flapping") {
            #expect(last.hasSuffix("(last: service blip exited with status 0)"), "\(last)")
        }
        // Each summary stands for many restarts: the log stays a handful of lines.
        #expect(lines.count < 20, "\(lines)")
        let (loud, quiet) = runs.withLock { $0 }
        #expect(loud == 3)
        #expect(quiet >= 6)
        // A quiet run does not say it is ready either (a flapping group with a probe logged 410
        // such lines in 20 s).
        #expect(lines.filter { $0.hasSuffix("is ready") }.count <= loud, "\(lines)")
    }
}
