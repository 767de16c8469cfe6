import Glibc
@testable import RunnerDaemon
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
}
