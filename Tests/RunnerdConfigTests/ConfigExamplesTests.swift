import Testing
import RunnerdConfig
import RunnerdTestSupport

@Suite("Config: the shipped examples load")
struct ConfigExamplesTests {
    /// `examples/` at the package root, found from this file's path
    /// (`<root>/Tests/RunnerdConfigTests/ConfigExamplesTests.swift`).
    static let examples: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)
        return components.joined(separator: "/") + "/examples"
    }()

    /// The examples name `sh` and `python3` bare, as an operator would, so they are found in the
    /// standard directories rather than in whatever PATH the test runner has.
    static let environment = ["PATH": "/usr/local/bin:/usr/bin:/bin"]

    @Test func demoLoadsWithAWebGroupAndAFlakyGroup() throws {
        let config = try ConfigLoader.load(path: "\(Self.examples)/demo.yaml", environment: Self.environment)
        #expect(config.groups.map(\.name) == ["web", "flaky"])
        #expect(config.groups[0].services.map(\.name) == ["http", "ticker"])
        #expect(config.groups[0].services[0].command.first == "python3")
        #expect(config.groups[0].services.allSatisfy { $0.ready == nil })
        let flaky = config.groups[1]
        #expect(flaky.required == false)
        #expect(flaky.restart == .onFailure)
        #expect(flaky.maxRestarts >= 10)
        #expect(flaky.restartDelay < flaky.restartDelayMax)
    }

    @Test func packagedConfigLoadsWithOneHarmlessService() throws {
        let config = try ConfigLoader.load(path: "\(Self.examples)/runnerd.yaml", environment: Self.environment)
        #expect(config.groups.count == 1)
        #expect(config.groups[0].services.count == 1)
        #expect(config.groups[0].services[0].executable.hasSuffix("/sh"))
        #expect(config.groups[0].services[0].credentials == nil)
    }

    @Test func packagedConfigShowsEveryKeyAtItsDefault() throws {
        let text = try #require(ConfigFixture.read("\(Self.examples)/runnerd.yaml"))
        let expectedLines = [
            "#  interrupt-timeout: 10s", "#  group-interrupt-timeout: 15s", "#restart: on-failure", "#restart-delay: 1s",
            "#restart-delay-max: 30s", "#max-restarts: 5", "#restart-window: 5m", "#required: true",
            "#group-interrupt-timeout: 15s", "#environment:", "#environment-files:", "#working-directory:", "#user:",
            "#group:", "#stop-signal: SIGTERM", "#interrupt-timeout: 10s", "#ready:", "#health:", "#watchdog:",
        ]
        for line in expectedLines {
            #expect(text.contains(line), "examples/runnerd.yaml does not show \(line)")
        }
    }
}
