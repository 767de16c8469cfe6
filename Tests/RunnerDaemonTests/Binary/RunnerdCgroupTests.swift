@testable import RunnerDaemon
import Glibc
import RunnerdTestSupport
import Testing

/// Outside a delegated cgroup (these tests run outside systemd), a config with limits is refused
/// by `runnerd run` with 78, naming the first limit, so that a limit is never silently absent;
/// `runnerd check` warns and passes.
@Suite("runnerd without a delegated cgroup")
struct RunnerdCgroupTests {
    private static let limited = """
        groups:
          plain:
            services:
              idle: { command: [sleep, "1000"] }
          web:
            services:
              api:
                command: [sleep, "1000"]
                tasks-max: 20
                memory-max: 256M

        """

    private static var delegated: Bool {
        if case .delegated = CgroupTree.detect() { return true }
        return false
    }

    @Test(.enabled(if: !delegated, "runs only outside a delegated cgroup"))
    func runRefusesAConfigWithLimitsWith78NamingTheFirstLimit() async throws {
        let path = temporaryConfig(Self.limited)
        defer { unlink(path) }
        let run = try RunnerdProcess(["run", "--config", path])
        #expect(try await run.waitForExit(timeout: .seconds(10)) == 78)
        #expect(run.output.contains("\(path):9:9: groups.web.services.api.tasks-max: no delegated cgroup; run under the shipped unit (runnerd.service has Delegate=yes), or remove the limit"), "\(run.output)")
        #expect(!run.output.contains("service idle started"), "nothing may start: \(run.output)")
        #expect(run.output.contains("nothing started"), "\(run.output)")
    }

    @Test(.enabled(if: !delegated, "runs only outside a delegated cgroup"))
    func checkWarnsAboutLimitsButPasses() async throws {
        let path = temporaryConfig(Self.limited)
        defer { unlink(path) }
        let check = try RunnerdProcess(["check", "--config", path])
        #expect(try await check.waitForExit(timeout: .seconds(10)) == 0)
        #expect(check.output.contains("warning: \(path):9:9: groups.web.services.api.tasks-max: no delegated cgroup; run under the shipped unit"), "\(check.output)")
    }

    @Test(.enabled(if: !delegated, "runs only outside a delegated cgroup"))
    func aConfigWithoutLimitsRunsAsBeforeOnTheProcessGroupPath() async throws {
        let path = temporaryConfig("""
            groups:
              plain:
                services:
                  idle: { command: [sleep, "1000"] }

            """)
        defer { unlink(path) }
        let run = try RunnerdProcess(["run", "--config", path])
        _ = try await run.waitForLine(containing: "service idle started")
        #expect(!run.output.contains("cgroup"), "\(run.output)")
        run.signal(SIGTERM)
        #expect(try await run.waitForExit(timeout: .seconds(10)) == 0)
    }
}
