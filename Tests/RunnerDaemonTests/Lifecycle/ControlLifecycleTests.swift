@testable import RunnerDaemon
import RunnerdConfig
import Testing

/// What control clients ask of the daemon's machine (start, stop, restart, reload with a reply,
/// a plan), decided without processes, sockets or clocks.
@Suite("DaemonLifecycle+Control")
struct ControlLifecycleTests {
    /// Two groups up and READY=1 sent: `web` (required, services a and b) and `jobs`.
    private func running() -> DaemonDriver {
        var driver = DaemonDriver([Fixture.group("web", services: ["a", "b"]), Fixture.group("jobs", required: false)])
        driver.bringUp("web", services: ["a", "b"], at: .milliseconds(10))
        driver.bringUp("jobs", at: .milliseconds(10))
        return driver
    }

    private func command(_ request: Int, _ kind: DaemonLifecycle.GroupCommand.Kind, _ groups: [String]) -> DaemonLifecycle.Event {
        .groupCommand(.init(request: request, kind: kind, groups: groups))
    }

    /// The group's machine reporting that its run stopped as asked.
    private func stopped(_ driver: inout DaemonDriver, _ group: String, services: [String], at offset: Duration) {
        for service in services { driver.report(group, .serviceDown(service), at: offset) }
        driver.report(group, .ended(.stopped(killed: [])), at: offset)
    }

    @Test func aStopAnswersOnceTheGroupHasStoppedAndItStaysDownWhileTheRestStaysReady() {
        var driver = running()
        let actions = driver.send(command(1, .stop, ["web"]), at: .seconds(1))
        #expect(actions.stoppedGroups == ["web"])
        #expect(driver.replies[1] == nil)
        stopped(&driver, "web", services: ["a", "b"], at: .seconds(2))
        #expect(driver.replies[1] == .groups([.init(group: "web", succeeded: true, message: "stopped")]))
        // A required group stopped on request does not stop the daemon.
        #expect(driver.machine.state == .running)
        #expect(driver.machine.statusText(at: Fixture.at(.seconds(2))).contains("web: stopped by request"))
        let report = driver.machine.report(at: Fixture.at(.seconds(2)))
        #expect(report.groups.map(\.state) == ["stopped", "running"])
        #expect(report.groups[0].stoppedByRequest)
    }

    @Test func whileAGroupIsStoppedReadyCountsOnlyTheGroupsMeantToRun() {
        var driver = running()
        driver.send(command(1, .stop, ["web"]), at: .seconds(1))
        stopped(&driver, "web", services: ["a", "b"], at: .seconds(2))
        // jobs restarts after a crash; READY=1 is owed again and comes once jobs alone is ready.
        driver.report("jobs", .serviceDown("s"), at: .seconds(3))
        driver.report("jobs", .restarting(at: Fixture.at(.seconds(4)), number: 1, limit: 5), at: .seconds(3))
        driver.report("jobs", .serviceStarting("s"), at: .seconds(4))
        driver.report("jobs", .serviceReady("s"), at: .seconds(5))
        #expect(driver.readyTimes(after: .seconds(3)) == [.seconds(5)])
    }

    @Test func aRestartStopsThenStartsANewRunAndAnswersWhenItIsReady() {
        var driver = running()
        let before = driver.generations["web"]!
        driver.send(command(7, .restart, ["web"]), at: .seconds(1))
        stopped(&driver, "web", services: ["a", "b"], at: .seconds(2))
        let after = driver.generations["web"]!
        #expect(after > before)
        #expect(driver.replies[7] == nil)
        driver.bringUp("web", services: ["a", "b"], at: .seconds(3))
        #expect(driver.replies[7] == .groups([.init(group: "web", succeeded: true, message: "ready")]))
        #expect(driver.machine.state == .running)
    }

    @Test func aRestartWhoseNewRunCrashesAnswersThatItFailed() {
        var driver = running()
        driver.send(command(7, .restart, ["jobs"]), at: .seconds(1))
        stopped(&driver, "jobs", services: ["s"], at: .seconds(2))
        driver.report("jobs", .serviceStarting("s"), at: .seconds(3))
        driver.report("jobs", .serviceDown("s"), at: .seconds(4))
        driver.report("jobs", .runEnded(cause: "service s exited with status 3"), at: .seconds(4))
        driver.report("jobs", .restarting(at: Fixture.at(.seconds(5)), number: 1, limit: 5), at: .seconds(4))
        #expect(driver.replies[7] == .groups([.init(group: "jobs", succeeded: false, message: "service s exited with status 3; restarting (restart 1 of 5)")]))
    }

    @Test func aStoppedGroupStaysStoppedAcrossAReloadEvenWhenItsConfigChanges() {
        var driver = running()
        driver.send(command(1, .stop, ["jobs"]), at: .seconds(1))
        stopped(&driver, "jobs", services: ["s"], at: .seconds(2))
        driver.send(.reloadRequested, at: .seconds(3))
        let changed = Fixture.config([Fixture.group("web", services: ["a", "b"]), Fixture.group("jobs", services: ["s", "t"], required: false)])
        let actions = driver.send(.configLoaded(changed), at: .seconds(3))
        #expect(actions.startedGroups.isEmpty)
        #expect(actions.stoppedGroups.isEmpty)
        #expect(actions.logLines.contains("reload: done; changed jobs (stays stopped by request)"))
        #expect(driver.machine.state == .running)
        #expect(driver.machine.report(at: Fixture.at(.seconds(3))).groups.map(\.state) == ["running", "stopped"])
        // Until it is started: then with its new config.
        let start = driver.send(command(2, .start, ["jobs"]), at: .seconds(4))
        #expect(start.startedGroups == ["jobs"])
        driver.bringUp("jobs", services: ["s", "t"], at: .seconds(5))
        #expect(driver.replies[2] == .groups([.init(group: "jobs", succeeded: true, message: "ready")]))
    }

    @Test func unknownGroupsAreRefusedBeforeAnythingHappens() {
        var driver = running()
        let actions = driver.send(command(3, .stop, ["jobs", "nosuch"]), at: .seconds(1))
        #expect(actions == [.reply(request: 3, .refused(.noSuchGroup("nosuch")))])
    }

    @Test func aStartOfARunningReadyGroupAnswersAtOnce() {
        var driver = running()
        driver.send(command(4, .start, ["web"]), at: .seconds(1))
        #expect(driver.replies[4] == .groups([.init(group: "web", succeeded: true, message: "ready")]))
    }

    @Test func aReloadForAClientAnswersWhenTheChangedGroupIsReadyAndAnInvalidOneWithEveryError() {
        var driver = running()
        driver.send(.controlReload(request: 5), at: .seconds(1))
        let changed = Fixture.config([Fixture.group("web", services: ["a", "b"]), Fixture.group("jobs", services: ["s", "t"], required: false)])
        driver.send(.configLoaded(changed), at: .seconds(1))
        stopped(&driver, "jobs", services: ["s"], at: .seconds(2))
        #expect(driver.replies[5] == nil)
        driver.bringUp("jobs", services: ["s", "t"], at: .seconds(3))
        #expect(driver.replies[5] == .reloaded("reload: done; restarted jobs (changed)"))

        driver.send(.controlReload(request: 6), at: .seconds(4))
        driver.send(.configInvalid("runnerd.yaml:3:1: bad", details: "runnerd.yaml:3:1: bad\nrunnerd.yaml:9:1: worse"), at: .seconds(4))
        #expect(driver.replies[6] == .reloadFailed("runnerd.yaml:3:1: bad\nrunnerd.yaml:9:1: worse"))
    }

    @Test func aGroupCommandDuringAReloadWaitsForIt() {
        var driver = running()
        driver.send(.reloadRequested, at: .seconds(1))
        let during = driver.send(command(8, .stop, ["jobs"]), at: .seconds(1))
        #expect(during.stoppedGroups.isEmpty)
        let done = driver.send(.configLoaded(driver.machine.config), at: .seconds(2))
        #expect(done.stoppedGroups == ["jobs"])
    }

    @Test func aDaemonStopRefusesEveryWaitingRequest() {
        var driver = running()
        driver.send(command(9, .restart, ["web"]), at: .seconds(1))
        let actions = driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(1))
        #expect(actions.contains(.reply(request: 9, .refused(.stopping))))
        stopped(&driver, "web", services: ["a", "b"], at: .seconds(2))
        // The restart does not start a new run during the stop.
        #expect(driver.log.filter { $0.at == .seconds(2) }.map(\.action).startedGroups.isEmpty)
    }

    @Test func aPlanComparesTheFileWithTheRunningConfigAndChangesNothing() {
        var driver = running()
        #expect(driver.send(.planRequested(request: 10), at: .seconds(1)) == [.loadPlanConfig(request: 10)])
        let new = Fixture.config([Fixture.group("web", services: ["a", "b"], maxRestarts: 9), Fixture.group("extra")])
        let actions = driver.send(.planConfigLoaded(request: 10, new), at: .seconds(1))
        #expect(actions == [.reply(request: 10, .plan(ReloadPlan(steps: [
            .init(group: "web", action: .restart, reason: "changed: max-restarts"),
            .init(group: "extra", action: .start, reason: "added"),
            .init(group: "jobs", action: .stop, reason: "removed"),
        ])))])
        #expect(driver.machine.state == .running)
    }
}

/// Control requests on groups in dependency order: `app` binds to `db`.
@Suite("DaemonLifecycle+Control with order")
struct ControlOrderLifecycleTests {
    private func bound() -> DaemonDriver {
        var app = Fixture.group("app", required: false)
        app.after = ["db"]
        app.bindsTo = ["db"]
        return DaemonDriver([Fixture.group("db", required: false), app])
    }

    @Test func aStopOfAGroupStillWaitingForItsTurnEndsItAtOnce() {
        var driver = bound()
        #expect(driver.machine.report(at: Fixture.at(.zero)).groups.map(\.state) == ["starting", "waiting"])
        let actions = driver.send(.groupCommand(.init(request: 1, kind: .stop, groups: ["app"])), at: .seconds(1))
        #expect(actions.stoppedGroups.isEmpty)
        #expect(driver.replies[1] == .groups([.init(group: "app", succeeded: true, message: "stopped")]))
        // db becomes ready; app stays down, stopped by request.
        let up = driver.send(.group("db", generation: driver.generations["db"]!, .serviceStarting("s")), at: .seconds(2))
            + driver.send(.group("db", generation: driver.generations["db"]!, .serviceReady("s")), at: .seconds(2))
        #expect(!up.startedGroups.contains("app"))
        #expect(driver.machine.report(at: Fixture.at(.seconds(2))).groups.map(\.state) == ["running", "stopped"])
    }

    @Test func aGroupStartedOnRequestWaitsForWhatItStartsAfter() {
        var driver = bound()
        driver.send(.groupCommand(.init(request: 1, kind: .stop, groups: ["app"])), at: .seconds(1))
        driver.send(.groupCommand(.init(request: 2, kind: .start, groups: ["app"])), at: .seconds(2))
        let waiting = driver.machine.report(at: Fixture.at(.seconds(3)))
        #expect(waiting.groups.map(\.state) == ["starting", "waiting"])
        #expect(waiting.groups[1].waitingFor == "db (starting, 1s)")
        #expect(StatusTable(waiting, colour: false).text.contains("app    waiting for db (starting, 1s)  0/1"))
        #expect(driver.replies[2] == nil)
        driver.bringUp("db", at: .seconds(3))
        #expect(driver.log.map(\.action).startedGroups.filter { $0 == "app" }.count == 1)
        driver.bringUp("app", at: .seconds(4))
        #expect(driver.replies[2] == .groups([.init(group: "app", succeeded: true, message: "ready")]))
    }

    @Test func aGroupStartedAgainAfterTheGroupItBindsToCountsItsUptimeAfresh() {
        var driver = bound()
        driver.bringUp("db", at: .seconds(1))
        driver.bringUp("app", at: .seconds(1))
        // db goes down: app is stopped, waits, and starts again once db is ready.
        driver.report("db", .serviceDown("s"), at: .seconds(10))
        driver.report("app", .serviceDown("s"), at: .seconds(10))
        driver.report("app", .ended(.stopped(killed: [])), at: .seconds(10))
        driver.report("db", .serviceStarting("s"), at: .seconds(11))
        driver.report("db", .serviceReady("s"), at: .seconds(11))
        driver.report("app", .serviceStarting("s"), at: .seconds(12))
        let report = driver.machine.report(at: Fixture.at(.seconds(13)))
        #expect(report.groups[1].state == "starting")
        #expect(report.groups[1].uptime == .seconds(1))
    }

    @Test func aFinishedOneshotShowsAsDone() {
        var group = Fixture.group("app", services: ["migrate", "api"])
        group.services[0].type = .oneshot
        group.services[1].after = ["migrate"]
        var driver = DaemonDriver([group])
        driver.bringUp("app", services: ["migrate", "api"], at: .seconds(1))
        let services = driver.machine.report(at: Fixture.at(.seconds(2))).groups[0].services
        #expect(services.map(\.state) == ["done", "ready"])
        #expect(services[0].uptime == nil && services[1].uptime == .seconds(1))
    }

    @Test func thePlanRestartsTheGroupsBoundToAChangedOne() {
        var driver = bound()
        driver.send(.planRequested(request: 3), at: .seconds(1))
        var new = driver.machine.config
        new.groups[0].maxRestarts = 9
        let actions = driver.send(.planConfigLoaded(request: 3, new), at: .seconds(1))
        #expect(actions == [.reply(request: 3, .plan(ReloadPlan(steps: [
            .init(group: "db", action: .restart, reason: "changed: max-restarts"),
            .init(group: "app", action: .restart, reason: "binds to db, which changes"),
        ])))])
    }
}
