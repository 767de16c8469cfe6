@testable import RunnerDaemon
import Runner
import RunnerdConfig
import Testing

/// Where services' cgroups go and which controllers each level enables, for a config: pure
/// functions, no cgroupfs.
@Suite("CgroupLayout")
struct CgroupLayoutTests {
    private func service(_ name: String, _ limits: ResourceLimits = ResourceLimits()) -> ServiceConfig {
        var service = Fixture.service(name)
        service.limits = limits
        return service
    }

    private func limits(memoryMax: UInt64? = nil, tasksMax: UInt64? = nil, cpuWeight: Int? = nil, at line: Int = 7, key: String = "memory-max") -> ResourceLimits {
        var limits = ResourceLimits()
        limits.memoryMax = memoryMax.map { .value($0) }
        limits.tasksMax = tasksMax.map { .value($0) }
        limits.cpuWeight = cpuWeight
        limits.origins[key] = ResourceLimits.Origin(keyPath: "groups.web.services.api.\(key)", line: line, column: 9)
        return limits
    }

    private let all: Set<String> = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]

    @Test func aServiceLivesInGroupSlashServiceBesideTheDaemonsOwnLeaf() {
        #expect(CgroupLayout.servicePath(group: "web", service: "api") == "web/api")
        // Group names cannot start with a dot (the loader refuses them), so the leaf never collides.
        #expect(CgroupLayout.supervisorLeaf == ".supervisor")
    }

    @Test func controllersAreEnabledOnlyAsTheLimitsNeedThemPlusMemoryForAccounting() {
        let web = GroupConfig(
            name: "web", restart: .onFailure, restartDelay: .seconds(1), restartDelayMax: .seconds(8), maxRestarts: 5,
            restartWindow: .seconds(300), required: true, groupInterruptTimeout: .seconds(3),
            services: [service("api", limits(tasksMax: 20)), service("worker", limits(cpuWeight: 50, key: "cpu-weight"))]
        )
        let batch = Fixture.group("batch")
        #expect(CgroupLayout.controllers(for: web, available: all) == ["cpu", "memory", "pids"])
        #expect(CgroupLayout.controllers(for: batch, available: all) == ["memory"])
        #expect(CgroupLayout.controllers(for: Fixture.config([web, batch]), available: all) == ["cpu", "memory", "pids"])
        // Only what the kernel offers: memory accounting is left out where memory is not available.
        #expect(CgroupLayout.controllers(for: batch, available: ["cpu", "pids"]) == [])
        #expect(CgroupLayout.controllers(for: web, available: ["cpu", "pids"]) == ["cpu", "pids"])
    }

    @Test func theFirstLimitWhoseControllerIsMissingIsNamed() throws {
        var both = limits(memoryMax: 32 << 20, at: 9)
        both.tasksMax = .value(20)
        both.origins["tasks-max"] = ResourceLimits.Origin(keyPath: "groups.web.services.api.tasks-max", line: 8, column: 9)
        let config = Fixture.config([Fixture.group("plain"), GroupConfig(
            name: "web", restart: .onFailure, restartDelay: .seconds(1), restartDelayMax: .seconds(8), maxRestarts: 5,
            restartWindow: .seconds(300), required: true, groupInterruptTimeout: .seconds(3), services: [service("api", both)]
        )])
        let missingPids = try #require(CgroupLayout.firstUnavailable(in: config, available: ["memory"]))
        #expect(missingPids.controller == "pids")
        #expect(missingPids.origin.keyPath == "groups.web.services.api.tasks-max")
        #expect(CgroupLayout.firstUnavailable(in: config, available: ["memory", "pids"]) == nil)

        let tree = CgroupTree(path: "/sys/fs/cgroup/system.slice/runnerd.service", cgroupPath: "/system.slice/runnerd.service", available: ["hugetlb"])
        #expect(tree.problem(with: config)?.description == "runnerd.yaml:8:9: groups.web.services.api.tasks-max: needs the pids controller, which runnerd's cgroup /system.slice/runnerd.service does not have (it has: hugetlb); enable it for the unit, or remove the limit")
        #expect(tree.problem(with: Fixture.config([Fixture.group("plain")])) == nil)
    }

    @Test func withoutADelegatedCgroupTheFirstLimitInTheFileIsRefused() {
        var first = limits(memoryMax: 32 << 20, at: 9)
        first.tasksMax = .value(20)
        first.origins["tasks-max"] = ResourceLimits.Origin(keyPath: "groups.web.services.api.tasks-max", line: 8, column: 9)
        var web = Fixture.group("web", services: ["api"])
        web.services[0].limits = first
        #expect(CgroupTree.refusal(of: Fixture.config([Fixture.group("plain"), web]))?.description == "runnerd.yaml:8:9: groups.web.services.api.tasks-max: no delegated cgroup; run under the shipped unit (runnerd.service has Delegate=yes), or remove the limit")
        #expect(CgroupTree.refusal(of: Fixture.config([Fixture.group("plain")])) == nil)
    }

    @Test func cgroupFilesAreReadByKey() {
        let events = "populated 1\nfrozen 0\n"
        #expect(CgroupFile.value("populated", in: events) == 1)
        #expect(CgroupFile.value("frozen", in: events) == 0)
        #expect(CgroupFile.value("oom_kill", in: "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n") == 1)
        #expect(CgroupFile.value("usage_usec", in: "usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n") == 1234)
        #expect(CgroupFile.value("missing", in: events) == nil)
    }

    @Test func anOOMKillReadsAsTheIssueWordsIt() {
        #expect(ServiceFailure.oomKilled(memoryMax: "256M").description == "was killed by the OOM killer (memory-max 256M)")
        #expect(ServiceFailure.oomKilled(memoryMax: nil).description == "was killed by the OOM killer")
        #expect(Supervisor.serviceResult(.init(runnerID: "api", error: ServiceFailure.oomKilled(memoryMax: "32M"))).kind == .failed)
    }
}
