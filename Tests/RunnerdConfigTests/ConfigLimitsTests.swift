import Testing
import RunnerdConfig
import RunnerdTestSupport

@Suite("Config: resource limits, as systemd reads MemoryMax=, CPUWeight=, CPUQuota=, TasksMax= and IOWeight=")
struct ConfigLimitsTests {
    func limits(_ lines: [String]) throws -> ResourceLimits {
        let config = try ConfigLoader.parse(yaml: ConfigErrorCase.serviceYAML(lines), path: "runnerd.yaml", environment: ConfigFixture.environment)
        return config.groups[0].services[0].limits
    }

    @Test(arguments: [
        ("256M", ResourceLimits.Amount.value(256 << 20)), ("1G", .value(1 << 30)), ("1.5G", .value(3 << 29)),
        ("1536K", .value(1536 << 10)), ("100", .value(100)), ("2T", .value(2 << 40)), ("infinity", .infinity),
        ("0.5M", .value(512 << 10)),
    ])
    func sizesAreReadInPowersOf1024(_ text: String, _ expected: ResourceLimits.Amount) throws {
        #expect(ResourceLimits.parseSize(text) == expected)
        #expect(try limits(["memory-max: \(text)"]).memoryMax == expected)
    }

    @Test(arguments: ["0", "0M", "", "M", "12Q", "-1M", "1.M", ".5M", "1e6", "256m", "1 G", "99999999999999999999", "16777216T"])
    func sizesThatAreNotSizesAreRejected(_ text: String) {
        #expect(ResourceLimits.parseSize(text) == nil)
    }

    @Test func sizesAreFormattedInTheLargestUnitThatDividesThem() {
        #expect(ResourceLimits.formatSize(256 << 20) == "256M")
        #expect(ResourceLimits.formatSize(1536 << 10) == "1536K")
        #expect(ResourceLimits.formatSize(1 << 30) == "1G")
        #expect(ResourceLimits.formatSize(1000) == "1000")
    }

    @Test func everyKeyIsReadAndWrittenToItsCgroupFile() throws {
        let read = try limits([
            "memory-max: 256M", "memory-high: 200M", "cpu-weight: 50", "cpu-max: 150%", "tasks-max: 20", "io-weight: 500",
        ])
        #expect(read.memoryMax == .value(256 << 20))
        #expect(read.memoryHigh == .value(200 << 20))
        #expect(read.cpuWeight == 50)
        #expect(read.cpuMaxPercent == 150)
        #expect(read.tasksMax == .value(20))
        #expect(read.ioWeight == 500)
        #expect(read.controllers == ["cpu", "io", "memory", "pids"])
        #expect(read.cgroupFiles.map { "\($0.file)=\($0.value)" } == [
            "memory.high=209715200", "memory.max=268435456", "cpu.weight=50", "cpu.max=150000 100000", "pids.max=20",
            "io.weight=default 500",
        ])
        #expect(read.origin == ResourceLimits.Origin(keyPath: "groups.web.services.api.memory-max", line: 6, column: 9))
    }

    @Test func infinityIsMaxInTheCgroupFile() throws {
        let read = try limits(["memory-max: infinity", "tasks-max: infinity"])
        #expect(read.cgroupFiles.map { "\($0.file)=\($0.value)" } == ["memory.max=max", "pids.max=max"])
    }

    @Test func aGroupsLimitsAreTheDefaultsOfItsServices() throws {
        let yaml = """
            groups:
              web:
                memory-max: 1G
                tasks-max: 100
                services:
                  api:
                    command: [tool]
                    memory-max: 256M
                  worker:
                    command: [tool]
              plain:
                services:
                  other:
                    command: [tool]

            """
        let config = try ConfigLoader.parse(yaml: yaml, path: "runnerd.yaml", environment: ConfigFixture.environment)
        let api = config.groups[0].services[0].limits
        let worker = config.groups[0].services[1].limits
        #expect(api.memoryMax == .value(256 << 20))
        #expect(api.tasksMax == .value(100))
        #expect(worker.memoryMax == .value(1 << 30))
        #expect(worker.tasksMax == .value(100))
        #expect(worker.origin == ResourceLimits.Origin(keyPath: "groups.web.memory-max", line: 3, column: 5))
        // api's own memory-max replaces the group's, so its first limit in the file is the group's tasks-max.
        #expect(api.origin == ResourceLimits.Origin(keyPath: "groups.web.tasks-max", line: 4, column: 5))
        #expect(api.origins["memory-max"] == ResourceLimits.Origin(keyPath: "groups.web.services.api.memory-max", line: 8, column: 9))
        #expect(config.groups[1].services[0].limits.isEmpty)
    }

    @Test func whereALimitIsWrittenDoesNotMakeItDifferent() throws {
        let one = try limits(["memory-max: 1G"])
        let moved = try limits(["stop-signal: SIGTERM", "memory-max: 1G"])
        #expect(one == moved)
        #expect(one.origin != moved.origin)
    }

    @Test(arguments: [
        ConfigErrorCase.service("a size with an unknown unit", ["memory-max: 32Q"], [
            #"runnerd.yaml:6:21: groups.web.services.api.memory-max: "32Q" is not valid; write a size in bytes, or with K, M, G or T (powers of 1024), e.g. 256M or 1.5G, or infinity"#,
        ]),
        ConfigErrorCase.service("a zero memory-high", ["memory-high: 0"], [
            #"runnerd.yaml:6:22: groups.web.services.api.memory-high: "0" is not valid; write a size in bytes, or with K, M, G or T (powers of 1024), e.g. 256M or 1.5G, or infinity"#,
        ]),
        ConfigErrorCase.service("a weight out of range", ["cpu-weight: 0", "io-weight: 10001"], [
            #"runnerd.yaml:6:21: groups.web.services.api.cpu-weight: "0" is not valid; write a weight from 1 to 10000 (100 is the default share)"#,
            #"runnerd.yaml:7:20: groups.web.services.api.io-weight: "10001" is not valid; write a weight from 1 to 10000 (100 is the default share)"#,
        ]),
        ConfigErrorCase.service("a quota without a percent sign", ["cpu-max: 0.5"], [
            #"runnerd.yaml:6:18: groups.web.services.api.cpu-max: "0.5" is not valid; write a quota in percent of one CPU, e.g. 50% (200% is two CPUs)"#,
        ]),
        ConfigErrorCase.service("a task limit of 0", ["tasks-max: 0"], [
            #"runnerd.yaml:6:20: groups.web.services.api.tasks-max: "0" is not valid; write a number of processes and threads of at least 1, e.g. 512, or infinity"#,
        ]),
        ConfigErrorCase.service("a limit as a list", ["tasks-max: [1]"], [
            #"runnerd.yaml:6:20: groups.web.services.api.tasks-max: is a list; write a number of processes and threads of at least 1, e.g. 512, or infinity"#,
        ]),
        ConfigErrorCase.service("memory-high above memory-max", ["memory-max: 64M", "memory-high: 128M"], [
            #"runnerd.yaml:7:22: groups.web.services.api.memory-high: 128M is above memory-max 64M, so it would never throttle; make it lower or remove it"#,
        ]),
        ConfigErrorCase.group("a group's bad default", ["cpu-max: 50"], [
            #"runnerd.yaml:6:14: groups.web.cpu-max: "50" is not valid; write a quota in percent of one CPU, e.g. 50% (200% is two CPUs)"#,
        ]),
    ])
    func badLimitsAreLocatedErrorsThatSayWhatToWrite(_ testCase: ConfigErrorCase) {
        #expect(ConfigFixture.errors(testCase.yaml) == testCase.expected)
    }
}
