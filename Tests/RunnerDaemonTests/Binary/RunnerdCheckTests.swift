import Glibc
import RunnerdTestSupport
import Testing

/// `runnerd check` and `runnerd run` on every bad config of the loader's table: each prints
/// exactly the loader's messages and exits 78, and nothing is started.
@Suite("runnerd check")
struct RunnerdCheckTests {
    @Test(arguments: ConfigErrorCase.table)
    func aBadConfigPrintsItsExactMessagesAndExits78(_ bad: ConfigErrorCase) async throws {
        let path = temporaryConfig(bad.yaml)
        defer { unlink(path) }
        let check = try RunnerdProcess(["check", "--config", path], environment: ConfigFixture.environment)
        #expect(try await check.waitForExit() == 78)
        let expected = bad.expected.map { message in
            message.hasPrefix("runnerd.yaml") ? path + message.dropFirst("runnerd.yaml".count) : message
        }
        #expect(check.lines == expected)
    }

    @Test func aGoodConfigIsSummarisedAndExits0() async throws {
        let path = temporaryConfig("""
            groups:
              web:
                services:
                  api: { command: [sleep, "1000"], ready: { tcp: "127.0.0.1:8080" } }
            """)
        defer { unlink(path) }
        let check = try RunnerdProcess(["check", "--config", path])
        #expect(try await check.waitForExit() == 0)
        #expect(check.output.hasPrefix("\(path): 1 group, 1 service\n"), "\(check.output)")
        #expect(check.output.contains("ready tcp 127.0.0.1:8080 within 1m"))
    }
}
