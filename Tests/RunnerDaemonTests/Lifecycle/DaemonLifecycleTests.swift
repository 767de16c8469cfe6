@testable import RunnerDaemon
import Logging
import RunnerdConfig
import Systemd
import Testing

/// The daemon machine alone: (state, event) → (new state, actions), with no process and no clock.
/// Group reports are fed by hand, as the group machines would send them.
@Suite("DaemonLifecycle")
struct DaemonLifecycleTests {
    typealias Action = DaemonLifecycle.Action

    typealias Driver = DaemonDriver

    @Test func readyGoesOutOnceEveryServiceOfEveryGroupIsReady() {
        var driver = Driver([Fixture.group("a", services: ["x", "y"]), Fixture.group("b")])
        #expect(driver.log.map(\.action).startedGroups == ["a", "b"])
        driver.bringUp("a", services: ["x", "y"], at: .seconds(1))
        #expect(driver.readyTimes().isEmpty)
        driver.bringUp("b", at: .seconds(2))
        #expect(driver.notifications.map(\.text) == ["READY=1\nSTATUS=2 groups, 3/3 services ready"])
        #expect(driver.machine.state == .running)
    }

    /// The bug this machine was written for: a reload that changes a group whose old run needs
    /// 1.5 s to stop and whose new run needs 1 s to become ready. READY=1 must wait for both.
    @Test func readyAfterAReloadWaitsForTheChangedGroupsNewRun() {
        let web = Fixture.group("web")
        let batch = Fixture.group("batch")
        var driver = Driver([web, batch])
        driver.bringUp("web", at: .seconds(1))
        driver.bringUp("batch", at: .seconds(1))
        let oldBatch = driver.generations["batch"]!

        let reload = driver.send(.reloadRequested, at: .seconds(10))
        #expect(reload.notifications == ["RELOADING=1\\nMONOTONIC_USEC=<now>\nSTATUS=reloading the config"])
        #expect(reload.contains(.loadConfig))
        var changed = batch
        changed.services[0].interruptTimeout = .seconds(4)
        let applied = driver.send(.configLoaded(Fixture.config([web, changed])), at: .seconds(10.1))
        #expect(applied.stoppedGroups == ["batch"])
        #expect(applied.startedGroups.isEmpty)
        // The old run stops; its services go down 1.5 s later, then it ends.
        driver.report("batch", .serviceDown("s"), at: .seconds(11.6), generation: oldBatch)
        let ended = driver.report("batch", .ended(.stopped(killed: [])), at: .seconds(11.6), generation: oldBatch)
        #expect(ended.startedGroups == ["batch"])
        #expect(ended.logLines.contains("reload: done; restarted batch (changed)"))
        #expect(driver.readyTimes(after: .seconds(10)).isEmpty)
        // Late reports of the old run change nothing.
        driver.report("batch", .serviceReady("s"), at: .seconds(11.7), generation: oldBatch)
        #expect(driver.readyTimes(after: .seconds(10)).isEmpty)
        driver.report("batch", .serviceStarting("s"), at: .seconds(11.6))
        #expect(driver.readyTimes(after: .seconds(10)).isEmpty)
        driver.report("batch", .serviceReady("s"), at: .seconds(12.6))
        #expect(driver.readyTimes(after: .seconds(10)) == [.seconds(12.6)])
        #expect(driver.machine.state == .running)
    }

    @Test func anInvalidConfigKeepsTheRunningOneAndEndsTheReloadWithReady() {
        var driver = Driver([Fixture.group("web")])
        driver.bringUp("web", at: .seconds(1))
        driver.send(.reloadRequested, at: .seconds(2))
        let invalid = driver.send(.configInvalid("runnerd.yaml:3:5: groups.web.restart: \"sometimes\" is not one of never, on-failure, always"), at: .seconds(2))
        #expect(invalid.notifications == ["READY=1\nSTATUS=1 group, 1/1 services ready; reload failed, still running the previous config: runnerd.yaml:3:5: groups.web.restart: \"sometimes\" is not one of never, on-failure, always"])
        #expect(invalid.stoppedGroups.isEmpty && invalid.startedGroups.isEmpty)
        #expect(driver.machine.state == .running)
    }

    @Test func aReloadRequestedDuringAReloadRunsOnceTheFirstIsDone() {
        let web = Fixture.group("web")
        var driver = Driver([web])
        driver.bringUp("web", at: .seconds(1))
        driver.send(.reloadRequested, at: .seconds(2))
        let second = driver.send(.reloadRequested, at: .seconds(2.1))
        #expect(!second.contains(.loadConfig))
        #expect(driver.machine.state == .reloading(queued: true))
        // The first reload finds nothing changed: its READY=1 opens the queued reload at once.
        let done = driver.send(.configLoaded(Fixture.config([web])), at: .seconds(2.2))
        #expect(done.notifications == [
            "READY=1\nSTATUS=1 group, 1/1 services ready",
            "RELOADING=1\\nMONOTONIC_USEC=<now>\nSTATUS=reloading the config",
        ])
        #expect(done.contains(.loadConfig))
        #expect(driver.machine.state == .reloading(queued: false))
    }

    @Test func stoppingSendsStoppingFirstThenStopsEveryGroup() {
        var driver = Driver([Fixture.group("a"), Fixture.group("b")])
        driver.bringUp("a", at: .seconds(1))
        driver.bringUp("b", at: .seconds(1))
        let stop = driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(5))
        #expect(stop.first == .notify([.stopping, .status("stopping: received SIGTERM")]))
        let firstStop = stop.firstIndex { if case .stopGroup = $0 { true } else { false } }
        #expect(firstStop != nil && firstStop! > 0)
        #expect(stop.stoppedGroups == ["a", "b"])
        for group in ["a", "b"] {
            driver.report(group, .serviceDown("s"), at: .seconds(6))
        }
        driver.report("a", .ended(.stopped(killed: [])), at: .seconds(6))
        let last = driver.report("b", .ended(.stopped(killed: [])), at: .seconds(6))
        #expect(last.last == .exit(0))
        #expect(driver.machine.state == .stopped(exitCode: 0))
    }

    @Test func aStopDuringAReloadStopsOldAndNewAndStartsNothing() {
        let web = Fixture.group("web")
        var driver = Driver([web, Fixture.group("batch")])
        driver.bringUp("web", at: .seconds(1))
        driver.bringUp("batch", at: .seconds(1))
        let oldBatch = driver.generations["batch"]!
        driver.send(.reloadRequested, at: .seconds(2))
        driver.send(.configLoaded(Fixture.config([web, Fixture.group("batch", services: ["t"])])), at: .seconds(2))
        let stop = driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(3))
        #expect(stop.first == .notify([.stopping, .status("stopping: received SIGTERM")]))
        #expect(stop.stoppedGroups == ["web"])
        let ended = driver.report("batch", .ended(.stopped(killed: [])), at: .seconds(4), generation: oldBatch)
        #expect(ended.startedGroups.isEmpty)
        let last = driver.report("web", .ended(.stopped(killed: [])), at: .seconds(4))
        #expect(last.last == .exit(0))
        // A config that arrives after the stop began is ignored.
        #expect(driver.send(.configLoaded(Fixture.config([web])), at: .seconds(5)).isEmpty)
    }

    @Test func aSecondSignalKillsEverythingAndAThirdChangesNothing() {
        var driver = Driver([Fixture.group("a")])
        driver.bringUp("a", at: .seconds(1))
        driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(2))
        let second = driver.send(.killRequested(signal: "SIGINT"), at: .seconds(3))
        #expect(second == [.log(.warning, "received SIGINT again: killing every service now"), .killEverything])
        #expect(driver.machine.state == .stopping(reason: "received SIGTERM", forced: true))
        #expect(driver.send(.killRequested(signal: "SIGTERM"), at: .seconds(4)).isEmpty)
        let ended = driver.report("a", .ended(.stopped(killed: ["s"])), at: .seconds(4))
        #expect(ended.logLines.contains("group a: s had to be killed during the stop"))
        #expect(ended.last == .exit(1))
    }

    /// A required group gave up and runnerd is stopping; then systemd sends SIGTERM (the first
    /// signal). That is no reason to kill what is stopping within its limits.
    @Test func aFirstSignalDuringAStopOfRunnerdsOwnKillsNothing() {
        var driver = Driver([Fixture.group("loop"), Fixture.group("web")])
        driver.bringUp("web", at: .seconds(1))
        driver.report("loop", .ended(.gaveUp(reason: "max-restarts is 0")), at: .seconds(2))
        let signal = driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(3))
        #expect(!signal.contains(.killEverything))
        #expect(signal.stoppedGroups.isEmpty && signal.notifications.isEmpty)
        #expect(driver.machine.state == .stopping(reason: "required group loop gave up", forced: false))
    }

    /// The first signal's stop and the second's kill reach the machine from two threads, in
    /// either order. A kill before any stop came with the first signal: the same request twice.
    @Test func aKillRequestBeforeAnyStopOnlyStops() {
        var driver = Driver([Fixture.group("a")])
        driver.bringUp("a", at: .seconds(1))
        let kill = driver.send(.killRequested(signal: "SIGTERM"), at: .seconds(2))
        #expect(kill.first == .notify([.stopping, .status("stopping: received SIGTERM")]))
        #expect(kill.stoppedGroups == ["a"])
        #expect(!kill.contains(.killEverything))
        #expect(!driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(2)).contains(.killEverything))
    }

    /// `timeout -s INT` signals runnerd and then its process group: two SIGINTs a moment apart.
    /// That is one request, not a second Ctrl-C.
    @Test func aSignalDeliveredTwiceWithinMillisecondsIsOneRequest() {
        var driver = Driver([Fixture.group("a")])
        driver.bringUp("a", at: .seconds(1))
        driver.send(.stopRequested(reason: "received SIGINT"), at: .seconds(2))
        let duplicate = driver.send(.killRequested(signal: "SIGINT"), at: .seconds(2) + .milliseconds(3))
        #expect(duplicate == [.log(.notice, "received SIGINT again within 50ms of the stop: taken as the same request, not as a second one")])
        #expect(driver.machine.state == .stopping(reason: "received SIGINT", forced: false))
        let second = driver.send(.killRequested(signal: "SIGINT"), at: .seconds(2) + .milliseconds(60))
        #expect(second.last == .killEverything)
    }

    @Test func extendTimeoutIsAskedForAt75PercentWhileTheStopIsWithinItsLimits() {
        // Groups may take 3 s to stop, plus 5 s to kill and reap: 8 s in all.
        var driver = Driver([Fixture.group("a")], stopTimeout: .seconds(4))
        driver.bringUp("a", at: .seconds(1))
        let stop = driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(10))
        #expect(stop.contains(.scheduleExtend(at: Fixture.at(.seconds(13)))))
        let first = driver.send(.extendDue, at: .seconds(13))
        #expect(first == [.notify([.extendTimeout(.seconds(4))]), .scheduleExtend(at: Fixture.at(.seconds(16)))])
        let second = driver.send(.extendDue, at: .seconds(16))
        #expect(second == [.notify([.extendTimeout(.seconds(4))]), .scheduleExtend(at: Fixture.at(.seconds(19)))])
        // Past the limit, no more time is asked for.
        #expect(driver.send(.extendDue, at: .seconds(19)).isEmpty)
    }

    @Test func withoutAStopTimeoutItAsksFor30SecondsAfter25() {
        var driver = Driver([Fixture.group("a", groupInterruptTimeout: .seconds(60))])
        let stop = driver.send(.stopRequested(reason: "received SIGTERM"), at: .zero)
        #expect(stop.contains(.scheduleExtend(at: Fixture.at(.seconds(25)))))
        #expect(driver.send(.extendDue, at: .seconds(25)).first == .notify([.extendTimeout(.seconds(30))]))
    }

    @Test func aRequiredGroupThatGivesUpStopsTheDaemonWithExit1() {
        var driver = Driver([Fixture.group("loop"), Fixture.group("web")])
        driver.bringUp("web", at: .seconds(1))
        let gaveUp = driver.report("loop", .ended(.gaveUp(reason: "service s exited with status 3, and max-restarts is 0")), at: .seconds(2))
        #expect(gaveUp.logLines.first == "required group loop gave up (service s exited with status 3, and max-restarts is 0); stopping runnerd")
        #expect(gaveUp.notifications == ["STOPPING=1\nSTATUS=stopping: required group loop gave up"])
        #expect(gaveUp.stoppedGroups == ["web"])
        let last = driver.report("web", .ended(.stopped(killed: [])), at: .seconds(3))
        #expect(last.last == .exit(1))
    }

    @Test func aRequiredGroupThatGivesUpWhileTheDaemonStopsStillMakesTheExitCode1() {
        var driver = Driver([Fixture.group("loop"), Fixture.group("web")])
        driver.bringUp("web", at: .seconds(1))
        driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(2))
        let gaveUp = driver.report("loop", .ended(.gaveUp(reason: "service s exited with status 3, and max-restarts is 0")), at: .seconds(2))
        #expect(gaveUp.notifications.isEmpty)
        #expect(gaveUp.stoppedGroups.isEmpty)
        let last = driver.report("web", .ended(.stopped(killed: [])), at: .seconds(3))
        #expect(last.last == .exit(1))
    }

    @Test func aGroupThatIsNotRequiredAndGivesUpLeavesTheRestRunningAndReady() {
        var driver = Driver([Fixture.group("extra", required: false), Fixture.group("web")])
        driver.bringUp("web", at: .seconds(1))
        let gaveUp = driver.report("extra", .ended(.gaveUp(reason: "max-restarts is 0")), at: .seconds(2))
        #expect(gaveUp.stoppedGroups.isEmpty)
        #expect(gaveUp.notifications == ["READY=1\nSTATUS=2 groups, 1/2 services ready; group extra is down: gave up"])
    }

    @Test func aRestartingGroupOwesReadyAgain() {
        var driver = Driver([Fixture.group("web")])
        driver.bringUp("web", at: .seconds(1))
        driver.report("web", .serviceDown("s"), at: .seconds(2))
        driver.report("web", .restarting(at: Fixture.at(.seconds(3)), number: 1, limit: 5), at: .seconds(2))
        #expect(driver.machine.statusText(at: Fixture.at(.seconds(2))) == "1 group, 0/1 services ready; group web restarting in 1s (restart 1 of 5)")
        driver.report("web", .serviceStarting("s"), at: .seconds(3))
        #expect(driver.machine.statusText(at: Fixture.at(.seconds(5))) == "1 group, 0/1 services ready; web/s starting for 2s")
        driver.report("web", .serviceReady("s"), at: .seconds(6))
        #expect(driver.readyTimes() == [.seconds(1), .seconds(6)])
    }

    @Test func aRestartingGroupsStatusSaysWhyItRestarts() {
        var driver = Driver([Fixture.group("web")])
        driver.bringUp("web", at: .seconds(1))
        driver.report("web", .serviceDown("s"), at: .seconds(2))
        driver.report("web", .restarting(at: Fixture.at(.seconds(3)), number: 1, limit: 5, cause: "service s was killed by the OOM killer (memory-max 32M)"), at: .seconds(2))
        #expect(driver.machine.statusText(at: Fixture.at(.seconds(2))) == "1 group, 0/1 services ready; group web restarting in 1s (restart 1 of 5): service s was killed by the OOM killer (memory-max 32M)")
    }

    @Test func theWatchdogTickIsAcknowledgedWithAPingUntilStopped() {
        var driver = Driver([Fixture.group("a")])
        #expect(driver.send(.watchdogTick, at: .seconds(1)) == [.pingWatchdog])
        driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(2))
        #expect(driver.send(.watchdogTick, at: .seconds(3)) == [.pingWatchdog])
        driver.report("a", .ended(.stopped(killed: [])), at: .seconds(4))
        #expect(driver.send(.watchdogTick, at: .seconds(5)).isEmpty)
    }

    @Test func whileStoppingTheStatusNamesWhatItWaitsFor() {
        var driver = Driver([Fixture.group("g", services: ["fast", "slow"])])
        driver.bringUp("g", services: ["fast", "slow"], at: .seconds(1))
        driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(2))
        driver.report("g", .serviceDown("fast"), at: .seconds(2))
        #expect(driver.machine.statusText(at: Fixture.at(.seconds(3))) == "stopping: waiting for g/slow")
    }
}
