import Glibc
import Systemd
import Testing

/// End to end through libsystemd's sd_journal_sendv: the fixture program runs in a private mount
/// namespace with a tmpfs on /run, binds /run/systemd/journal/socket there, logs a fixed scenario
/// and prints each datagram it received in hex; the test decodes the native protocol.
@Suite(.enabled(if: getuid() == 0 && access("/usr/bin/unshare", X_OK) == 0, "needs root and unshare(1) for a private mount namespace"))
struct JournalLogHandlerTests {
    typealias Field = NativeJournalProtocol.Field

    /// The scenario's steps, each with the decoded entries it produced. Run once per test run.
    static let scenario: Result<[String: [[Field]]], any Error> = Result {
        let result = try ChildProcess.run(
            "/usr/bin/unshare",
            [
                "--mount", "--propagation", "private", "/bin/sh", "-c",
                "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && exec \"$0\" journal",
                ChildProcess.helperPath,
            ],
            environment: ["PATH=/usr/bin:/bin"])
        guard result.status == 0 else {
            throw NativeJournalProtocol.Failure(description: "journal fixture exited \(result.status): \(result.lines)")
        }
        var steps: [String: [[Field]]] = [:]
        var current = ""
        for line in result.lines {
            if line.hasPrefix("case ") {
                current = String(line.dropFirst("case ".count))
                steps[current] = []
            } else if line.hasPrefix("datagram ") {
                steps[current, default: []].append(try NativeJournalProtocol.decode(Hex.decode(line.dropFirst("datagram ".count))))
            }
        }
        return steps
    }

    static func entry(_ step: String) throws -> [Field] {
        let steps = try scenario.get()
        let entries = try #require(steps[step], "no step \(step) in \(steps.keys.sorted())")
        try #require(entries.count == 1, "step \(step) sent \(entries.count) datagrams")
        return entries[0]
    }

    static func text(_ name: String, _ value: String) -> Field {
        Field(name: name, value: Array(value.utf8), binary: false)
    }

    @Test(arguments: [("trace", "7"), ("debug", "7"), ("info", "6"), ("notice", "5"), ("warning", "4"), ("error", "3"), ("critical", "2")])
    func eachLevelIsOneEntryWithItsPriority(level: String, priority: String) throws {
        let fields = try Self.entry("level-\(level)")
        #expect(fields.map(\.name) == ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "SWIFT_LOG_LABEL"])
        #expect(fields[0] == Self.text("MESSAGE", "at \(level)"))
        #expect(fields[1] == Self.text("PRIORITY", priority))
        #expect(fields[2] == Self.text("SYSLOG_IDENTIFIER", "fixture"))
        #expect(fields[3] == Self.text("CODE_FILE", "SystemdTestHelper/main.swift"))
        #expect(Int(fields[4].text) != nil)
        #expect(fields[5] == Self.text("CODE_FUNC", "journal()"))
        #expect(fields[6] == Self.text("SWIFT_LOG_LABEL", "fixture.label"))
    }

    @Test func carriesTheCallSite() throws {
        #expect(try Self.entry("location") == [
            Self.text("MESSAGE", "located"),
            Self.text("PRIORITY", "6"),
            Self.text("SYSLOG_IDENTIFIER", "fixture"),
            Self.text("CODE_FILE", "Fixture/Where.swift"),
            Self.text("CODE_LINE", "42"),
            Self.text("CODE_FUNC", "place(_:)"),
            Self.text("SWIFT_LOG_LABEL", "fixture.label"),
        ])
    }

    @Test func aMultiLineMessageIsOneEntryInTheBinaryForm() throws {
        let fields = try Self.entry("multiline")
        #expect(fields[0] == Field(name: "MESSAGE", value: Array("first line\nsecond line\n\nfourth line".utf8), binary: true))
        #expect(fields[1] == Self.text("PRIORITY", "6"))
        #expect(fields.filter { $0.name == "MESSAGE" }.count == 1)
    }

    @Test func metadataBecomesSanitisedUpperCaseFields() throws {
        let fields = try Self.entry("metadata")
        #expect(Array(fields.dropFirst(7)) == [
            Self.text("FIELD_2FA", "on"),
            Self.text("PRIVATE", "p"),
            Self.text("CAF_", "crème"),
            Self.text("HANDLER_KEY", "from handler"),
            Self.text("METADATA_MESSAGE", "shadow"),
            Field(name: "MULTI", value: Array("a\nb".utf8), binary: true),
            Self.text("REQUEST_ID", "42"),
        ])
        #expect(fields[0] == Self.text("MESSAGE", "with metadata"))
    }

    @Test func sendWritesTheGivenFieldsInOrder() throws {
        #expect(try Self.entry("send-fields") == [
            Self.text("MESSAGE", "child line"),
            Self.text("SYSLOG_IDENTIFIER", "api"),
            Self.text("RUNNERD_GROUP", "web"),
            Self.text("PRIORITY", "3"),
        ])
    }

    @Test func sendPassesRawBytesThrough() throws {
        let fields = try Self.entry("send-bytes")
        #expect(fields[0] == Field(name: "MESSAGE", value: [0x66, 0xFF, 0x00, 0x67], binary: false))
        #expect(fields[1] == Self.text("PRIORITY", "5"))
    }

    @Test(arguments: ["fields", "bytes", "multiline"])
    func aConnectionSendsTheBytesLibsystemdSends(entry: String) throws {
        let steps = try Self.scenario.get()
        let libsystemd = try #require(steps["libsystemd-\(entry)"])
        #expect(libsystemd.count == 1)
        #expect(steps["connected-\(entry)"] == libsystemd)
    }

    @Test func aMultiLineValueGoesInTheBinaryFormOverAConnectionToo() throws {
        let fields = try Self.entry("connected-multiline")
        #expect(fields.first == Field(name: "MESSAGE", value: Array("first\nsecond\n".utf8), binary: true))
    }

    @Test func aConnectionFollowsJournaldToANewSocketAndDropsEntriesWhenThereIsNone() throws {
        #expect(try Self.entry("connected-after-replacement") == [
            Self.text("MESSAGE", "after a new socket"), Self.text("SYSLOG_IDENTIFIER", "SystemdTestHelper"),
        ])
        // The step did not throw (the fixture fails on a throw) and nothing was received.
        #expect(try Self.scenario.get()["connected-without-journald"] == [])
    }

    @Test func libsystemdAddsTheProgramNameWhenNoIdentifierIsGiven() throws {
        #expect(try Self.entry("default-identifier") == [
            Self.text("MESSAGE", "no identifier given"),
            Self.text("SYSLOG_IDENTIFIER", "SystemdTestHelper"),
        ])
    }
}
