import Glibc
import RunnerdTestSupport
import Testing

/// Start and stop in dependency order, with real processes: each service appends what it does
/// and when to a shared events file, and the order is read from there.
@Suite("runnerd's start and stop order")
struct RunnerdOrderTests {
    /// A scratch directory with the services' scripts and their events file.
    private final class Scratch {
        let directory: String

        init() {
            var template = Array("/tmp/runnerd-order-XXXXXX".utf8CString)
            directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        }

        deinit {
            for name in ["events", "crashed"] + scripts { unlink("\(directory)/\(name)") }
            rmdir(directory)
        }

        private var scripts: [String] = []

        /// Writes `body` as a bash script; it has `ev WHAT` to log `WHAT NAME TIME` to the events
        /// file, TIME in microseconds from bash's own clock (`EPOCHREALTIME`), so that logging
        /// forks nothing that a loaded machine could delay.
        func script(_ name: String, _ body: String) -> String {
            let path = "\(directory)/\(name).sh"
            let text = "ev() { echo \"$1 \(name) ${EPOCHREALTIME/./}\" >> \(directory)/events; }\n" + body + "\n"
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o755)
            _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            scripts.append("\(name).sh")
            return path
        }

        /// The events so far, in the order written: (what, name, microseconds).
        var events: [(what: String, name: String, at: Int64)] {
            readFile("\(directory)/events").split(separator: "\n").compactMap { line in
                let parts = line.split(separator: " ")
                guard parts.count == 3, let at = Int64(parts[2]) else { return nil }
                return (String(parts[0]), String(parts[1]), at)
            }
        }

        func time(_ what: String, _ name: String, occurrence: Int = 0) -> Int64? {
            let matching = events.filter { $0.what == what && $0.name == name }
            return matching.count > occurrence ? matching[occurrence].at : nil
        }

        /// Waits (bounded) until `what NAME` has been logged `count` times.
        func waitFor(_ what: String, _ name: String, count: Int = 1, timeout: Duration = .seconds(15)) async throws {
            let deadline = Deadline(after: timeout)
            while !deadline.hasPassed {
                if events.filter({ $0.what == what && $0.name == name }).count >= count { return }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw TestTimeout(description: "no \(what) \(name) (\(count)) within \(timeout); events: \(events)")
        }
    }

    /// A service that logs its start, becomes ready after `delay` (logging it just before it
    /// prints the line its probe waits for), and on SIGTERM logs `term`, takes `stopTime`, logs
    /// `stopped` and exits 0.
    private func longRunning(_ scratch: Scratch, _ name: String, delay: String = "0.3", stopTime: String = "0") -> String {
        scratch.script(name, """
            ev start
            trap 'ev term; sleep \(stopTime); ev stopped; exit 0' TERM
            sleep \(delay)
            ev ready
            echo ready
            while true; do sleep 0.05; done
            """)
    }

    private let ready = "ready: { log-line: \"^ready$\", timeout: 20s }"

    @Test func aThreeLevelChainStartsEachOnlyOnceTheOneBeforeIsReadyAndStopsInReverse() async throws {
        let scratch = Scratch()
        let config = """
            groups:
              app:
                services:
                  c: { command: [bash, \(longRunning(scratch, "c"))], after: [b], \(ready) }
                  b: { command: [bash, \(longRunning(scratch, "b", stopTime: "0.3"))], after: [a], \(ready) }
                  a: { command: [bash, \(longRunning(scratch, "a", stopTime: "0.3"))], \(ready) }
            """
        let path = temporaryConfig(config)
        let daemon = try RunnerdProcess(["run", "--config", path])
        try await scratch.waitFor("ready", "c")
        let (readyA, startB) = (try #require(scratch.time("ready", "a")), try #require(scratch.time("start", "b")))
        let (readyB, startC) = (try #require(scratch.time("ready", "b")), try #require(scratch.time("start", "c")))
        #expect(startB >= readyA, "b started before a was ready: \(scratch.events)")
        #expect(startC >= readyB, "c started before b was ready: \(scratch.events)")

        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        let (stoppedC, termB) = (try #require(scratch.time("stopped", "c")), try #require(scratch.time("term", "b")))
        let (stoppedB, termA) = (try #require(scratch.time("stopped", "b")), try #require(scratch.time("term", "a")))
        #expect(termB >= stoppedC, "b got its stop signal before c had stopped: \(scratch.events)")
        #expect(termA >= stoppedB, "a got its stop signal before b had stopped: \(scratch.events)")
    }

    /// Services released by `after:` that print their ready line at once: the line reaches the
    /// group's machine after the start, not before (it was ignored, and the wave waited out its
    /// ready timeout).
    @Test func waveAfterWaveOfServicesReadyByTheirFirstLineAllBecomeReady() async throws {
        var lines = ["groups:", "  g:", "    services:"]
        for wave in 0..<5 {
            for index in 0..<10 {
                let after = wave == 0 ? "" : ", after: [" + (0..<10).map { "w\(wave - 1)s\($0)" }.joined(separator: ", ") + "]"
                lines.append("      w\(wave)s\(index): { command: [sh, -c, \"echo up; exec sleep 1000\"], ready: { log-line: \"^up$\", timeout: 30s }\(after) }")
            }
        }
        let receiver = try NotifyReceiver(.path)
        let daemon = try RunnerdProcess(["run", "--config", temporaryConfig(lines.joined(separator: "\n") + "\n")], environment: ["NOTIFY_SOCKET": receiver.address])
        let started = ContinuousClock.now
        _ = try await receiveDatagrams(receiver, until: { $0.hasPrefix("READY=1") }, timeout: .seconds(25))
        #expect(ContinuousClock.now - started < .seconds(10))
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func eachStopStepWaitsForThePreviousWithinItsOwnInterruptTimeout() async throws {
        let scratch = Scratch()
        // api ignores SIGTERM: it is killed after its 1s, and only then does db hear of the stop.
        let api = scratch.script("api", """
            ev start
            trap 'ev term' TERM
            echo ready
            while true; do sleep 0.05; done
            """)
        let config = """
            groups:
              app:
                group-interrupt-timeout: 10s
                services:
                  api: { command: [bash, \(api)], after: [db], interrupt-timeout: 1s, \(ready) }
                  db: { command: [bash, \(longRunning(scratch, "db"))], \(ready) }
            """
        let daemon = try RunnerdProcess(["run", "--config", temporaryConfig(config)])
        try await daemon.waitForLine(containing: "service api is ready")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 1, "api had to be killed")
        let (termAPI, termDB) = (try #require(scratch.time("term", "api")), try #require(scratch.time("term", "db")))
        let gap = Double(termDB - termAPI) / 1e6
        // Each side logs its signal a scheduling delay after it arrives, so allow 0.1s below the
        // 1s limit; without order, db would hear of the stop at the same time as api.
        #expect(gap >= 0.9 && gap < 3.0, "gap \(gap): db's stop signal came \(gap)s after api's; api's limit is 1s: \(scratch.events)")
        #expect(daemon.output.contains("api had to be killed during the stop"))
    }

    @Test func aOneshotRunsToCompletionBeforeWhatIsAfterItAndAFailedOneFailsTheStart() async throws {
        let scratch = Scratch()
        let migrate = scratch.script("migrate", """
            ev start
            sleep 0.3
            if [ -e \(scratch.directory)/crashed ]; then ev done; exit 0; fi
            touch \(scratch.directory)/crashed
            ev failed
            exit 3
            """)
        // The first run's migration fails: the group's start fails, api never starts in that run;
        // the restart runs the migration again, and api starts after it is done.
        let config = """
            groups:
              app:
                restart-delay: 100ms
                services:
                  migrate: { command: [bash, \(migrate)], type: oneshot }
                  api: { command: [bash, \(longRunning(scratch, "api"))], after: [migrate], \(ready) }
            """
        let daemon = try RunnerdProcess(["run", "--config", temporaryConfig(config)])
        try await scratch.waitFor("ready", "api")
        let events = scratch.events.map { "\($0.what) \($0.name)" }
        #expect(events.prefix(5) == ["start migrate", "failed migrate", "start migrate", "done migrate", "start api"], "\(scratch.events)")
        #expect(daemon.output.contains("group app: service migrate exited with status 3; stopped 1 other service; restarting in 100ms"))
        try await daemon.waitForLine(containing: "service migrate is done")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    /// A group of nothing but a finished oneshot stays up (its work is done) and ends at once
    /// at the stop: the daemon's stop once waited for it forever.
    @Test func aGroupOfOnlyAOneshotThatIsDoneLetsTheDaemonStop() async throws {
        let scratch = Scratch()
        let config = """
            groups:
              setup:
                services: { migrate: { command: [bash, \(scratch.script("migrate", "ev done"))], type: oneshot } }
              app:
                after: [setup]
                services: { api: { command: [bash, \(longRunning(scratch, "api", delay: "0"))], \(ready) } }
            """
        let receiver = try NotifyReceiver(.path)
        let daemon = try RunnerdProcess(["run", "--config", temporaryConfig(config)], environment: ["NOTIFY_SOCKET": receiver.address])
        let ready = try await receiveDatagrams(receiver, until: { $0.hasPrefix("READY=1") }, timeout: .seconds(10))
        #expect(ready.last?.contains("2 groups, 2/2 services ready") == true, "\(ready)")
        #expect(try #require(scratch.time("start", "api")) >= (try #require(scratch.time("done", "migrate"))))
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit(timeout: .seconds(10)) == 0)
    }

    @Test func aOneshotPastItsTimeoutFailsTheStartAndNothingAfterItStarts() async throws {
        let scratch = Scratch()
        let migrate = scratch.script("migrate", "ev start\nexec sleep 1000")
        let config = """
            groups:
              app:
                restart: never
                services:
                  migrate: { command: [bash, \(migrate)], type: oneshot, timeout: 500ms }
                  api: { command: [bash, \(longRunning(scratch, "api"))], after: [migrate] }
            """
        let started = ContinuousClock.now
        let daemon = try RunnerdProcess(["run", "--config", temporaryConfig(config)])
        // A required group that fails and is never restarted stops the daemon with 1.
        #expect(try await daemon.waitForExit(timeout: .seconds(10)) == 1)
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(500))
        #expect(daemon.output.contains("group app: service migrate did not finish within 500ms; stopping the group"), "\(daemon.output)")
        #expect(scratch.time("start", "api") == nil, "api started: \(scratch.events)")
    }

    @Test func aGroupBoundToAnotherIsStoppedWhenThatCrashesAndStartedAgainOnceItIsReady() async throws {
        let scratch = Scratch()
        // db crashes once, 0.5s after it is ready; its restart stays up.
        let db = scratch.script("db", """
            ev start
            trap 'ev term; exit 0' TERM
            sleep 0.2
            ev ready
            echo ready
            if [ ! -e \(scratch.directory)/crashed ]; then touch \(scratch.directory)/crashed; sleep 0.5; ev crash; exit 3; fi
            while true; do sleep 0.05; done
            """)
        let config = """
            groups:
              db:
                restart-delay: 200ms
                services: { db: { command: [bash, \(db)], \(ready) } }
              api:
                binds-to: [db]
                services: { api: { command: [bash, \(longRunning(scratch, "api", delay: "0"))], \(ready) } }
            """
        let daemon = try RunnerdProcess(["run", "--config", temporaryConfig(config)])
        try await scratch.waitFor("ready", "api", count: 2)
        let crash = try #require(scratch.time("crash", "db"))
        let term = try #require(scratch.time("term", "api"))
        let secondReady = try #require(scratch.time("ready", "db", occurrence: 1))
        let secondStart = try #require(scratch.time("start", "api", occurrence: 1))
        #expect(term >= crash, "\(scratch.events)")
        #expect(secondStart >= secondReady, "api started again before db was ready: \(scratch.events)")
        #expect(daemon.output.contains("group api: stopping, since it binds to db, which stopped"))
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        // At the daemon's stop, api (bound to db) stops first.
        let (stoppedAPI, termDB) = (try #require(scratch.time("stopped", "api", occurrence: 1)), try #require(scratch.time("term", "db")))
        #expect(termDB >= stoppedAPI, "\(scratch.events)")
    }

    @Test func aReloadThatChangesAGroupRestartsTheGroupBoundToItStoppingItFirst() async throws {
        let scratch = Scratch()
        let config = { (version: Int) in
            """
            groups:
              db:
                services: { db: { command: [bash, \(self.longRunning(scratch, "db", delay: "0.2"))], environment: { V: "\(version)" }, \(self.ready) } }
              api:
                binds-to: [db]
                services: { api: { command: [bash, \(self.longRunning(scratch, "api", delay: "0"))], \(self.ready) } }
              other:
                services: { other: { command: [bash, \(self.longRunning(scratch, "other", delay: "0"))], \(self.ready) } }
            """
        }
        let path = temporaryConfig(config(1))
        let daemon = try RunnerdProcess(["run", "--config", path])
        try await scratch.waitFor("ready", "api")
        try await scratch.waitFor("ready", "other")
        rewriteConfig(path, config(2))
        daemon.signal(SIGHUP)
        try await scratch.waitFor("ready", "api", count: 2)
        try await daemon.waitForLine(containing: "reload: done; restarted db (changed); restarted api (binds to db, which changes)")
        #expect(daemon.output.contains("reload: stopping group api (binds to db, which changes)"))
        let (stoppedAPI, termDB) = (try #require(scratch.time("stopped", "api")), try #require(scratch.time("term", "db")))
        let (readyDB, startAPI) = (try #require(scratch.time("ready", "db", occurrence: 1)), try #require(scratch.time("start", "api", occurrence: 1)))
        #expect(termDB >= stoppedAPI, "db was stopped before api, bound to it: \(scratch.events)")
        #expect(startAPI >= readyDB, "api started again before db was ready: \(scratch.events)")
        #expect(scratch.time("start", "other", occurrence: 1) == nil, "an unrelated group restarted: \(scratch.events)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aSIGTERMWhileAStartWaitsOnADependencyStopsPromptlyAndStartsNothingMore() async throws {
        // (It also reads the status line of a group waiting for another, from a fake systemd.)
        let scratch = Scratch()
        // db never becomes ready; api waits for it, and web (a group after app) waits for app.
        let db = scratch.script("db", "ev start\nexec sleep 1000")
        let config = """
            groups:
              app:
                services:
                  db: { command: [bash, \(db)], ready: { log-line: never, timeout: 60s } }
                  api: { command: [bash, \(longRunning(scratch, "api"))], after: [db] }
              web:
                after: [app]
                services: { web: { command: [bash, \(longRunning(scratch, "web"))] } }
            """
        let receiver = try NotifyReceiver(.path)
        let daemon = try RunnerdProcess(["run", "--config", temporaryConfig(config)], environment: ["NOTIFY_SOCKET": receiver.address])
        try await scratch.waitFor("start", "db")
        // The status says who waits for what, and ages with the wait.
        let status = try await receiveDatagrams(receiver, until: { $0.contains("group web waiting for app (starting, 1s)") }, timeout: .seconds(10))
        #expect(status.last?.contains("app/db starting for") == true, "\(status)")
        let stopAt = ContinuousClock.now
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit(timeout: .seconds(10)) == 0)
        #expect(ContinuousClock.now - stopAt < .seconds(3))
        #expect(scratch.time("start", "api") == nil && scratch.time("start", "web") == nil, "\(scratch.events)")
    }
}
