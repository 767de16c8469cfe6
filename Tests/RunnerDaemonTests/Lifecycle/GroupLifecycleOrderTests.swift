@testable import RunnerDaemon
import Logging
import RunnerdConfig
import Testing

/// The group machine's order decisions (`after:`, `type: oneshot`): who starts when, who is
/// signalled when. No process, no clock.
@Suite("GroupLifecycle order")
struct GroupLifecycleOrderTests {
    /// Group `g` where each service is after the one before it: `a` ← `b` ← `c`.
    private func chain(groupInterruptTimeout: Duration = .seconds(3)) -> GroupConfig {
        var group = Fixture.group("g", services: ["a", "b", "c"], groupInterruptTimeout: groupInterruptTimeout)
        group.services[1].after = ["a"]
        group.services[2].after = ["b"]
        return group
    }

    /// Group `g`: `migrate`, a oneshot with a 5m timeout, and `api` after it.
    private func migration() -> GroupConfig {
        var group = Fixture.group("g", services: ["migrate", "api"])
        group.services[0].type = .oneshot
        group.services[1].after = ["migrate"]
        return group
    }

    private func up(_ machine: inout GroupLifecycle, _ names: [String]) {
        for name in names {
            _ = machine.handle(.serviceStarted(name, at: Fixture.t0))
            _ = machine.handle(.serviceReady(name))
        }
    }

    @Test func aChainStartsEachServiceOnlyOnceTheOneBeforeIsReady() {
        var machine = GroupLifecycle(config: chain())
        #expect(machine.start() == [.prepare(quiet: false), .startService("a")])
        #expect(machine.handle(.serviceStarted("a", at: Fixture.t0)) == [.report(.serviceStarting("a"))])
        // b is not released by a's spawn, only by its readiness.
        #expect(machine.handle(.serviceReady("a")) == [.report(.serviceReady("a")), .startService("b")])
        #expect(machine.state == .launching)
        #expect(machine.handle(.serviceStarted("b", at: Fixture.t0)) == [.report(.serviceStarting("b"))])
        #expect(machine.handle(.serviceReady("b")) == [.report(.serviceReady("b")), .startService("c")])
        _ = machine.handle(.serviceStarted("c", at: Fixture.t0))
        #expect(machine.handle(.serviceReady("c")) == [.report(.serviceReady("c"))])
        #expect(machine.state == .running)
    }

    @Test func aServiceAfterTwoStartsOnlyOnceBothAreReady() {
        var group = Fixture.group("g", services: ["db", "cache", "api"])
        group.services[2].after = ["db", "cache"]
        var machine = GroupLifecycle(config: group)
        #expect(machine.start() == [.prepare(quiet: false), .startService("db"), .startService("cache")])
        _ = machine.handle(.serviceStarted("db", at: Fixture.t0))
        _ = machine.handle(.serviceStarted("cache", at: Fixture.t0))
        #expect(machine.handle(.serviceReady("db")) == [.report(.serviceReady("db"))])
        #expect(machine.handle(.serviceReady("cache")) == [.report(.serviceReady("cache")), .startService("api")])
    }

    @Test func aGroupWithoutOrderStillLaunchesAsOneGroupRunner() {
        var machine = GroupLifecycle(config: Fixture.group("g", services: ["a", "b"]))
        #expect(machine.start() == [.launch(quiet: false)])
        up(&machine, ["a", "b"])
        #expect(machine.handle(.stopRequested(at: Fixture.t0)) == [.interrupt])
    }

    @Test func aOneshotIsReadyWhenItExitsZeroNotWhenSpawnedAndReleasesWhatIsAfterIt() {
        var machine = GroupLifecycle(config: migration())
        #expect(machine.start() == [.prepare(quiet: false), .startService("migrate")])
        #expect(machine.handle(.serviceStarted("migrate", at: Fixture.t0)) == [
            .report(.serviceStarting("migrate")), .armDeadline("migrate", at: Fixture.at(.seconds(300))),
        ])
        // A service without a probe reports ready at its spawn; a oneshot is not ready then.
        #expect(machine.handle(.serviceReady("migrate")) == [])
        #expect(machine.handle(.serviceResult("migrate", Fixture.clean, at: Fixture.at(.seconds(4)))) == [
            .log(.info, "group g: service migrate is done (exited with status 0)"),
            .report(.serviceReady("migrate")),
            .startService("api"),
        ])
        #expect(machine.state == .launching)
        up(&machine, ["api"])
        #expect(machine.state == .running)
        // Its deadline, once it is done, changes nothing.
        #expect(machine.handle(.deadline("migrate", at: Fixture.at(.seconds(300)))) == [])
    }

    @Test func aOneshotThatFailsFailsTheStartAndWhatIsAfterItNeverStarts() {
        var machine = GroupLifecycle(config: migration())
        _ = machine.start()
        _ = machine.handle(.serviceStarted("migrate", at: Fixture.t0))
        let failed = machine.handle(.serviceResult("migrate", Fixture.crashed, at: Fixture.at(.seconds(1))))
        #expect(failed == [
            .report(.serviceDown("migrate")),
            .log(.info, "group g: service migrate exited with status 3; stopping the others"),
            .armGroupDeadline(at: Fixture.at(.seconds(4))),
            .report(.runEnded(cause: "service migrate exited with status 3")),
            .log(.warning, "group g: service migrate exited with status 3; stopped 1 other service; restarting in 1s (restart 1 of 5)"),
            .report(.restarting(at: Fixture.at(.seconds(2)), number: 1, limit: 5, cause: "service migrate exited with status 3")),
            .scheduleRestart(at: Fixture.at(.seconds(2))),
        ])
        #expect(!failed.contains(.startService("api")))
        // It runs again on the next start.
        #expect(machine.handle(.backOffEnded(at: Fixture.at(.seconds(2)))) == [.prepare(quiet: false), .startService("migrate")])
    }

    @Test func aOneshotPastItsTimeoutIsStoppedAndFailsTheStart() {
        var machine = GroupLifecycle(config: migration())
        _ = machine.start()
        _ = machine.handle(.serviceStarted("migrate", at: Fixture.t0))
        let deadline = Fixture.at(.seconds(300))
        #expect(machine.handle(.deadline("migrate", at: deadline)) == [
            .log(.warning, "group g: service migrate did not finish within 5m; stopping the group"),
            .armGroupDeadline(at: deadline + .seconds(3)),
            .stopService("migrate"),
        ])
        let timedOut = GroupLifecycle.ServiceResult(kind: .failed, description: "did not finish within 5m")
        #expect(machine.state == .stopping(.service("migrate", timedOut)))
        // Stopped by its stop signal, it reports a clean stop; the run still failed.
        let end = machine.handle(.serviceResult("migrate", Fixture.clean, at: deadline + .seconds(1)))
        #expect(end.contains(.log(.warning, "group g: service migrate did not finish within 5m; stopped 1 other service; restarting in 1s (restart 1 of 5)")))
    }

    @Test func aGroupOfDoneOneshotsEndsAtOnceWhenAskedToStop() {
        var group = Fixture.group("setup", services: ["migrate"])
        group.services[0].type = .oneshot
        var machine = GroupLifecycle(config: group)
        _ = machine.start()
        _ = machine.handle(.serviceStarted("migrate", at: Fixture.t0))
        _ = machine.handle(.serviceResult("migrate", Fixture.clean, at: Fixture.at(.seconds(1))))
        #expect(machine.state == .running)
        #expect(machine.handle(.stopRequested(at: Fixture.at(.seconds(2)))) == [
            .report(.serviceDown("migrate")),
            .armGroupDeadline(at: Fixture.at(.seconds(5))),
            .report(.ended(.stopped(killed: []))),
        ])
    }

    @Test func aStopSignalsDependentsFirstAndEachStepWaitsForThePreviousToHaveStopped() {
        var machine = GroupLifecycle(config: chain())
        _ = machine.start()
        up(&machine, ["a"])
        up(&machine, ["b"])
        up(&machine, ["c"])
        #expect(machine.handle(.stopRequested(at: Fixture.t0)) == [.armGroupDeadline(at: Fixture.at(.seconds(3))), .stopService("c")])
        #expect(machine.handle(.serviceResult("c", Fixture.clean, at: Fixture.at(.seconds(1)))) == [.report(.serviceDown("c")), .stopService("b")])
        #expect(machine.handle(.serviceResult("b", Fixture.clean, at: Fixture.at(.seconds(1)))) == [.report(.serviceDown("b")), .stopService("a")])
        #expect(machine.handle(.serviceResult("a", Fixture.clean, at: Fixture.at(.seconds(1)))) == [
            .report(.serviceDown("a")), .report(.ended(.stopped(killed: []))),
        ])
    }

    @Test func aDependentThatTimesOutIsKilledAndTheNextStepWaitsUntilItIsGone() {
        var machine = GroupLifecycle(config: chain())
        _ = machine.start()
        up(&machine, ["a"])
        up(&machine, ["b"])
        up(&machine, ["c"])
        _ = machine.handle(.stopRequested(at: Fixture.t0))
        let timedOut = GroupLifecycle.ServiceResult(kind: .timedOut(.seconds(2)), description: "did not stop within 2s")
        #expect(machine.handle(.serviceResult("c", timedOut, at: Fixture.at(.seconds(2)))) == [
            .report(.serviceDown("c")),
            .log(.error, "group g: service c did not stop within 2s; sending SIGKILL to its process group"),
            .kill("c"),
        ])
        #expect(machine.handle(.serviceGone("c", at: Fixture.at(.seconds(2)))) == [.stopService("b")])
    }

    @Test func theWholeOrderedStopIsBoundedByTheGroupsInterruptTimeout() {
        var machine = GroupLifecycle(config: chain())
        _ = machine.start()
        up(&machine, ["a"])
        up(&machine, ["b"])
        up(&machine, ["c"])
        _ = machine.handle(.stopRequested(at: Fixture.t0))
        _ = machine.handle(.serviceResult("c", Fixture.clean, at: Fixture.at(.seconds(1))))
        #expect(machine.handle(.groupDeadline(at: Fixture.at(.seconds(3)))) == [
            .log(.error, "group g: a, b did not stop within the group's 3s; sending SIGKILL"),
            .kill("a"), .kill("b"),
        ])
        let killed = GroupLifecycle.ServiceResult(kind: .killed, description: "killed")
        _ = machine.handle(.serviceResult("b", killed, at: Fixture.at(.seconds(3))))
        #expect(machine.handle(.serviceResult("a", killed, at: Fixture.at(.seconds(3)))).last == .report(.ended(.stopped(killed: ["a", "b"]))))
    }

    @Test func aStopWhileWaitingOnADependencySignalsOnlyWhatRunsAndStartsNothingMore() {
        var machine = GroupLifecycle(config: chain())
        _ = machine.start()
        _ = machine.handle(.serviceStarted("a", at: Fixture.t0))
        #expect(machine.handle(.stopRequested(at: Fixture.t0)) == [.armGroupDeadline(at: Fixture.at(.seconds(3))), .stopService("a")])
        // a's readiness, arriving late, releases nothing.
        #expect(machine.handle(.serviceReady("a")) == [])
        #expect(machine.handle(.serviceResult("a", Fixture.clean, at: Fixture.at(.seconds(1)))) == [
            .report(.serviceDown("a")), .report(.ended(.stopped(killed: []))),
        ])
    }

    @Test func aCrashInAnOrderedGroupStopsTheRestInReverseOrder() {
        var machine = GroupLifecycle(config: chain())
        _ = machine.start()
        up(&machine, ["a"])
        up(&machine, ["b"])
        up(&machine, ["c"])
        // a crashes: c goes first, then b.
        #expect(machine.handle(.serviceResult("a", Fixture.crashed, at: Fixture.t0)) == [
            .report(.serviceDown("a")),
            .log(.info, "group g: service a exited with status 3; stopping the others"),
            .armGroupDeadline(at: Fixture.at(.seconds(3))),
            .stopService("c"),
        ])
        #expect(machine.handle(.serviceResult("c", Fixture.clean, at: Fixture.t0)) == [.report(.serviceDown("c")), .stopService("b")])
    }
}
