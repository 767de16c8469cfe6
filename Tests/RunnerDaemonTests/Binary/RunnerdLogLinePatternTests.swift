import Glibc
import RunnerdTestSupport
import Testing

/// A `log-line` pattern that a backtracking engine would run forever, through a real `runnerd`:
/// the daemon matches it in linear time on its event loop, so nothing else waits on it.
@Suite("runnerd log-line patterns")
struct RunnerdLogLinePatternTests {
    /// 100 `a`s and a `!`: `^(a|aa)+$` backtracks through about 1.6^100 ways to split the `a`s
    /// before it fails on the `!`.
    static let pathologicalLine = String(repeating: "a", count: 100) + "!"

    /// When each of `texts` first shows in the daemon's output, in order, polled every 5 ms (its
    /// log lines carry no time when it runs under a notify socket), within `timeout` in all.
    private func timesSeen(_ texts: [String], in daemon: RunnerdProcess, timeout: Duration) async throws -> [ContinuousClock.Instant] {
        var seen: [ContinuousClock.Instant] = []
        let deadline = Deadline(after: timeout)
        while seen.count < texts.count {
            let lines = daemon.lines
            let counts = texts.prefix(seen.count + 1).map { text in lines.filter { $0.contains(text) }.count }
            // The nth text is seen when it appears as often as it occurs among the texts so far.
            let wanted = texts.prefix(seen.count + 1).filter { $0 == texts[seen.count] }.count
            if counts[seen.count] >= wanted {
                seen.append(.now)
                continue
            }
            if deadline.hasPassed {
                throw TestTimeout(description: "\(texts[seen.count]) not seen within \(timeout); output:\n\(daemon.output.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return seen
    }

    @Test func aPathologicalPatternStallsNeitherOtherOutputNorItsTimeoutNorTheStop() async throws {
        let notify = try NotifyLog()
        defer { notify.stop() }
        let config = temporaryConfig("""
            groups:
              slow:
                required: false
                restart-delay: 100ms
                max-restarts: 1
                services:
                  patho:
                    command: [sh, -c, "while :; do echo \(Self.pathologicalLine); sleep 0.02; done"]
                    ready: { log-line: "^(a|aa)+$", timeout: 2s }
              other:
                services:
                  ticker: { command: [sh, -c, "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"] }
            """)
        defer { unlink(config) }
        let daemon = try RunnerdProcess(["run", "--config", config], environment: ["NOTIFY_SOCKET": notify.address])

        // The probe's timeout fires on time, twice: once for the first start, once for the restart.
        let started = "group slow: service patho started (pid "
        let timedOut = "group slow: service patho was not ready: no output line matched /^(a|aa)+$/ within 2s;"
        let times = try await timesSeen(
            [started, timedOut + " restarting in 100ms (restart 1 of 1)", started, timedOut + " giving up because it was restarted 1 times within 5m"],
            in: daemon, timeout: .seconds(15)
        )
        for (start, end) in [(times[0], times[1]), (times[2], times[3])] {
            let after = end - start
            #expect(after > .milliseconds(1_950) && after < .milliseconds(2_500), "the 2s timeout fired after \(after)")
        }
        let ticks = daemon.lines.filter { $0.hasPrefix("other/ticker | tick ") }.count

        // The other group's output kept flowing all along (a line every 50 ms: about 80 in the
        // 4 s), and so did the pathological lines themselves (one every 20 ms).
        #expect(ticks >= 40, "\(ticks) ticks in the 4 s of the two probes")
        let pathological = daemon.lines.filter { $0 == "slow/patho | \(Self.pathologicalLine)" }.count
        #expect(pathological >= 100, "\(pathological) of the service's own lines forwarded in 4 s")
        _ = try await daemon.waitForLines(containing: "other/ticker | tick ", count: ticks + 10, timeout: .seconds(2))

        // Nothing waits on the pattern when the daemon stops either.
        let stop = ContinuousClock.now
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit(timeout: .seconds(5)) == 0)
        #expect(ContinuousClock.now - stop < .seconds(2), "stopped after \(ContinuousClock.now - stop)")
        #expect(daemon.output.contains("stopped; exit code 0"))
        try await notify.waitFor { $0.hasPrefix("STOPPING=1") }
        let texts = notify.texts
        // An optional group that gave up does not hold READY=1 back: the rest is ready.
        #expect(texts.contains("READY=1\nSTATUS=2 groups, 1/2 services ready; group slow is down: gave up"), "\(texts)")
        #expect(texts.last == "STOPPING=1\nSTATUS=stopping: received SIGTERM", "\(texts)")
    }
}
