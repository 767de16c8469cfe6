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
            let located = message.hasPrefix("runnerd.yaml") ? path + message.dropFirst("runnerd.yaml".count) : message
            // A cycle names the file again beside each name on it.
            return String(located.replacing("(runnerd.yaml:", with: "(\(path):"))
        }
        #expect(check.lines == expected)
    }

    /// `/dev/zero` once grew runnerd past 8 GB, and a FIFO blocked it forever: both are refused
    /// at once, naming the path, with exit 78.
    @Test func aDeviceOrAFIFOAsTheConfigIsRefusedPromptlyWithExit78() async throws {
        let fifo = "\(ConfigFixture.directory)/fifo.yaml"
        unlink(fifo)
        #expect(mkfifo(fifo, 0o644) == 0)
        defer { unlink(fifo) }
        for (path, kind) in [("/dev/zero", "a character device"), (fifo, "a FIFO")] {
            let start = ContinuousClock.now
            let check = try RunnerdProcess(["check", "--config", path], environment: ConfigFixture.environment)
            #expect(try await check.waitForExit(timeout: .seconds(5)) == 78)
            #expect(ContinuousClock.now - start < .seconds(3))
            #expect(check.lines == ["\(path): cannot read: it is \(kind), not a regular file; pass --config PATH with a regular file"])
        }
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
