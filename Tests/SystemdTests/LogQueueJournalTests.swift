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
        #expect(callsNanoseconds < 2_000_000_000, "2,000 log calls took \(callsNanoseconds) ns against a stalled journald")
        #expect(try value("flushed-while-stalled") == "false")
        #expect(dropped > 0)

        // What journald got, in order: lines, and where lines are missing one report of exactly
        // how many (the writer may have got a few through before it blocked, so there can be
        // several runs of drops, each reported where it ended).
        var next = 0
        var reported = 0
        for line in result.lines where line.hasPrefix("line ") || line.hasPrefix("other ") {
            if line.hasPrefix("line ") {
                #expect(line == "line \(next)", "expected line \(next) next")
                next = (Int(line.dropFirst("line ".count)) ?? next) + 1
                continue
            }
            let fields = try NativeJournalProtocol.decode(Hex.decode(line.dropFirst("other ".count)))
            let message = String(decoding: fields.first?.value ?? [], as: UTF8.self)
            let count = try #require(Int(message.dropFirst("dropped ".count).prefix { $0.isNumber }), "not a report: \(fields)")
            #expect(message == "dropped \(count) log line\(count == 1 ? "" : "s") while journald was not reading")
            #expect(fields.contains(Field(name: "PRIORITY", value: Array("4".utf8), binary: false)))
            #expect(fields.contains(Field(name: "SYSLOG_IDENTIFIER", value: Array("fixture".utf8), binary: false)))
            #expect(fields.contains(Field(name: "SWIFT_LOG_LABEL", value: Array("fixture.stall".utf8), binary: false)))
            next += count
            reported += count
        }
        #expect(next == 2000 && reported == dropped, "accounted for \(next) of 2,000 lines; reported \(reported) of \(dropped) drops")
    }
}
