import Glibc
import Systemd
import Testing

/// A LogQueue in front of the real JournalLogHandler (libsystemd's `sd_journal_sendv`) when
/// journald stops reading: the fixture program binds the journal socket in a private mount
/// namespace and receives nothing until it has logged 2,000 lines, so libsystemd's `sendmsg`
/// blocks as it does on a SIGSTOPped journald.
@Suite(.enabled(if: getuid() == 0 && access("/usr/bin/unshare", X_OK) == 0, "needs root and unshare(1) for a private mount namespace"))
struct LogQueueJournalTests {
    typealias Field = NativeJournalProtocol.Field

    @Test func callsDoNotWaitForAStalledJournaldAndTheDropsAreReportedOnceItReads() throws {
        let result = try ChildProcess.run(
            "/usr/bin/unshare",
            [
                "--mount", "--propagation", "private", "/bin/sh", "-c",
                "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && exec \"$0\" stalled-journal",
                ChildProcess.helperPath,
            ],
            environment: ["PATH=/usr/bin:/bin"])
        try #require(result.status == 0, "the fixture exited \(result.status): \(result.lines)")
        func value(_ key: String) throws -> String {
            let line = try #require(result.lines.first { $0.hasPrefix(key + " ") }, "no \(key) in \(result.lines)")
            return String(line.dropFirst(key.count + 1))
        }
        let callsNanoseconds = try #require(Int(try value("calls-ns")))
        let dropped = try #require(Int(try value("dropped")))
        let kept = try #require(Int(try value("kept")))

        #expect(callsNanoseconds < 2_000_000_000, "2,000 log calls took \(callsNanoseconds) ns against a stalled journald")
        #expect(try value("flushed-while-stalled") == "false")
        #expect(dropped > 0 && kept + dropped == 2000, "kept \(kept), dropped \(dropped)")
        let others = try result.lines.filter { $0.hasPrefix("other ") }.map {
            try NativeJournalProtocol.decode(Hex.decode($0.dropFirst("other ".count)))
        }
        // Exactly one entry besides the lines: the report, as a warning, through the same handler.
        try #require(others.count == 1, "\(others)")
        let report = others[0]
        #expect(report.first == Field(name: "MESSAGE", value: Array("dropped \(dropped) log lines while journald was not reading".utf8), binary: false))
        #expect(report.contains(Field(name: "PRIORITY", value: Array("4".utf8), binary: false)))
        #expect(report.contains(Field(name: "SYSLOG_IDENTIFIER", value: Array("fixture".utf8), binary: false)))
        #expect(report.contains(Field(name: "SWIFT_LOG_LABEL", value: Array("fixture.stall".utf8), binary: false)))
    }
}
