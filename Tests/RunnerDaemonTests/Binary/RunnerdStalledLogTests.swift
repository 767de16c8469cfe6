import Glibc
import RunnerdTestSupport
import Testing

/// runnerd's own log lines against a destination that stops reading (issue 13, bug 5): a log call
/// only queues its line, so supervision goes on while the destination is stalled; the overflow
/// is counted and reported once the destination reads again, and the last lines are flushed
/// before the daemon exits.
struct RunnerdStalledLogTests {
    @Test func aGroupKeepsRestartingOnTimeWhileStandardErrorIsNotReadAndTheDropsAreReportedAfterwards() async throws {
        let stderr = try StalledStandardError()
        let starts = try TemporaryFile()
        // Each run appends its start time; every restart logs two lines ("started", "exited ...;
        // restarting"), so a queue of 10 is full within 5 restarts of the writer blocking.
        let config = temporaryConfig("""
            groups:
              crasher:
                restart-delay: 100ms
                restart-delay-max: 100ms
                max-restarts: 1000
                restart-window: 10m
                services:
                  crasher: { command: [sh, -c, "date +%s%N >> \(starts.path); sleep 0.1; exit 1"] }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config, "--log-queue-capacity", "10"], stderrFD: stderr.daemonEnd)
        stderr.daemonStarted()

        #expect(try await eventually(timeout: .seconds(15)) { StalledStandardError.writerIsBlocked(inDaemon: daemon.pid) })
        let blockedAt = startTimes(starts.path).count
        // Restarts from blockedAt + 6 on happen with the queue certainly full.
        #expect(try await eventually(timeout: .seconds(20)) { startTimes(starts.path).count >= blockedAt + 12 })
        #expect(StalledStandardError.writerIsBlocked(inDaemon: daemon.pid), "the destination is still stalled")
        let times = startTimes(starts.path)
        let gaps = zip(times, times.dropFirst()).map { ($1 - $0) / 1_000_000 }
        // 100 ms of running plus the 100 ms restart delay; far below a second even on a busy machine.
        #expect(gaps.allSatisfy { $0 >= 190 && $0 < 2000 }, "milliseconds between starts: \(gaps)")

        // The destination reads again: the writer gets through, then reports what it dropped.
        // At least two lines per restart after the writer blocked, minus the 10 the queue keeps:
        // 14 or more. (Lines are reported in one count per run of drops; the stall is one run.)
        stderr.startReading()
        #expect(try await eventually(timeout: .seconds(10)) { droppedLines(reportedIn: stderr.text).total >= 14 }, "\(stderr.text)")
        let reports = droppedLines(reportedIn: stderr.text)
        let report = try #require(reports.lines.first)
        #expect(report.hasSuffix(" warning runnerd: dropped \(reports.counts[0]) log lines while standard error was not being read"), "\(report)")
        // The kept lines came before the first report, in order, without a gap: restarts 1, 2, 3, ...
        let text = stderr.text
        let beforeReport = text[..<(text.firstRange(of: report)?.lowerBound ?? text.startIndex)]
        let restartNumbers = beforeReport.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.firstRange(of: "(restart ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        #expect(!restartNumbers.isEmpty && restartNumbers == Array(1...restartNumbers.count), "\(restartNumbers)")

        let stopping = ContinuousClock.now
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit(timeout: .seconds(10)) == 0)
        let took = ContinuousClock.now - stopping
        #expect(took < .seconds(3), "stopped after \(took)")
        // Flushed before exiting: the last line is there once the daemon's end is closed.
        #expect(try await eventually(timeout: .seconds(5)) { stderr.hasEnded })
        #expect(stderr.text.hasSuffix("notice runnerd: stopped; exit code 0\n"), "\(stderr.text.suffix(300))")
    }

    @Test func aLogQueueWithoutRoomIsAUsageError() async throws {
        let config = temporaryConfig("groups:\n  g: { services: { s: { command: [sleep, \"1000\"] } } }\n")
        let daemon = try RunnerdProcess(["run", "--config", config, "--log-queue-capacity", "0"])
        #expect(try await daemon.waitForExit(timeout: .seconds(10)) == 64)
        #expect(daemon.output.contains("--log-queue-capacity: 0 is too small; give at least 1 (the default is 1000)"), "\(daemon.output)")
    }
}

/// A file the test creates empty and removes at the end.
private final class TemporaryFile {
    let path: String

    init() throws {
        var template = Array("/tmp/runnerd-stalled-log-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw TestTimeout(description: "mkstemp failed: errno \(errno)") }
        close(fd)
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        unlink(path)
    }
}

/// The lines `... dropped N log lines while standard error was not being read` in `text`, their
/// counts, and the counts' total.
private func droppedLines(reportedIn text: String) -> (lines: [Substring], counts: [Int], total: Int) {
    let lines = text.split(separator: "\n").filter { $0.hasSuffix(" log lines while standard error was not being read") && $0.contains(": dropped ") }
    let counts = lines.compactMap { line in Int(line.split(separator: ": dropped ").last?.split(separator: " ").first ?? "") }
    return (lines, counts, counts.reduce(0, +))
}

/// The nanosecond start times the crasher appended, one per line, complete lines only.
private func startTimes(_ path: String) -> [Int] {
    readFile(path).split(separator: "\n", omittingEmptySubsequences: true).compactMap { Int($0) }
}
