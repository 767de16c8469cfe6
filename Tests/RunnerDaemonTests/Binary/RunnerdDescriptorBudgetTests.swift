import Glibc
@testable import RunnerDaemon
import RunnerdConfig
import RunnerdTestSupport
import Testing

/// A config that needs more open files than runnerd may have is refused at load with what to
/// do, instead of started and left flapping on "Too many open files".
@Suite("Descriptor budget")
struct RunnerdDescriptorBudgetTests {
    private func config(services: Int) -> String {
        "groups:\n" + (0..<services).map { "  g\($0): { services: { s: { command: [sleep, \"1000\"] } } }" }.joined(separator: "\n") + "\n"
    }

    @Test func theBudgetCountsPipesCgroupsNotifySocketsAndProbes() {
        let plain = Fixture.service("a")
        var notify = Fixture.service("b")
        notify.ready = ReadyProbe(check: .notify)
        var probed = Fixture.service("c")
        probed.ready = ReadyProbe(check: .tcp(host: "127.0.0.1", port: 80))
        var group = Fixture.group("g")
        group.services = [plain, notify, probed]
        let config = Fixture.config([group])
        #expect(DescriptorBudget.needed(for: config) == DescriptorBudget.fixed + 3 + 5 + 4)
        #expect(DescriptorBudget.problem(with: config, available: 1024) == nil)
        let problem = DescriptorBudget.problem(with: config, available: 100)
        #expect(problem?.description == "runnerd.yaml: 3 services need up to 140 open files, and runnerd may open at most 100 (its hard RLIMIT_NOFILE); raise it, e.g. LimitNOFILE=65536 in a drop-in (systemctl edit runnerd), or `ulimit -Hn` where runnerd is started by hand, or run fewer services")
    }

    @Test func aConfigBeyondTheHardLimitIsRefusedWithExit78AndNothingStarts() async throws {
        let path = temporaryConfig(config(services: 100))
        let daemon = try RunnerdProcess(["run", "--config", path], launcher: ["/usr/bin/prlimit", "--nofile=256:256", "--"])
        #expect(try await daemon.waitForExit() == 78)
        #expect(daemon.output.contains("\(path): 100 services need up to 428 open files, and runnerd may open at most 256"), "\(daemon.output)")
        #expect(daemon.childPIDs.isEmpty)
        #expect(!daemon.output.contains("started (pid"))
    }

    @Test func theSameConfigRunsWhenTheLimitAllowsIt() async throws {
        let path = temporaryConfig(config(services: 100))
        let daemon = try RunnerdProcess(["run", "--config", path], launcher: ["/usr/bin/prlimit", "--nofile=1024:1024", "--"])
        _ = try await daemon.waitForLines(containing: "started (pid", count: 100)
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }
}
