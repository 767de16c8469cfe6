@testable import RunnerDaemon
import Logging
import RunnerdConfig
import Testing

/// The group machine alone: (state, event) → (new state, actions), with no process and no clock.
@Suite("GroupLifecycle")
struct GroupLifecycleTests {
    private typealias Action = GroupLifecycle.Action

    /// A group `g` with services `a` and `b`, launched and both ready at t0 + 1s.
    private func running(restart: RestartMode = .onFailure, maxRestarts: Int = 5) -> GroupLifecycle {
        var machine = GroupLifecycle(config: Fixture.group("g", services: ["a", "b"], restart: restart, maxRestarts: maxRestarts))
        _ = machine.start()
        for name in ["a", "b"] { _ = machine.handle(.serviceStarted(name, at: Fixture.at(.zero))) }
        _ = machine.handle(.serviceReady("a"))
        _ = machine.handle(.serviceReady("b"))
        return machine
    }

    @Test func theFirstRunLaunchesLoudlyAndIsReadyOnlyWhenEveryServiceIs() {
        var machine = GroupLifecycle(config: Fixture.group("g", services: ["a", "b"]))
        #expect(machine.start() == [.launch(quiet: false)])
        #expect(machine.state == .launching)
        #expect(machine.handle(.serviceStarted("a", at: Fixture.t0)) == [.report(.serviceStarting("a"))])
        #expect(machine.handle(.serviceStarted("b", at: Fixture.t0)) == [.report(.serviceStarting("b"))])
        #expect(machine.handle(.serviceReady("a")) == [.report(.serviceReady("a"))])
        #expect(machine.state == .launching)
        #expect(machine.handle(.serviceReady("b")) == [.report(.serviceReady("b"))])
        #expect(machine.state == .running)
    }

    @Test func aCrashStopsTheRunAndTheEndOfTheLastResultRestartsAfterTheBackOff() {
        var machine = running()
        let first = machine.handle(.serviceResult("a", Fixture.crashed, at: Fixture.at(.seconds(5))))
        #expect(first == [
            .report(.serviceDown("a")),
            .log(.info, "group g: service a exited with status 3; stopping the others"),
        ])
        #expect(machine.state == .stopping(.service("a", Fixture.crashed)))
        let last = machine.handle(.serviceResult("b", Fixture.clean, at: Fixture.at(.seconds(6))))
        let restartAt = Fixture.at(.seconds(7))
        #expect(last == [
            .report(.serviceDown("b")),
            .report(.runEnded(cause: "service a exited with status 3")),
            .log(.warning, "group g: service a exited with status 3; stopped 1 other service; restarting in 1s (restart 1 of 5)"),
            .report(.restarting(at: restartAt, number: 1, limit: 5, cause: "service a exited with status 3")),
            .scheduleRestart(at: restartAt),
        ])
        #expect(machine.state == .backingOff(until: restartAt))
        #expect(machine.handle(.backOffEnded(at: restartAt)) == [.launch(quiet: false)])
    }

    @Test func aServiceThatDoesNotStopInTimeIsKilledAndTheRunEndsOnlyOnceItIsGone() {
        var machine = running()
        _ = machine.handle(.stopRequested(at: Fixture.at(.seconds(1))))
        _ = machine.handle(.serviceResult("a", Fixture.clean, at: Fixture.at(.seconds(2))))
        let timedOut = GroupLifecycle.ServiceResult(kind: .timedOut(.seconds(2)), description: "did not stop within 2s")
        #expect(machine.handle(.serviceResult("b", timedOut, at: Fixture.at(.seconds(3)))) == [
            .report(.serviceDown("b")),
            .log(.error, "group g: service b did not stop within 2s; sending SIGKILL to its process group"),
            .kill("b"),
        ])
        #expect(!machine.hasEnded)
        #expect(machine.handle(.serviceGone("b", at: Fixture.at(.seconds(3)))) == [.report(.ended(.stopped(killed: ["b"])))])
    }

    @Test func aFailedProbeGetsTheStopSignalThenSIGKILLAtItsDeadline() {
        var machine = running()
        let failedAt = Fixture.at(.seconds(10))
        #expect(machine.handle(.serviceFailed("a", at: failedAt)) == [.signal("a"), .armDeadline("a", at: failedAt + .seconds(2))])
        // A second report while it stops changes nothing.
        #expect(machine.handle(.serviceLingering("a", at: failedAt + .seconds(1))) == [])
        #expect(machine.handle(.deadline("a", at: failedAt + .seconds(2))) == [
            .log(.error, "group g: service a did not stop within 2s; sending SIGKILL to its process group"),
            .kill("a"),
        ])
        #expect(machine.handle(.deadline("a", at: failedAt + .seconds(2))) == [])
    }

    @Test func aDeadlineForAServiceThatEndedMeanwhileKillsNothing() {
        var machine = running()
        _ = machine.handle(.serviceLingering("a", at: Fixture.t0))
        _ = machine.handle(.serviceResult("a", Fixture.crashed, at: Fixture.at(.seconds(1))))
        #expect(machine.handle(.deadline("a", at: Fixture.at(.seconds(2)))) == [])
    }

    @Test func aStopDuringTheBackOffEndsTheGroupAtOnce() {
        var machine = running()
        _ = machine.handle(.serviceResult("a", Fixture.crashed, at: Fixture.t0))
        _ = machine.handle(.serviceResult("b", Fixture.clean, at: Fixture.t0))
        #expect(machine.handle(.stopRequested(at: Fixture.at(.milliseconds(500)))) == [.report(.ended(.stopped(killed: [])))])
        // The back-off timer fires later: nothing launches.
        #expect(machine.handle(.backOffEnded(at: Fixture.at(.seconds(1)))) == [])
    }

    @Test func aStopEndsTheGroupAsStoppedWhateverThePolicySays() {
        var machine = running(restart: .always)
        #expect(machine.handle(.stopRequested(at: Fixture.t0)) == [.interrupt])
        _ = machine.handle(.serviceResult("a", Fixture.crashed, at: Fixture.t0))
        let actions = machine.handle(.serviceResult("b", Fixture.clean, at: Fixture.t0))
        #expect(actions.last == .report(.ended(.stopped(killed: []))))
        #expect(actions.logLines.isEmpty)
    }

    @Test func aForcedStopKillsEveryServiceAndTheyCountAsKilled() {
        var machine = running()
        _ = machine.handle(.stopRequested(at: Fixture.t0))
        #expect(machine.handle(.killRequested) == [.killAll])
        let killed = GroupLifecycle.ServiceResult(kind: .killed, description: "did not stop within 2s and was killed")
        _ = machine.handle(.serviceResult("a", killed, at: Fixture.t0))
        #expect(machine.handle(.serviceResult("b", killed, at: Fixture.t0)).last == .report(.ended(.stopped(killed: ["a", "b"]))))
    }

    @Test func thePolicyDecidesBetweenRestartFinishAndGivingUp() {
        var never = running(restart: .never)
        _ = never.handle(.serviceResult("a", Fixture.clean, at: Fixture.t0))
        #expect(never.handle(.serviceResult("b", Fixture.clean, at: Fixture.t0)).suffix(1) == [.report(.ended(.finished))])

        var none = running(maxRestarts: 0)
        _ = none.handle(.serviceResult("a", Fixture.crashed, at: Fixture.t0))
        let gaveUp = none.handle(.serviceResult("b", Fixture.clean, at: Fixture.t0))
        #expect(gaveUp.logLines == ["group g: service a exited with status 3; stopped 1 other service; giving up because max-restarts is 0"])
        #expect(gaveUp.last == .report(.ended(.gaveUp(reason: "service a exited with status 3, and max-restarts is 0"))))
        #expect(none.state == .ended(.gaveUp(reason: "service a exited with status 3, and max-restarts is 0")))
    }

    @Test func aFlappingGroupLaunchesQuietlyAndIsSummarised() {
        var machine = GroupLifecycle(
            config: Fixture.group("g", restart: .always, maxRestarts: 1000),
            throttle: RestartLogThrottle(threshold: 2, window: .seconds(1), interval: .seconds(10))
        )
        _ = machine.start()
        var now = Fixture.t0
        var launches: [Action] = []
        var summaries: [Action] = []
        for _ in 0..<4 {
            _ = machine.handle(.serviceStarted("s", at: now))
            let actions = machine.handle(.serviceResult("s", Fixture.clean, at: now))
            summaries += actions.filter { if case .scheduleSummary = $0 { true } else { false } }
            now = now + .milliseconds(10)
            launches += machine.handle(.backOffEnded(at: now)).filter { if case .launch = $0 { true } else { false } }
        }
        #expect(launches == [.launch(quiet: false), .launch(quiet: true), .launch(quiet: true), .launch(quiet: true)])
        #expect(summaries.count == 1)
        let summary = machine.handle(.summaryDue(at: Fixture.at(.seconds(10))))
        #expect(summary.logLines == ["group g: restarted 2 times in the last 10s (last: service s exited with status 0); still flapping"])
    }

    @Test func eventsOfServicesNotInTheRunChangeNothing() {
        var machine = running()
        #expect(machine.handle(.serviceReady("zzz")) == [])
        #expect(machine.handle(.serviceResult("zzz", Fixture.clean, at: Fixture.t0)) == [])
        #expect(machine.state == .running)
    }
}
