import Glibc
@testable import RunnerDaemon
import RunnerdConfig
import RunnerdTestSupport
import Systemd
import Testing

/// A service's output as native journal entries, received on a socket standing in for journald's.
@Suite("LogWriter to the journal")
struct LogWriterJournalTests {
    /// The `NAME=value` fields of a datagram whose values have no newlines.
    private func fields(_ datagram: NotifyReceiver.Datagram) -> [String] {
        datagram.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    @Test func eachLineIsOneEntryNamingTheServiceAndGroupWithStderrMoreUrgent() async throws {
        let journald = try NotifyReceiver(.path)
        let writer = LogWriter(target: .journal, journal: JournalConnection(path: journald.address))
        let source = LogWriter.Source(group: "web", service: "api")
        for (line, stream) in [("listening on 8080", LogWriter.Stream.stdout), ("disk almost full", .stderr)] {
            let accepted = Array(line.utf8).withUnsafeBytes { writer.append($0, from: source, stream: stream, pid: 4242) }
            #expect(accepted)
        }
        let first = fields(try await journald.receiveAsync(timeout: .seconds(5)))
        let second = fields(try await journald.receiveAsync(timeout: .seconds(5)))
        let common = ["SYSLOG_IDENTIFIER=api", "RUNNERD_GROUP=web", "RUNNERD_SERVICE=web/api"]
        #expect(first == common + ["MESSAGE=listening on 8080", "PRIORITY=6", "SYSLOG_PID=4242"])
        #expect(second == common + ["MESSAGE=disk almost full", "PRIORITY=4", "SYSLOG_PID=4242"])
    }

    private func append(_ line: String, _ writer: LogWriter, _ source: LogWriter.Source, _ stream: LogWriter.Stream = .stdout) {
        _ = Array(line.utf8).withUnsafeBytes { writer.append($0, from: source, stream: stream, pid: 7) }
    }

    /// Reads entries until none comes for `quiet`; returns their MESSAGE and PRIORITY fields.
    private func drain(_ journald: NotifyReceiver, quiet: Duration = .milliseconds(300)) -> [(message: String, priority: String, identifier: String)] {
        var entries: [(String, String, String)] = []
        while let datagram = try? journald.receive(timeout: quiet) {
            let fields = self.fields(datagram)
            let value = { (name: String) in fields.first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) } ?? "" }
            entries.append((value("MESSAGE"), value("PRIORITY"), value("SYSLOG_IDENTIFIER")))
        }
        return entries
    }

    @Test func stderrPriorityAndLevelPrefixesSetEachLinesPriority() throws {
        let journald = try NotifyReceiver(.path)
        let writer = LogWriter(target: .journal, journal: JournalConnection(path: journald.address))
        let quiet = LogWriter.Source(group: "web", service: "access", stderrPriority: .info)
        append("GET / 200", writer, quiet, .stderr)
        append("<3>database unreachable", writer, quiet, .stdout)
        append("<9>not a priority", writer, quiet, .stdout)
        let literal = LogWriter.Source(group: "web", service: "raw", levelPrefix: false)
        append("<3>kept as written", writer, literal, .stdout)
        let entries = drain(journald)
        #expect(entries.map(\.message) == ["GET / 200", "database unreachable", "<9>not a priority", "<3>kept as written"])
        #expect(entries.map(\.priority) == ["6", "3", "6", "6"])
    }

    /// One service flooding past its share is cut, and says so; a quiet one beside it loses
    /// nothing.
    @Test func aFloodingServiceIsCutAtItsShareAndTheCountIsLoggedWhenItsWindowEnds() async throws {
        let journald = try NotifyReceiver(.path)
        let writer = LogWriter(target: .journal, journal: JournalConnection(path: journald.address))
        let flood = LogWriter.Source(group: "web", service: "api", rateLimit: LogRateLimit(burst: 5, interval: .milliseconds(400)))
        let quiet = LogWriter.Source(group: "web", service: "cron", rateLimit: LogRateLimit(burst: 5, interval: .milliseconds(400)))
        for index in 0..<100 {
            append("flood \(index)", writer, flood)
            if index % 25 == 0 { append("quiet \(index)", writer, quiet) }
        }
        let first = drain(journald)
        #expect(first.filter { $0.message.hasPrefix("flood") }.map(\.message) == (0..<5).map { "flood \($0)" })
        #expect(first.filter { $0.message.hasPrefix("quiet") }.map(\.message) == ["quiet 0", "quiet 25", "quiet 50", "quiet 75"])
        try await Task.sleep(for: .milliseconds(500))
        append("flood again", writer, flood)
        let second = drain(journald)
        #expect(second.map(\.message) == [
            "web/api: suppressed 95 lines in the last 1s (log-rate-limit: 5 lines per 400ms)", "flood again",
        ])
        #expect(second.first?.identifier == "runnerd")
        #expect(second.first?.priority == "4")
    }

    @Test func linesThatFindNoJournaldAreCountedAndTheCountLoggedOnceItIsBack() throws {
        let directory = "/tmp/runnerd-no-journald-\(getpid())-\(Int.random(in: 0...1_000_000))"
        mkdir(directory, 0o700)
        defer { rmdir(directory) }
        let path = directory + "/socket"
        let writer = LogWriter(target: .journal, journal: JournalConnection(path: path))
        let source = LogWriter.Source(group: "web", service: "api")
        for index in 0..<3 { append("lost \(index)", writer, source) }
        // Let the writer find nobody there before journald comes back.
        usleep(200_000)
        let journald = try NotifyReceiver(bindingPath: path)
        defer { unlink(path) }
        append("back", writer, source)
        // The first line that gets through is how the writer learns journald is back.
        #expect(drain(journald).map(\.message) == ["back", "web/api: dropped 3 lines while journald was not running"])
    }

    @Test func countsAreWrittenWithThousandsSeparators() {
        #expect(LogWriter.grouped(7) == "7")
        #expect(LogWriter.grouped(12_345) == "12,345")
        #expect(LogWriter.grouped(1_000_000) == "1,000,000")
    }
}
