import Glibc
import RunnerdTestSupport
import Testing

/// The built `runnerd` binary end to end: real daemons, real children, real signals.
@Suite("runnerd binary")
struct RunnerdDaemonTests {
    @Test func aMemberExitStopsItsGroupWhichRestartsWithFreshProcesses() async throws {
        let config = temporaryConfig("""
            groups:
              pair:
                restart-delay: 100ms
                services:
                  short: { command: [sh, -c, "echo short-started; sleep 0.3; exit 4"] }
                  long: { command: [sh, -c, "echo long-started $$; exec sleep 1000"] }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        try await daemon.waitForLine(containing: "group pair: service short exited with status 4; stopped 1 other service; restarting in 100ms (restart 1 of 5)")
        let starts = try await daemon.waitForLines(containing: "pair/long | long-started", count: 2)
        #expect(Set(starts.prefix(2)).count == 2, "the long service must be a new process after the restart")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        #expect(daemon.descendants.isEmpty)
    }

    @Test func restartsBackOffThenARequiredGroupGivesUpAndTheDaemonExits1() async throws {
        let config = temporaryConfig("""
            groups:
              crash:
                restart-delay: 100ms
                restart-delay-max: 400ms
                max-restarts: 3
                services:
                  boom: { command: [sh, -c, "exit 2"] }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        #expect(try await daemon.waitForExit() == 1)
        let starts = daemon.lines.filter { $0.contains("service boom started") }.compactMap(timestamp)
        #expect(starts.count == 4, "max-restarts 3 means 4 starts:\n\(daemon.output)")
        let gaps = zip(starts.dropFirst(), starts).map { $0 - $1 }
        for (gap, delay) in zip(gaps, [0.1, 0.2, 0.4]) {
            #expect(gap >= delay && gap < delay + 0.25, "gap \(gap) s for a \(delay) s back-off")
        }
        #expect(daemon.output.contains("group crash: service boom exited with status 2; giving up because it was restarted 3 times within 5m"))
        #expect(daemon.output.contains("required group crash gave up"))
    }

    @Test func oneGroupsCrashesLeaveAnotherGroupsProcessesAlone() async throws {
        let config = temporaryConfig("""
            groups:
              stable:
                services:
                  steady: { command: [sh, -c, "echo steady $$; exec sleep 1000"] }
              crashy:
                required: false
                restart-delay: 50ms
                max-restarts: 50
                services:
                  flop: { command: [sh, -c, "echo flop; exit 1"] }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        let steady = try await daemon.waitForLine(containing: "stable/steady | steady ")
        _ = try await daemon.waitForLines(containing: "crashy/flop | flop", count: 4)
        #expect(daemon.lines.filter { $0.contains("stable/steady | steady ") } == [steady])
        let steadyPID = pid_t(steady.split(separator: " ").last!)!
        #expect(daemon.childPIDs.contains(steadyPID))
        #expect(zombieChildren(of: daemon.pid).isEmpty)
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aChildIgnoringSIGTERMIsKilledAfterItsTimeoutAndTheExitCodeSaysSo() async throws {
        let config = temporaryConfig("""
            defaults: { interrupt-timeout: 1s }
            groups:
              g:
                services:
                  stubborn: { command: [sh, -c, "trap '' TERM; echo ready; while true; do sleep 0.1; done"] }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        try await daemon.waitForLine(containing: "g/stubborn | ready")
        let before = daemon.descendants
        let start = ContinuousClock.now
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 1)
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(950) && took < .milliseconds(2_000), "stopped after \(took)")
        #expect(daemon.output.contains("group g: service stubborn did not stop within 1s; sending SIGKILL to its process group"))
        #expect(daemon.output.contains("group g: stubborn had to be killed during the stop"))
        #expect(before.allSatisfy { !processExists($0) })
    }

    @Test func aGrandchildIsGoneAfterAStop() async throws {
        let config = temporaryConfig("""
            groups:
              g:
                services:
                  parent: { command: [sh, -c, "sleep 1000 & echo forked; wait"] }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        try await daemon.waitForLine(containing: "g/parent | forked")
        try await waitUntil { daemon.descendants.count == 2 }
        let family = daemon.descendants
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        #expect(family.allSatisfy { !processExists($0) })
    }

    @Test func aSecondSIGTERMKillsEverythingAtOnce() async throws {
        let config = temporaryConfig("""
            defaults: { interrupt-timeout: 30s, group-interrupt-timeout: 40s }
            groups:
              g:
                services:
                  stubborn: { command: [sh, -c, "trap '' TERM; echo ready; while true; do sleep 0.1; done"] }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        try await daemon.waitForLine(containing: "g/stubborn | ready")
        let family = daemon.descendants
        daemon.signal(SIGTERM)
        try await daemon.waitForLine(containing: "received SIGTERM; stopping every group")
        // A second signal within 50 ms of the first is taken as the same one delivered twice.
        try await Task.sleep(for: .milliseconds(100))
        let start = ContinuousClock.now
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit(timeout: .seconds(5)) == 1)
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(daemon.output.contains("received SIGTERM again: killing every service now"))
        #expect(family.allSatisfy { !processExists($0) })
    }

    /// `timeout -s INT` (and any sender that signals a process and then its process group)
    /// delivers the signal twice at once: that is one request, a graceful stop with exit 0.
    @Test func aSignalDeliveredTwiceAtOnceIsOneGracefulStop() async throws {
        let config = temporaryConfig("groups:\n  g: { services: { s: { command: [sleep, \"1000\"] } } }\n")
        let daemon = try RunnerdProcess(["run", "--config", config])
        try await daemon.waitForLine(containing: "service s started")
        daemon.signal(SIGINT)
        daemon.signal(SIGINT)
        #expect(try await daemon.waitForExit(timeout: .seconds(5)) == 0)
        #expect(!daemon.output.contains("killing every service now"), "\(daemon.output)")
    }

    @Test func childrenThatExitAtOnceAreAllReapedWithTheirOwnStatus() async throws {
        // Two threads spawn at once, and a child can exit before the loop has been told its pid:
        // every exit must still reach its own service, with its own status.
        let groups = (0..<100).map { index in
            let command = index % 2 == 0 ? #"["true"]"# : #"[sh, -c, "exit 3"]"#
            return "  g\(index): { restart: never, required: false, services: { s: { command: \(command) } } }"
        }
        let config = temporaryConfig("groups:\n" + groups.joined(separator: "\n") + "\n")
        let daemon = try RunnerdProcess(["run", "--config", config])
        let ended = try await daemon.waitForLines(containing: ": service s exited with status ", count: 100)
        for index in 0..<100 {
            let status = index % 2 == 0 ? 0 : 3
            #expect(ended.contains { $0.contains("group g\(index): service s exited with status \(status);") })
        }
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func childrenGetAScrubbedEnvironmentPlusTheirOwn() async throws {
        let receiver = try NotifyReceiver(.path)
        let config = temporaryConfig("""
            groups:
              g:
                restart: never
                required: false
                services:
                  show: { command: [env], environment: { OWN: mine } }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config], environment: [
            "NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "5000000", "WATCHDOG_PID": "1",
            "LISTEN_FDS": "1", "LISTEN_PID": "1", "LISTEN_FDNAMES": "x", "KEEP_ME": "yes",
        ])
        try await daemon.waitForLine(containing: "g/show | OWN=mine")
        let shown = daemon.lines.filter { $0.hasPrefix("g/show | ") }.map { $0.dropFirst("g/show | ".count) }
        #expect(shown.contains("KEEP_ME=yes"))
        for scrubbed in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
            #expect(!shown.contains { $0.hasPrefix("\(scrubbed)=") }, "\(scrubbed) leaked into the child")
        }
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    /// A required group's work can end: `restart: never` (or `on-failure`) and a clean exit. Then
    /// runnerd's work is done too: it stops the other groups and exits 0, so that systemd's
    /// `Restart=on-failure` leaves it down. (docs/config.md, `required`.)
    @Test func aRequiredGroupThatFinishesStopsRunnerdWithExit0() async throws {
        let receiver = try NotifyReceiver(.path)
        let config = temporaryConfig("""
            groups:
              batch: { restart: never, services: { job: { command: [sh, -c, "sleep 0.5; exit 0"] } } }
              web: { services: { w: { command: [sleep, "1000"] } } }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config], environment: ["NOTIFY_SOCKET": receiver.address])
        #expect(try await daemon.waitForExit(timeout: .seconds(15)) == 0)
        #expect(daemon.lines.contains { $0.hasSuffix("group batch: service job exited with status 0; restart never leaves it down") })
        #expect(daemon.lines.contains { $0.hasSuffix("required group batch finished; stopping runnerd") })
        var texts: [String] = []
        while let datagram = try? receiver.receive(timeout: .milliseconds(100)) { texts.append(datagram.text) }
        #expect(texts.contains("STOPPING=1\nSTATUS=stopping: required group batch finished"), "\(texts)")
    }

    @Test func readyAndStoppingReachTheNotifySocket() async throws {
        let receiver = try NotifyReceiver(.abstract)
        let config = temporaryConfig("""
            groups:
              a: { services: { one: { command: [sleep, "1000"] } } }
              b: { services: { two: { command: [sleep, "1000"] }, three: { command: [sleep, "1000"] } } }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config], environment: ["NOTIFY_SOCKET": receiver.address])
        var ready: NotifyReceiver.Datagram
        repeat {
            ready = try await receiver.receiveAsync()
        } while !ready.text.contains("READY=1")
        #expect(ready.text == "READY=1\nSTATUS=2 groups, 3/3 services ready")
        #expect(ready.senderPID == daemon.pid)
        daemon.signal(SIGTERM)
        let stopping = try await receiver.receiveAsync()
        #expect(stopping.text == "STOPPING=1\nSTATUS=stopping: received SIGTERM")
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test(.enabled(if: getuid() == 0, "switching users needs root"))
    func servicesRunAsTheConfiguredUser() async throws {
        let config = temporaryConfig("""
            groups:
              g:
                restart: never
                required: false
                services:
                  who: { command: [id, -u], user: nobody }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        try await daemon.waitForLine(containing: "g/who | 65534")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aSpawnFailureIsLoggedWithItsCauseAndCountsAsAFailure() async throws {
        let script = "/tmp/runnerd-no-interpreter-\(getpid())-\(Int.random(in: 0...1_000_000))"
        let fd = open(script, O_WRONLY | O_CREAT | O_TRUNC, 0o755)
        _ = write(fd, "echo hi\n", 8)
        close(fd)
        defer { unlink(script) }
        let config = temporaryConfig("""
            groups:
              g:
                max-restarts: 0
                services:
                  broken: { command: [\(script)] }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        #expect(try await daemon.waitForExit() == 1)
        #expect(daemon.output.contains("group g: service broken failed to start: cannot execute \(script): Exec format error; it is not a program this system can run; add a #! line or fix the file; giving up because max-restarts is 0"))
    }

    @Test func aBadConfigStartsNothingAndExits78() async throws {
        let config = temporaryConfig("""
            groups:
              g:
                services:
                  x: { command: [sleep, "1000"], interrupt-timeout: "10" }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        #expect(try await daemon.waitForExit() == 78)
        #expect(daemon.output.contains("\(config):4:57: groups.g.services.x.interrupt-timeout: \"10\" has no unit; write e.g. 10s"))
        let check = try RunnerdProcess(["check", "--config", config])
        #expect(try await check.waitForExit() == 78)
        let missing = try RunnerdProcess(["check", "--config", "/nonexistent/runnerd.yaml"])
        #expect(try await missing.waitForExit() == 78)
    }

    @Test func badUsageExits64AndHelpListsTheExitCodes() async throws {
        let bad = try RunnerdProcess(["run", "--no-such-flag"])
        #expect(try await bad.waitForExit() == 64)
        let help = try RunnerdProcess(["--help"])
        #expect(try await help.waitForExit() == 0)
        for line in ["0   stopped on request", "1   a required group failed", "64  bad command-line usage", "78  an invalid or missing config"] {
            #expect(help.output.contains(line))
        }
        let version = try RunnerdProcess(["--version"])
        #expect(try await version.waitForExit() == 0)
        #expect(version.output == "0.1.0\n")
    }

    @Test func aFloodingChildWithAStuckReaderNeitherGrowsTheDaemonNorDelaysItsStop() async throws {
        // stdout is a pipe nobody reads: once it is full, the daemon's writer blocks, its backlog
        // fills to the cap, and the daemon must stop reading the child instead of buffering.
        var stuck: [Int32] = [-1, -1]
        #expect(pipe(&stuck) == 0)
        defer { close(stuck[0]) }
        let config = temporaryConfig("""
            groups:
              g:
                services:
                  flood: { command: [cat, /dev/zero] }
                  lines: { command: [sh, -c, "yes 'a line of output'"] }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config], stdoutFD: stuck[1])
        close(stuck[1])
        try await daemon.waitForLine(containing: "service lines started")
        try await Task.sleep(for: .seconds(2))
        let resident = try #require(residentKiB(of: daemon.pid))
        #expect(resident < 48 * 1024, "runnerd grew to \(resident) KiB")
        let start = ContinuousClock.now
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        #expect(ContinuousClock.now - start < .seconds(2))
    }
}

/// Seconds since midnight from a log line's `YYYY-MM-DD HH:MM:SS.mmm` prefix.
private func timestamp(_ line: String) -> Double? {
    let parts = line.split(separator: " ")
    guard parts.count > 1 else { return nil }
    let clock = parts[1].split(separator: ":")
    guard clock.count == 3, let hours = Double(clock[0]), let minutes = Double(clock[1]), let seconds = Double(clock[2]) else { return nil }
    return hours * 3600 + minutes * 60 + seconds
}
