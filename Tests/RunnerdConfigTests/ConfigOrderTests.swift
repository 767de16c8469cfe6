import Testing
import RunnerdConfig
import RunnerdTestSupport

/// `after:`, `binds-to:` and `type: oneshot` as loaded, the start plan `runnerd check` prints,
/// and the pure order helpers. (Their errors are in `ConfigErrorCase.table`.)
@Suite("Config: order")
struct ConfigOrderTests {
    @Test func theSummaryPrintsTheStartPlanAsNumberedWaves() throws {
        let yaml = """
            groups:
              web:
                binds-to: [db]
                after: [cache]
                services:
                  worker: { command: [tool], after: [api] }
                  api: { command: [tool], after: [migrate, config] }
                  migrate: { command: [tool], type: oneshot, timeout: 2m }
                  config: { command: [tool], type: oneshot }
              db: { services: { postgres: { command: [tool] } } }
              cache: { after: [db], services: { redis: { command: [tool] } } }

            """
        let config = try ConfigLoader.parse(yaml: yaml, path: "a.yaml", environment: ConfigFixture.environment)
        let bin = ConfigFixture.bin
        #expect(ConfigSummary(config).lines == [
            "a.yaml: 3 groups, 6 services",
            "group web (required; restart on-failure, 1s doubling to 30s, at most 5 restarts in 5m; group stop limit 15s; after cache; binds to db)",
            "  worker   \(bin)/tool  (after api; stop SIGTERM, kill after 10s)",
            "  api      \(bin)/tool  (after migrate, config; stop SIGTERM, kill after 10s)",
            "  migrate  \(bin)/tool  (oneshot, must finish within 2m; stop SIGTERM, kill after 10s)",
            "  config   \(bin)/tool  (oneshot, must finish within 5m; stop SIGTERM, kill after 10s)",
            "  start order: 1. migrate, config  2. api  3. worker",
            "group db (required; restart on-failure, 1s doubling to 30s, at most 5 restarts in 5m; group stop limit 15s)",
            "  postgres  \(bin)/tool  (stop SIGTERM, kill after 10s)",
            "group cache (required; restart on-failure, 1s doubling to 30s, at most 5 restarts in 5m; group stop limit 15s; after db)",
            "  redis  \(bin)/tool  (stop SIGTERM, kill after 10s)",
            "groups start in order: 1. db  2. cache  3. web",
        ])
        #expect(config.groups[0].services[2].type == .oneshot)
        #expect(config.groups[0].services[3].timeout == .seconds(300))
        #expect(config.groups[0].startsInOrder)
        #expect(!config.groups[1].startsInOrder)
    }

    @Test func wavesPutEachNameOneAfterItsLatestDependency() {
        let order = DependencyOrder(names: ["a", "b", "c", "d"], dependencies: ["b": ["a"], "c": ["a", "b"], "d": []])
        #expect(order.waves == [["a", "d"], ["b"], ["c"]])
        #expect(order.cycles.isEmpty)
        #expect(order.dependents == ["a": ["b", "c"], "b": ["c"]])
    }

    @Test func cyclesAreFoundOnceEachAndLeftOutOfTheWaves() {
        let order = DependencyOrder(names: ["a", "b", "c", "x", "y"], dependencies: ["a": ["b"], "b": ["c"], "c": ["a"], "x": ["x"], "y": ["a"]])
        #expect(order.cycles == [["a", "b", "c"], ["x"]])
        #expect(order.waves == [])
    }

    @Test func aLongChainIsWalkedWithoutRecursion() {
        let names = (0..<100_000).map { "s\($0)" }
        var dependencies: [String: [String]] = [:]
        for index in 1..<names.count { dependencies[names[index]] = [names[index - 1]] }
        dependencies["s0"] = ["s99999"]
        #expect(DependencyOrder(names: names, dependencies: dependencies).cycles.first?.count == 100_000)
    }
}
