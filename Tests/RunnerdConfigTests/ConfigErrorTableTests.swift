import Testing
import RunnerdConfig
import RunnerdTestSupport

@Suite("Config: every bad config gets its exact message")
struct ConfigErrorTableTests {
    @Test(arguments: ConfigErrorCase.table)
    func badConfigIsRejectedWithItsExactMessages(_ bad: ConfigErrorCase) {
        #expect(ConfigFixture.errors(bad.yaml) == bad.expected)
    }

    @Test func tableCoversAtLeastThirtyBadConfigs() {
        #expect(ConfigErrorCase.table.count >= 30)
    }

    @Test func missingFileSaysHowToFixIt() {
        let missing = "\(ConfigFixture.directory)/no-such-runnerd.yaml"
        #expect(throws: ConfigErrors([
            ConfigError(
                file: missing, line: 0, column: 0, keyPath: "",
                message: "cannot read: No such file or directory; pass --config PATH or create it"
            )
        ])) {
            try ConfigLoader.load(path: missing, environment: ConfigFixture.environment)
        }
        do {
            _ = try ConfigLoader.load(path: missing, environment: ConfigFixture.environment)
        } catch {
            #expect(error.description == "\(missing): cannot read: No such file or directory; pass --config PATH or create it")
        }
    }

    /// Not a regular file: refused without reading, and without blocking on a FIFO that has no
    /// writer (this test would hang otherwise).
    @Test(arguments: [
        ("/dev/zero", "it is a character device, not a regular file; pass --config PATH with a regular file"),
        ("\(ConfigFixture.directory)/env/fifo", "it is a FIFO, not a regular file; pass --config PATH with a regular file"),
        ("\(ConfigFixture.directory)/env", "Is a directory; pass --config PATH with a readable file"),
    ])
    func aConfigThatIsNotARegularFileIsRefusedNamingIt(_ path: String, _ reason: String) {
        #expect(throws: ConfigErrors([ConfigError(file: path, line: 0, column: 0, keyPath: "", message: "cannot read: \(reason)")])) {
            try ConfigLoader.load(path: path, environment: ConfigFixture.environment)
        }
    }

    @Test func aConfigPastFourMiBIsRefused() {
        let path = "\(ConfigFixture.directory)/large.yaml"
        let comment = Array("# padding\n".utf8)
        ConfigFixture.write(path, bytes: Array(Array(repeating: comment, count: (4 << 20) / comment.count + 1).joined()), mode: 0o644)
        #expect(throws: ConfigErrors([
            ConfigError(file: path, line: 0, column: 0, keyPath: "", message: "cannot read: it is larger than 4 MiB; that is the limit for a config file; pass --config PATH with a smaller one")
        ])) {
            try ConfigLoader.load(path: path, environment: ConfigFixture.environment)
        }
    }

    @Test func fileThatIsNotUTF8IsRejected() {
        let path = "\(ConfigFixture.directory)/latin1.yaml"
        // "café" in Latin-1: 0xE9 alone is not UTF-8.
        ConfigFixture.write(path, bytes: Array("groups: {}\n# caf".utf8) + [0xE9, 0x0A], mode: 0o644)
        #expect(throws: ConfigErrors([
            ConfigError(file: path, line: 0, column: 0, keyPath: "", message: "is not UTF-8 text; save it as UTF-8")
        ])) {
            try ConfigLoader.load(path: path, environment: ConfigFixture.environment)
        }
    }
}
