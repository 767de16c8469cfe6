@testable import RunnerDaemon
import RunnerdConfig
import Testing

/// The plan of a reload: which groups start, stop, restart or stay, and which keys say why.
@Suite("ReloadPlan")
struct ReloadPlanTests {
    @Test func changedKeysAreNamedAsTheFileSpellsThem() {
        let old = Fixture.group("web", services: ["api", "worker"])
        var new = old
        new.restartDelay = .seconds(5)
        new.services[0].interruptTimeout = .seconds(30)
        new.services[0].command = ["/bin/api", "--port", "81"]
        new.services.remove(at: 1)
        new.services.append(Fixture.service("cron"))
        #expect(ReloadPlan.changes(from: old, to: new) == [
            "restart-delay", "services.api.command", "services.api.interrupt-timeout", "services.cron (added)", "services.worker (removed)",
        ])
        #expect(ReloadPlan.changes(from: old, to: old).isEmpty)
    }

    @Test func groupsStoppedByRequestStayStoppedInThePlan() throws {
        let current = Fixture.config([Fixture.group("web"), Fixture.group("db")])
        var changedDB = Fixture.group("db")
        changedDB.required = false
        let plan = ReloadPlan(from: current, to: Fixture.config([Fixture.group("web"), changedDB]), stoppedByRequest: ["db"])
        #expect(plan.steps == [
            .init(group: "web", action: .keep, reason: "unchanged"),
            .init(group: "db", action: .stayStopped, reason: "stopped by request; changed: required"),
        ])
        #expect(try ReloadPlan(json: plan.json) == plan)
    }
}
