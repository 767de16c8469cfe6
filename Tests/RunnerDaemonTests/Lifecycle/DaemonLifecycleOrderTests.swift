@testable import RunnerDaemon
import Logging
import RunnerdConfig
import Systemd
import Testing

/// The daemon machine's order between groups (`after:`, `binds-to:`): who starts when, who is
/// stopped when, and what a reload restarts. Group reports are fed by hand.
@Suite("DaemonLifecycle order")
struct DaemonLifecycleOrderTests {
    typealias Driver = DaemonLifecycleTests.Driver

    /// `db`, and `api` after it (or bound to it).
    private func pair(binds: Bool = false) -> [GroupConfig] {
        var api = Fixture.group("api")
        if binds { api.bindsTo = ["db"] } else { api.after = ["db"] }
        return [api, Fixture.group("db")]
    }

    @Test func aGroupAfterAnotherStartsOnlyOnceThatIsReadyAndSaysWhatItWaitsFor() {
        var driver = Driver(pair())
        #expect(driver.log.map(\.action).startedGroups == ["db"])
        #expect(driver.log.map(\.action).logLines == ["group api waits for db before it starts"])
        driver.report("db", .serviceStarting("s"), at: .seconds(1))
        #expect(driver.machine.statusText(at: Fixture.at(.seconds(3))) == "2 groups, 0/2 services ready; db/s starting for 2s; group api waiting for db (starting, 3s)")
        #expect(driver.machine.statusAges)
        let ready = driver.report("db", .serviceReady("s"), at: .seconds(4))
        #expect(ready.startedGroups == ["api"])
        #expect(ready.notifications.isEmpty, "READY=1 waits for the group that was waiting")
        driver.bringUp("api", at: .seconds(5))
        #expect(driver.readyTimes() == [.seconds(5)])
    }

    @Test func theDaemonsStopStopsDependentsFirstAndTheirDependenciesOnceTheyEnded() {
        var driver = Driver(pair())
        driver.bringUp("db", at: .seconds(1))
        driver.bringUp("api", at: .seconds(1))
        let stop = driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(2))
        #expect(stop.stoppedGroups == ["api"])
        driver.report("api", .serviceDown("s"), at: .seconds(3))
        #expect(driver.report("api", .ended(.stopped(killed: [])), at: .seconds(3)).stoppedGroups == ["db"])
        driver.report("db", .serviceDown("s"), at: .seconds(4))
        #expect(driver.report("db", .ended(.stopped(killed: [])), at: .seconds(4)).contains(.exit(0)))
    }

    @Test func aStopWhileAGroupWaitsEndsItWithoutStartingIt() {
        var driver = Driver(pair())
        driver.report("db", .serviceStarting("s"), at: .seconds(1))
        let stop = driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(2))
        #expect(stop.stoppedGroups == ["db"])
        driver.report("db", .serviceDown("s"), at: .seconds(3))
        let end = driver.report("db", .ended(.stopped(killed: [])), at: .seconds(3))
        #expect(end.startedGroups.isEmpty)
        #expect(end.contains(.exit(0)))
    }

    @Test func aSecondSignalStopsTheGroupsStillWaitingForTheirTurnBeforeKillingEverything() {
        var driver = Driver(pair())
        driver.bringUp("db", at: .seconds(1))
        driver.bringUp("api", at: .seconds(1))
        driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(2))
        let kill = driver.send(.killRequested(signal: "SIGTERM"), at: .seconds(3))
        #expect(kill.stoppedGroups == ["db"])
        #expect(kill.last == .killEverything)
    }

    @Test func aGroupBoundToAnotherStopsWhenItGoesDownAndStartsAgainOnceItIsReady() {
        var driver = Driver(pair(binds: true))
        driver.bringUp("db", at: .seconds(1))
        driver.bringUp("api", at: .seconds(1))
        let firstAPI = driver.generations["api"]!
        // db crashes: its machine reports its services down, then a restart.
        let down = driver.report("db", .serviceDown("s"), at: .seconds(2))
        #expect(down.stoppedGroups == ["api"])
        #expect(down.logLines == ["group api: stopping, since it binds to db, which stopped; it starts again once db is ready"])
        driver.report("db", .restarting(at: Fixture.at(.seconds(3)), number: 1, limit: 5), at: .seconds(2))
        driver.report("api", .serviceDown("s"), at: .seconds(2))
        #expect(driver.report("api", .ended(.stopped(killed: [])), at: .seconds(2)).startedGroups.isEmpty)
        #expect(driver.machine.statusText(at: Fixture.at(.seconds(2))).contains("group api waiting for db (restarting, 0s)"))
        driver.report("db", .serviceStarting("s"), at: .seconds(3))
        let ready = driver.report("db", .serviceReady("s"), at: .seconds(4))
        #expect(ready.startedGroups == ["api"])
        #expect(driver.generations["api"] != firstAPI, "a new run, whose reports are told apart from the old one's")
    }

    @Test func aGroupBoundToOneThatGaveUpStaysDown() {
        var groups = pair(binds: true)
        groups[0].required = false
        groups[1].required = false
        var driver = Driver(groups)
        driver.bringUp("db", at: .seconds(1))
        driver.bringUp("api", at: .seconds(1))
        driver.report("db", .serviceDown("s"), at: .seconds(2))
        driver.report("db", .ended(.gaveUp(reason: "too many restarts")), at: .seconds(2))
        driver.report("api", .serviceDown("s"), at: .seconds(2))
        let end = driver.report("api", .ended(.stopped(killed: [])), at: .seconds(2))
        #expect(end.startedGroups.isEmpty)
        #expect(end.logLines.contains("group api binds to db, which is down for good; it stays down"))
    }

    @Test func aReloadThatChangesAGroupRestartsTheGroupsBoundToItStoppingThemFirst() {
        var driver = Driver(pair(binds: true))
        driver.bringUp("db", at: .seconds(1))
        driver.bringUp("api", at: .seconds(1))
        driver.send(.reloadRequested, at: .seconds(2))
        var changed = pair(binds: true)
        changed[1].restartDelay = .seconds(2)
        let apply = driver.send(.configLoaded(Fixture.config(changed)), at: .seconds(2))
        #expect(apply.stoppedGroups == ["api"], "db stops only once api, bound to it, has")
        #expect(apply.logLines.contains("reload: stopping group api (binds to db, which changes)"))
        #expect(driver.report("api", .ended(.stopped(killed: [])), at: .seconds(3)).stoppedGroups == ["db"])
        let restart = driver.report("db", .ended(.stopped(killed: [])), at: .seconds(4))
        #expect(restart.startedGroups == ["db"])
        #expect(restart.logLines.contains("reload: done; restarted db (changed); restarted api (binds to db, which changes)"))
        driver.bringUp("db", at: .seconds(5))
        #expect(driver.log.map(\.action).startedGroups == ["db", "api", "db", "api"])
    }

    @Test func aStopDuringAReloadThatHoldsAGroupBackStopsItToo() {
        var driver = Driver(pair(binds: true))
        driver.bringUp("db", at: .seconds(1))
        driver.bringUp("api", at: .seconds(1))
        driver.send(.reloadRequested, at: .seconds(2))
        var changed = pair(binds: true)
        changed[1].restartDelay = .seconds(2)
        #expect(driver.send(.configLoaded(Fixture.config(changed)), at: .seconds(2)).stoppedGroups == ["api"])
        #expect(driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(3)).stoppedGroups == ["db"])
        driver.report("api", .ended(.stopped(killed: [])), at: .seconds(4))
        #expect(driver.report("db", .ended(.stopped(killed: [])), at: .seconds(4)).contains(.exit(0)))
    }

    @Test func withoutOrderEveryGroupStopsAtOnceAsBefore() {
        var driver = Driver([Fixture.group("a"), Fixture.group("b")])
        driver.bringUp("a", at: .seconds(1))
        driver.bringUp("b", at: .seconds(1))
        #expect(driver.send(.stopRequested(reason: "received SIGTERM"), at: .seconds(2)).stoppedGroups == ["a", "b"])
    }

    @Test func bindsToDependentsAreFollowedDownAChainWithTheirReasons() {
        var a = Fixture.group("a")
        var b = Fixture.group("b")
        let c = Fixture.group("c")
        a.bindsTo = ["b"]
        b.bindsTo = ["c"]
        var after = Fixture.group("d")
        after.after = ["c"]
        let config = Fixture.config([a, b, c, after])
        #expect(config.bindsToDependents(of: ["c"]) == ["b": "binds to c, which changes", "a": "binds to b, which restarts"])
        #expect(config.bindsToDependents(of: ["a"]).isEmpty)
    }
}
