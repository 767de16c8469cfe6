import Glibc
import RunnerdTestSupport
import Testing

extension FaultMatrixTests {
    // MARK: 16. A stalled log destination

    /// runnerd's standard error is a stream nobody reads (as journald is when it is stopped): its
    /// own log lines queue up, then are dropped, and supervision carries on regardless.
    @Test func aStalledLogDestinationDelaysNeitherRestartsNorTheStop() async throws {
        let fault = try FaultCase("stalled-log")
        let stderr = try StalledStandardError()
        try fault.start("""
            groups:
              g:
                restart-delay: 100ms
                restart-delay-max: 100ms
                max-restarts: 1000
                restart-window: 10m
                services:
                  crasher: { command: [sh, -c, "echo up; sleep 0.1; exit 1"], \(fault.environment) }
                  peer: { command: [sleep, "1000"], \(fault.environment) }
            """, arguments: ["--log-queue-capacity", "10"], stderrFD: stderr.daemonEnd)
        stderr.daemonStarted()
        try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        #expect(try await eventually(timeout: .seconds(15)) { StalledStandardError.writerIsBlocked(inDaemon: fault.daemon.pid) })

        // Services' output is not runnerd's own log: it still flows, on stdout. Each restart logs
        // at least three lines, so the queue of 10 is full after 4 more; 10 more show that the
        // group restarts all the same.
        let before = fault.daemon.lines.filter { $0 == "g/crasher | up" }.count
        _ = try await fault.daemon.waitForLines(containing: "g/crasher | up", count: before + 14, timeout: .seconds(20))
        #expect(StalledStandardError.writerIsBlocked(inDaemon: fault.daemon.pid), "the destination is still stalled")
        let ready = fault.notify.texts.filter { $0.hasPrefix("READY=1") }.count
        #expect(ready >= 10, "READY=1 after each restart: \(ready)")
        #expect(try await fault.noZombies())
        fault.recordTree()

        // The stop does not wait for the log either: the stop itself, then at most the 1 s flush.
        let stopping = ContinuousClock.now
        fault.daemon.signal(SIGTERM)
        #expect(try await fault.daemon.waitForExit(timeout: .seconds(10)) == 0)
        let took = ContinuousClock.now - stopping
        #expect(took < .seconds(3), "stopped after \(took)")
        try await fault.notify.waitFor { $0.hasPrefix("STOPPING=1") }
        try await fault.expectNothingLeft()
    }
}
