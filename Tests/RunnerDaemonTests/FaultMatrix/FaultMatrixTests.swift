import CLinuxSupport
import Glibc
import RunnerdTestSupport
import Synchronization
import Testing

/// The fault matrix: each case breaks one thing on purpose in a real `runnerd`, then checks the
/// exit code and the log line, what systemd would have heard (`READY=1`, `STOPPING=1`,
/// `STATUS=`), that nothing is left behind (the daemon's whole tree, found through /proc, and
/// anything carrying the case's marker), that no child is left a zombie, and that the daemon's
/// open file descriptors are the same after the recovery as before the fault.
///
/// The cases are independent and run in parallel; every wait is bounded.
@Suite("runnerd fault matrix")
struct FaultMatrixTests {
    // MARK: 1. A child crashes

    @Test func aCrashedChildRestartsItsGroupAndLeavesNothingBehind() async throws {
        let fault = try FaultCase("crash")
        try fault.start("""
            groups:
              g:
                restart-delay: 500ms
                services:
                  crasher: { command: [sh, -c, "ulimit -c 0; exec sleep 1000"], \(fault.environment) }
                  peer: { command: [sleep, "1000"], \(fault.environment) }
            """)
        let ready = try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        let crasher = try await fault.pid(of: "crasher")
        let peer = try await fault.pid(of: "peer")
        let fds = try await fault.steadyFDCount()

        kill(crasher, SIGSEGV)
        try await fault.daemon.waitForLine(containing: "group g: service crasher exited with signal SIGSEGV; stopped 1 other service; restarting in 500ms (restart 1 of 5)")
        try await fault.notify.waitFor(from: ready + 1) { $0.hasPrefix("READY=1\nSTATUS=1 group, 2/2 services ready") }
        let restarted = try await fault.pid(of: "crasher", nth: 2)
        #expect(restarted != crasher && !processExists(crasher) && !processExists(peer))
        // STATUS= is throttled to one per 250 ms, so a 500 ms back-off always shows.
        #expect(fault.notify.texts.contains { $0.contains("group g restarting in") }, "\(fault.notify.texts)")
        #expect(try await fault.steadyFDCount() == fds)
        #expect(try await fault.noZombies())
        fault.recordTree()

        fault.daemon.signal(SIGTERM)
        #expect(try await fault.daemon.waitForExit() == 0)
        try await fault.notify.waitFor { $0 == "STOPPING=1\nSTATUS=stopping: received SIGTERM" }
        try await fault.expectNothingLeft()
    }

    // MARK: 2. A child ignores SIGTERM

    @Test func aChildIgnoringSIGTERMIsKilledAfterItsTimeoutAtARestartAndAtTheStop() async throws {
        let fault = try FaultCase("ignore-term")
        try fault.start("""
            groups:
              g:
                restart-delay: 100ms
                services:
                  stubborn: { command: [sh, -c, "trap '' TERM; exec sleep 1000"], interrupt-timeout: 500ms, \(fault.environment) }
                  trigger: { command: [sleep, "1000"], \(fault.environment) }
            """)
        let ready = try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        let stubborn = try await fault.pid(of: "stubborn")
        let trigger = try await fault.pid(of: "trigger")
        let fds = try await fault.steadyFDCount()

        // The group stops because its other member exits; the stubborn one holds out 500 ms.
        let start = ContinuousClock.now
        kill(trigger, SIGTERM)
        try await fault.daemon.waitForLine(containing: "group g: service stubborn did not stop within 500ms; sending SIGKILL to its process group")
        try await fault.daemon.waitForLine(containing: "group g: service trigger exited with signal SIGTERM; stopped 1 other service; restarting in 100ms (restart 1 of 5)")
        let stopTook = ContinuousClock.now - start
        #expect(stopTook >= .milliseconds(450) && stopTook < .seconds(3), "the group stopped after \(stopTook)")
        #expect(!processExists(stubborn))
        try await fault.notify.waitFor(from: ready + 1) { $0.hasPrefix("READY=1") }
        _ = try await fault.pid(of: "stubborn", nth: 2)
        #expect(try await fault.steadyFDCount() == fds)
        #expect(try await fault.noZombies())
        fault.recordTree()

        // At the daemon's stop it holds out again: SIGKILL, exit 1, and the log names it.
        fault.daemon.signal(SIGTERM)
        #expect(try await fault.daemon.waitForExit() == 1)
        #expect(fault.daemon.output.contains("group g: stubborn had to be killed during the stop"))
        #expect(fault.daemon.output.contains("stopped; exit code 1"))
        try await fault.notify.waitFor { $0.hasPrefix("STOPPING=1") }
        try await fault.expectNothingLeft()
    }

    // MARK: 3. A grandchild double-forks and escapes into its own session

    @Test func aGrandchildThatEscapesIntoItsOwnSessionIsStoppedWithItsService() async throws {
        let fault = try FaultCase("escape")
        // The subshell forks `setsid sleep` and exits at once: the sleep, in a session of its own,
        // is re-parented to runnerd, the child subreaper.
        try fault.start("""
            groups:
              g:
                restart-delay: 100ms
                services:
                  spawner: { command: [sh, -c, "(setsid sleep 1000 &); echo spawned; exec sleep 1000"], \(fault.environment) }
                  trigger: { command: [sleep, "1000"], \(fault.environment) }
            """)
        let ready = try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        let spawner = try await fault.pid(of: "spawner")
        let trigger = try await fault.pid(of: "trigger")
        let escaped = try await escapees(of: fault, excluding: [spawner, trigger], count: 1)
        let first = try #require(escaped.first)
        let entry = try #require(processes().first { $0.pid == first })
        #expect(entry.parent == fault.daemon.pid, "the escapee is re-parented to runnerd")
        #expect(entry.session == first && entry.session != spawner, "the escapee leads a session of its own")
        let fds = try await fault.steadyFDCount()

        // A group restart stops the escapee with its service, before the group starts again.
        kill(trigger, SIGTERM)
        try await fault.daemon.waitForLine(containing: "group g: service spawner left 1 process outside its process group (pid \(first)); sending it SIGTERM")
        try await fault.notify.waitFor(from: ready + 1) { $0.hasPrefix("READY=1") }
        let spawner2 = try await fault.pid(of: "spawner", nth: 2)
        let trigger2 = try await fault.pid(of: "trigger", nth: 2)
        #expect(!processExists(first))
        let second = try await escapees(of: fault, excluding: [spawner2, trigger2], count: 1)
        #expect(second.count == 1 && second != escaped, "exactly one escapee, the new run's: \(second)")
        #expect(try await fault.steadyFDCount() == fds)
        #expect(try await fault.noZombies())
        fault.recordTree()

        // At the daemon's stop, the new escapee goes too.
        fault.daemon.signal(SIGTERM)
        #expect(try await fault.daemon.waitForExit() == 0)
        #expect(fault.daemon.output.contains("group g: service spawner left 1 process outside its process group (pid \(second[0])); sending it SIGTERM"))
        try await fault.notify.waitFor { $0.hasPrefix("STOPPING=1") }
        try await fault.expectNothingLeft()
    }

    @Test func anEscapedProcessIgnoringSIGTERMIsKilledWithinItsServicesInterruptTimeout() async throws {
        let fault = try FaultCase("escape-stubborn")
        // The escapee inherits the subshell's ignored SIGTERM.
        try fault.start("""
            groups:
              g:
                restart-delay: 100ms
                services:
                  spawner: { command: [sh, -c, "(trap '' TERM; setsid sleep 1000 &); exec sleep 1000"], interrupt-timeout: 500ms, \(fault.environment) }
                  trigger: { command: [sleep, "1000"], \(fault.environment) }
            """)
        let ready = try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        let spawner = try await fault.pid(of: "spawner")
        let trigger = try await fault.pid(of: "trigger")
        let escaped = try await escapees(of: fault, excluding: [spawner, trigger], count: 1)
        let fds = try await fault.steadyFDCount()

        let start = ContinuousClock.now
        kill(trigger, SIGTERM)
        try await fault.daemon.waitForLine(containing: "group g: service spawner left 1 process outside its process group (pid \(escaped[0])); sending it SIGTERM")
        try await fault.daemon.waitForLine(containing: "group g: service spawner did not stop within 500ms; sending SIGKILL to its process group")
        try await fault.daemon.waitForLine(containing: "group g: service trigger exited with signal SIGTERM; stopped 1 other service; restarting in 100ms (restart 1 of 5)")
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(450) && took < .seconds(3), "the group stopped after \(took)")
        #expect(!processIsAlive(escaped[0]))
        try await fault.notify.waitFor(from: ready + 1) { $0.hasPrefix("READY=1") }
        let spawner2 = try await fault.pid(of: "spawner", nth: 2)
        let trigger2 = try await fault.pid(of: "trigger", nth: 2)
        _ = try await escapees(of: fault, excluding: [spawner2, trigger2], count: 1)
        #expect(try await fault.steadyFDCount() == fds)
        #expect(try await fault.noZombies())

        fault.daemon.signal(SIGTERM)
        #expect(try await fault.daemon.waitForExit() == 1)
        #expect(fault.daemon.output.contains("group g: spawner had to be killed during the stop"))
        try await fault.notify.waitFor { $0.hasPrefix("STOPPING=1") }
        try await fault.expectNothingLeft()
    }

    /// Waits until exactly `count` processes carry the marker outside the daemon's direct
    /// children `excluding`, and none of them is in the daemon's tree only through a service.
    private func escapees(of fault: FaultCase, excluding: [pid_t], count: Int) async throws -> [pid_t] {
        var found: [pid_t] = []
        let settled = try await eventually(timeout: .seconds(10)) {
            found = markedProcesses(fault.marker).filter { !excluding.contains($0) }
            return found.count == count && found.allSatisfy { parentPIDOf($0) == fault.daemon.pid }
        }
        if !settled { throw TestTimeout(description: "expected \(count) escaped processes; found:\n\(describe(found))") }
        fault.recordTree()
        return found
    }

    // MARK: 4. A child closes its stdout and stderr and keeps running

    @Test func aChildThatClosesItsOutputKeepsRunningAndStopsNormally() async throws {
        let fault = try FaultCase("close-output")
        try fault.start("""
            groups:
              g:
                restart-delay: 100ms
                services:
                  mute:
                    command: [python3, -c, "import os, signal\\nsignal.signal(signal.SIGUSR1, lambda *_: (os.close(1), os.close(2)))\\nprint('talking', flush=True)\\nwhile True: signal.pause()"]
                    \(fault.environment)
                  trigger: { command: [sleep, "1000"], \(fault.environment) }
            """)
        let ready = try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        try await fault.daemon.waitForLine(containing: "g/mute | talking")
        let mute = try await fault.pid(of: "mute")
        let trigger = try await fault.pid(of: "trigger")
        let fds = try await fault.steadyFDCount()

        // The daemon reads end of file on both pipes and lets go of them; the service runs on.
        kill(mute, SIGUSR1)
        let released = try await eventually(timeout: .seconds(5)) { openFDCount(of: fault.daemon.pid) == fds - 2 }
        #expect(released, "runnerd holds \(openFDCount(of: fault.daemon.pid)) fds; \(fds - 2) expected once both pipes closed")
        try await Task.sleep(for: .milliseconds(200))
        #expect(processExists(mute) && fault.daemon.childPIDs.contains(mute))
        #expect(!fault.daemon.output.contains("service mute exited"))
        #expect(fault.notify.texts.last?.contains("2/2 services ready") == true, "\(fault.notify.texts)")

        // A restart gives it fresh pipes: the same descriptors as before the fault.
        kill(trigger, SIGTERM)
        try await fault.notify.waitFor(from: ready + 1) { $0.hasPrefix("READY=1") }
        _ = try await fault.daemon.waitForLines(containing: "g/mute | talking", count: 2)
        #expect(!processExists(mute))
        #expect(try await fault.steadyFDCount() == fds)
        #expect(try await fault.noZombies())
        fault.recordTree()

        // A mute service stops as promptly as any: its exit is seen through waitpid, not its pipes.
        let second = try await fault.pid(of: "mute", nth: 2)
        kill(second, SIGUSR1)
        _ = try await eventually(timeout: .seconds(5)) { openFDCount(of: fault.daemon.pid) == fds - 2 }
        let start = ContinuousClock.now
        fault.daemon.signal(SIGTERM)
        #expect(try await fault.daemon.waitForExit() == 0)
        #expect(ContinuousClock.now - start < .seconds(2))
        try await fault.notify.waitFor { $0.hasPrefix("STOPPING=1") }
        try await fault.expectNothingLeft()
    }

    // MARK: 5. A child floods its output: 1 GiB without a newline

    @Test func aFloodWithoutNewlinesKeepsTheDaemonSmallAndItsStopPrompt() async throws {
        let fault = try FaultCase("flood")
        // The daemon's stdout is a pipe this test drains, so the flood costs no disk.
        // Close-on-exec, so that no other test's child inherits the write end and holds it open.
        var output: [Int32] = [-1, -1]
        #expect(runnerd_pipe_cloexec(&output) == 0)
        let drained = Drain(fd: output[0])
        try fault.start("""
            groups:
              g:
                services:
                  flood: { command: [sh, -c, "yes | tr -d '\\\\n'"], \(fault.environment) }
                  peer: { command: [sleep, "1000"], \(fault.environment) }
            """, stdoutFD: output[1])
        close(output[1])
        try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        fault.recordTree()
        let baseline = try #require(residentKiB(of: fault.daemon.pid))
        let fds = openFDCount(of: fault.daemon.pid)

        let gibibyte = 1 << 30
        var peak = baseline
        let through = try await eventually(timeout: .seconds(60)) {
            peak = max(peak, residentKiB(of: fault.daemon.pid) ?? 0)
            return drained.bytes >= gibibyte
        }
        #expect(through, "only \(drained.bytes) bytes forwarded")
        #expect(peak - baseline < 16 * 1024, "runnerd grew from \(baseline) KiB to \(peak) KiB while forwarding the flood")
        #expect(openFDCount(of: fault.daemon.pid) == fds)
        #expect(zombieChildren(of: fault.daemon.pid).isEmpty)
        fault.recordTree()

        // It stops on time in the middle of the flood.
        let start = ContinuousClock.now
        fault.daemon.signal(SIGTERM)
        #expect(try await fault.daemon.waitForExit() == 0)
        #expect(ContinuousClock.now - start < .seconds(2), "stopped after \(ContinuousClock.now - start)")
        try await fault.notify.waitFor { $0.hasPrefix("STOPPING=1") }
        #expect(try await drained.finished() > gibibyte)
        try await fault.expectNothingLeft()
    }

    // MARK: 6. A crash loop under back-off

    @Test func aCrashLoopBacksOffWithoutLeakingThenGivesUpAndStopsTheDaemon() async throws {
        let fault = try FaultCase("crash-loop")
        // Each run crashes (exit 3) when the test says so, so that the daemon's descriptors can
        // be compared at the same point of every run, however busy the machine is.
        try fault.start("""
            groups:
              loop:
                restart-delay: 100ms
                restart-delay-max: 400ms
                max-restarts: 3
                services:
                  boom: { command: [sh, -c, "trap 'exit 3' USR1; echo armed; sleep 1000 & wait"], \(fault.environment) }
            """)
        try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        var samples: [Int] = []
        for run in 1...4 {
            _ = try await fault.daemon.waitForLines(containing: "loop/boom | armed", count: run)
            let boom = try await fault.pid(of: "boom", nth: run)
            samples.append(try await fault.steadyFDCount())
            #expect(try await fault.noZombies())
            fault.recordTree()
            kill(boom, SIGUSR1)
        }
        #expect(Set(samples).count == 1, "runnerd's fds in each run: \(samples)")
        #expect(try await fault.daemon.waitForExit() == 1)
        for (restart, delay) in zip(1...3, ["100ms", "200ms", "400ms"]) {
            #expect(fault.daemon.output.contains("group loop: service boom exited with status 3; restarting in \(delay) (restart \(restart) of 3)"))
        }
        #expect(fault.daemon.output.contains("group loop: service boom exited with status 3; giving up because it was restarted 3 times within 5m"))
        #expect(fault.daemon.output.contains("required group loop gave up (service boom exited with status 3, and it was restarted 3 times within 5m); stopping runnerd"))
        let texts = fault.notify.texts
        // STATUS= is throttled to one per 250 ms: the 400 ms back-off always shows.
        #expect(texts.contains { $0.contains("group loop restarting in") }, "\(texts)")
        #expect(texts.contains("STOPPING=1\nSTATUS=stopping: required group loop gave up"), "\(texts)")
        try await fault.expectNothingLeft()
    }

    // MARK: 7. A missing binary

    @Test func aBinaryRemovedAfterLoadingFailsToSpawnUntilItIsBack() async throws {
        let fault = try FaultCase("missing-binary")
        var template = Array("/tmp/runnerd-fault-bin-XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        let program = directory + "/prog"
        func install() {
            let fd = open(program, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
            _ = "#!/bin/sh\nexec sleep 1000\n".withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
        install()
        defer {
            unlink(program)
            rmdir(directory)
        }
        try fault.start("""
            groups:
              g:
                restart-delay: 300ms
                restart-delay-max: 300ms
                max-restarts: 20
                services:
                  prog: { command: [\(program)], \(fault.environment) }
                  peer: { command: [sleep, "1000"], \(fault.environment) }
            """)
        let ready = try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        let prog = try await fault.pid(of: "prog")
        let fds = try await fault.steadyFDCount()

        unlink(program)
        kill(prog, SIGTERM)
        try await fault.daemon.waitForLine(containing: "group g: service prog failed to start: cannot execute \(program): No such file or directory; check the command's path; stopped 1 other service; restarting in 300ms")
        #expect(try await fault.noZombies())
        fault.recordTree()
        // The status says which group is waiting to restart, and no READY=1 went out meanwhile.
        #expect(fault.notify.texts[(ready + 1)...].allSatisfy { !$0.hasPrefix("READY=1") })

        install()
        try await fault.notify.waitFor(from: ready + 1) { $0.hasPrefix("READY=1\nSTATUS=1 group, 2/2 services ready") }
        #expect(try await fault.steadyFDCount() == fds)
        #expect(try await fault.noZombies())
        fault.recordTree()

        try await fault.stopCleanly()
    }

    // MARK: 8. An unknown user

    @Test(.enabled(if: getuid() == 0 && access("/usr/sbin/useradd", X_OK) == 0, "adding a user needs root and useradd"))
    func aUserDeletedAfterLoadingKeepsItsUidUntilAReloadRejectsTheConfig() async throws {
        let fault = try FaultCase("unknown-user")
        let user = "rdfault\(UInt32.random(in: 0...999_999))"
        #expect(try await runCommand(["/usr/sbin/useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user]) == 0)
        defer { _ = try? runCommandSync(["/usr/sbin/userdel", "--force", user]) }
        let yaml = """
            groups:
              g:
                restart-delay: 100ms
                services:
                  worker: { command: [sh, -c, "echo uid $(id -u); exec sleep 1000"], user: \(user), \(fault.environment) }
                  trigger: { command: [sleep, "1000"], \(fault.environment) }
            """
        try fault.start(yaml)
        let ready = try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        let uidLine = try await fault.daemon.waitForLine(containing: "g/worker | uid ")
        let uid = try #require(uidLine.split(separator: " ").last.map(String.init))
        #expect(uid != "0")
        let trigger = try await fault.pid(of: "trigger")
        let fds = try await fault.steadyFDCount()

        // The user goes away. Users are resolved when the config is loaded, so a restart runs
        // the service under the same uid, which the kernel still accepts.
        #expect(try await runCommand(["/usr/sbin/userdel", "--force", user]) == 0)
        kill(trigger, SIGTERM)
        let restarted = try await fault.notify.waitFor(from: ready + 1) { $0.hasPrefix("READY=1") }
        let uids = try await fault.daemon.waitForLines(containing: "g/worker | uid ", count: 2)
        #expect(uids[1].hasSuffix(" \(uid)"))

        // A reload resolves users again: the config is now invalid, and the old one keeps running.
        let worker = try await fault.pid(of: "worker", nth: 2)
        fault.daemon.signal(SIGHUP)
        let status = try await fault.notify.waitFor(from: restarted + 1) { $0.hasPrefix("READY=1") }
        #expect(fault.notify.texts[status] == "READY=1\nSTATUS=1 group, 2/2 services ready; reload failed, still running the previous config: \(fault.configPath):5:80: groups.g.services.worker.user: \"\(user)\" is not a user on this host; create it (useradd) or fix the name")
        try await fault.daemon.waitForLine(containing: "reload: \(fault.configPath) is invalid; keeping the running config")
        #expect(processExists(worker) && fault.daemon.childPIDs.contains(worker))
        #expect(try await fault.steadyFDCount() == fds)
        #expect(try await fault.noZombies())
        fault.recordTree()

        try await fault.stopCleanly()
    }

    // MARK: 9. The daemon itself gets SIGKILL

    @Test func noChildSurvivesTheDaemonsSIGKILL() async throws {
        let fault = try FaultCase("daemon-killed")
        // Direct children only: PR_SET_PDEATHSIG is per process and not inherited by a fork.
        // Outside systemd a grandchild outlives a SIGKILLed daemon (re-parented to init); under
        // systemd the unit's cgroup is emptied instead (the end-to-end harness covers that).
        try fault.start("""
            groups:
              a:
                services:
                  one: { command: [sleep, "1000"], \(fault.environment) }
                  two: { command: [sh, -c, "trap '' TERM; exec sleep 1000"], \(fault.environment) }
              b:
                services:
                  three: { command: [python3, -c, "import time; time.sleep(1000)"], \(fault.environment) }
            """)
        try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        _ = try await fault.daemon.waitForLines(containing: " started (pid ", count: 3)
        let children = fault.recordTree()
        #expect(children.count == 3)

        fault.daemon.signal(SIGKILL)
        #expect(try await fault.daemon.waitForExit() == 128 + SIGKILL)
        try await fault.expectNothingLeft()
        #expect(!fault.notify.texts.contains { $0.hasPrefix("STOPPING=1") })
    }

    // MARK: 10. The daemon hangs

    @Test func aHungDaemonSendsNoWatchdogPingsAndResumesThemWhenItContinues() async throws {
        let fault = try FaultCase("hang")
        try fault.start("""
            groups:
              g:
                services:
                  s: { command: [sleep, "1000"], \(fault.environment) }
            """, environment: ["WATCHDOG_USEC": "200000"])
        try await fault.notify.waitFor { $0 == "WATCHDOG=1" }
        let service = try await fault.pid(of: "s")
        let fds = try await fault.steadyFDCount()

        fault.daemon.signal(SIGSTOP)
        #expect(try await eventually(timeout: .seconds(5)) { processState(fault.daemon.pid) == "T" })
        // A ping may still be on its way to the receiver; after a quiet 200 ms, nothing for six
        // ping intervals.
        _ = try await eventually(timeout: .seconds(5)) {
            guard let last = fault.notify.timed.last else { return true }
            return ContinuousClock.now - last.at > .milliseconds(200)
        }
        let hung = fault.notify.texts.count
        try await Task.sleep(for: .milliseconds(600))
        #expect(fault.notify.texts.count == hung, "sent while stopped: \(fault.notify.texts[hung...])")
        #expect(processExists(service) && fault.daemon.childPIDs.contains(service))

        // Pings resume at once, one per 100 ms (half of WATCHDOG_USEC), without a burst to catch
        // up: over a measured stretch, no more than its length allows.
        fault.daemon.signal(SIGCONT)
        let resumed = try await fault.notify.waitFor(from: hung, timeout: .seconds(2)) { $0 == "WATCHDOG=1" }
        let from = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(600))
        let pings = fault.notify.texts[resumed...].filter { $0 == "WATCHDOG=1" }.count
        let elapsed = ContinuousClock.now - from
        #expect(pings >= 3 && pings <= Int(elapsed / .milliseconds(100)) + 3, "\(pings) pings in the \(elapsed) after resuming")
        #expect(try await fault.steadyFDCount() == fds)
        #expect(try await fault.noZombies())
        fault.recordTree()

        try await fault.stopCleanly()
    }

    // MARK: 11. A stop exceeds the interrupt timeout

    @Test func aStopPastTheInterruptTimeoutKillsTheServiceExits1AndNamesIt() async throws {
        let fault = try FaultCase("slow-stop")
        // It handles SIGTERM, but takes 30 s to do it: far past its 500 ms.
        try fault.start("""
            groups:
              g:
                group-interrupt-timeout: 10s
                services:
                  slow: { command: [sh, -c, "trap 'sleep 30; exit 0' TERM; echo armed; sleep 1000 & wait"], interrupt-timeout: 500ms, \(fault.environment) }
                  quick: { command: [sleep, "1000"], \(fault.environment) }
            """)
        try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        try await fault.daemon.waitForLine(containing: "g/slow | armed")
        fault.recordTree()

        let start = ContinuousClock.now
        fault.daemon.signal(SIGTERM)
        #expect(try await fault.daemon.waitForExit() == 1)
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(450) && took < .seconds(3), "stopped after \(took)")
        #expect(fault.daemon.output.contains("group g: service slow did not stop within 500ms; sending SIGKILL to its process group"))
        #expect(fault.daemon.output.contains("group g: slow had to be killed during the stop"))
        #expect(fault.daemon.output.contains("stopped; exit code 1"))
        let texts = fault.notify.texts
        #expect(texts.contains("STOPPING=1\nSTATUS=stopping: received SIGTERM"), "\(texts)")
        #expect(texts.contains("STATUS=stopping: waiting for g/slow"), "\(texts)")
        try await fault.expectNothingLeft()
    }

    // MARK: 12. A bad config at start

    @Test func aBadConfigAtStartStartsNothingAndExits78() async throws {
        let fault = try FaultCase("bad-config")
        try fault.start("""
            groups:
              g:
                services:
                  s: { command: [sleep, "1000"], stop-signal: SIGNOPE, \(fault.environment) }
            """)
        #expect(try await fault.daemon.waitForExit() == 78)
        #expect(fault.daemon.output.contains("\(fault.configPath):4:51: groups.g.services.s.stop-signal: \"SIGNOPE\" is not a signal"), "\(fault.daemon.output)")
        #expect(fault.daemon.output.contains("invalid config \(fault.configPath); nothing started"))
        // Nothing was started, so nothing was announced.
        try await Task.sleep(for: .milliseconds(200))
        #expect(fault.notify.texts.isEmpty, "\(fault.notify.texts)")
        #expect(markedProcesses(fault.marker).isEmpty)
    }

    // MARK: 13. A bad config on reload

    @Test func aBadConfigOnReloadKeepsTheDaemonAndItsServicesRunning() async throws {
        let fault = try FaultCase("bad-reload")
        let good = """
            groups:
              g:
                services:
                  s: { command: [sleep, "1000"], \(fault.environment) }
                  t: { command: [sleep, "1000"], \(fault.environment) }
            """
        try fault.start(good)
        let ready = try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        let services = [try await fault.pid(of: "s"), try await fault.pid(of: "t")]
        let fds = try await fault.steadyFDCount()

        fault.rewriteConfig("groups:\n  g: { services: { s: { command: [sleep, \"1000\"], interrupt-timeout: soon } } }\n")
        fault.daemon.signal(SIGHUP)
        let reloading = try await fault.notify.waitFor(from: ready + 1) { $0.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") }
        let answer = try await fault.notify.waitFor(from: reloading + 1) { $0.hasPrefix("READY=1") }
        #expect(fault.notify.texts[answer] == "READY=1\nSTATUS=1 group, 2/2 services ready; reload failed, still running the previous config: \(fault.configPath):2:70: groups.g.services.s.interrupt-timeout: \"soon\" is not a duration; write e.g. 10s, 250ms or 1m30s")
        try await fault.daemon.waitForLine(containing: "reload: \(fault.configPath) is invalid; keeping the running config")
        #expect(services.allSatisfy { processExists($0) && fault.daemon.childPIDs.contains($0) })
        #expect(try await fault.steadyFDCount() == fds)

        // Fixed, and reloaded: the error is gone from the status, and nothing was restarted.
        fault.rewriteConfig(good)
        fault.daemon.signal(SIGHUP)
        let fixed = try await fault.notify.waitFor(from: answer + 1) { $0.hasPrefix("READY=1") }
        #expect(fault.notify.texts[fixed] == "READY=1\nSTATUS=1 group, 2/2 services ready")
        #expect(services.allSatisfy { processExists($0) })
        #expect(try await fault.steadyFDCount() == fds)
        #expect(try await fault.noZombies())
        fault.recordTree()

        try await fault.stopCleanly()
    }

    // MARK: 14. A stranger sends READY=1 to the relay

    @Test func aStrangersReadyOnTheRelayIsIgnored() async throws {
        let fault = try FaultCase("stranger")
        // The service says READY=1 only when the test sends it SIGUSR1.
        try fault.start("""
            groups:
              g:
                services:
                  late:
                    command: [sh, -c, "trap 'systemd-notify --ready' USR1; echo waiting; sleep 1000 & wait; wait"]
                    ready: { notify: { timeout: 30s } }
                    \(fault.environment)
            """)
        try await fault.daemon.waitForLine(containing: "g/late | waiting")
        let late = try await fault.pid(of: "late")
        let socket = try #require(environmentVariable("NOTIFY_SOCKET", of: late))
        #expect(socket != fault.notify.address)
        let fds = try await fault.steadyFDCount()

        #expect(sendDatagram("READY=1", to: socket))
        try await fault.daemon.waitForLine(containing: "notify relay for g/late: ignored 1 message from pid \(getpid()), which is not part of the service")
        try await Task.sleep(for: .milliseconds(300))
        #expect(!fault.notify.texts.contains { $0.hasPrefix("READY=1") }, "\(fault.notify.texts)")
        #expect(try await fault.steadyFDCount() == fds)

        kill(late, SIGUSR1)
        let ready = try await fault.notify.waitFor { $0.hasPrefix("READY=1") }
        #expect(fault.notify.texts[ready] == "READY=1\nSTATUS=1 group, 1/1 services ready")
        try await fault.daemon.waitForLine(containing: "group g: service late is ready")
        #expect(try await fault.noZombies())
        fault.recordTree()

        try await fault.stopCleanly()
    }

    // MARK: 15. A pathological log-line pattern

    @Test func aPathologicalLogLinePatternTimesOutOnTimeWhileEverythingElseRuns() async throws {
        let fault = try FaultCase("pathological-pattern")
        // A backtracking engine takes about 1.6^100 steps to fail `^(a|aa)+$` on this line, on
        // the event loop: no other output, no timeout and no stop would ever happen.
        let line = String(repeating: "a", count: 100) + "!"
        try fault.start("""
            groups:
              slow:
                max-restarts: 0
                services:
                  patho:
                    command: [sh, -c, "echo armed; while :; do echo \(line); sleep 0.02; done"]
                    ready: { log-line: "^(a|aa)+$", timeout: 1s }
                    \(fault.environment)
              other:
                services:
                  ticker: { command: [sh, -c, "while :; do echo tick; sleep 0.05; done"], \(fault.environment) }
            """)
        try await fault.daemon.waitForLine(containing: "slow/patho | armed")
        let armed = ContinuousClock.now
        _ = try await fault.pid(of: "patho")
        _ = try await fault.pid(of: "ticker")
        fault.recordTree()
        #expect(try await fault.noZombies())

        // The required group gives up when its probe times out, which stops runnerd with exit 1.
        #expect(try await fault.daemon.waitForExit(timeout: .seconds(10)) == 1)
        let took = ContinuousClock.now - armed
        #expect(took > .milliseconds(900) && took < .seconds(2), "runnerd stopped \(took) after the service started")
        let lines = fault.daemon.lines
        let reason = "service patho was not ready: no output line matched /^(a|aa)+$/ within 1s"
        #expect(lines.contains { $0.hasSuffix("group slow: \(reason); giving up because max-restarts is 0") })
        #expect(lines.contains { $0.hasSuffix("required group slow gave up (\(reason), and max-restarts is 0); stopping runnerd") })
        #expect(lines.contains { $0.hasSuffix("stopped; exit code 1") })
        // Output flowed throughout: a tick every 50 ms and a pathological line every 20 ms, for 1 s.
        let ticks = lines.filter { $0 == "other/ticker | tick" }.count
        let pathological = lines.filter { $0 == "slow/patho | \(line)" }.count
        #expect(ticks >= 10, "\(ticks) lines of the other group")
        #expect(pathological >= 25, "\(pathological) lines of the service itself")
        let texts = fault.notify.texts
        #expect(!texts.contains { $0.hasPrefix("READY=1") }, "\(texts)")
        #expect(texts.last == "STOPPING=1\nSTATUS=stopping: required group slow gave up", "\(texts)")
        try await fault.expectNothingLeft()
    }

    /// systemd's notify socket is bound but never read (a busy or stuck PID 1): its queue fills
    /// up, and a blocking send would freeze the event loop. Output must keep flowing, a crashing
    /// group must keep restarting, and SIGTERM must still stop everything within its limits.
    @Test func aDeafNotifySocketStallsNeitherOutputNorRestartsNorTheStop() async throws {
        let fault = try FaultCase("deaf-notify")
        let deaf = try NotifyReceiver(.path)
        try fault.start("""
            groups:
              crash:
                restart: always
                restart-delay: 50ms
                restart-delay-max: 50ms
                max-restarts: 1000
                services:
                  blip: { command: [sh, -c, "sleep 0.1; exit 1"], \(fault.environment) }
              other:
                services:
                  ticker: { command: [sh, -c, "while :; do echo tick; sleep 0.05; done"], \(fault.environment) }
            """, environment: ["NOTIFY_SOCKET": deaf.address])
        _ = try await fault.pid(of: "ticker")
        // Every restart changes the status: far more datagrams than the socket's queue holds.
        _ = try await fault.daemon.waitForLines(containing: "group crash: service blip exited with status 1", count: 10, timeout: .seconds(10))
        let ticksBefore = fault.daemon.lines.filter { $0 == "other/ticker | tick" }.count
        let restartsBefore = fault.daemon.lines.filter { $0.contains("group crash: service blip exited") }.count
        // A tick every 50 ms and a restart every 150 ms or so: over a second, even a loaded machine
        // shows a quarter of them.
        try await Task.sleep(for: .seconds(1))
        let lines = fault.daemon.lines
        #expect(lines.filter { $0 == "other/ticker | tick" }.count >= ticksBefore + 5, "output stalled")
        #expect(lines.filter { $0.contains("group crash: service blip exited") }.count >= restartsBefore + 2, "restarts stalled")
        #expect(lines.contains { $0.contains("is not reading") }, "no warning that systemd is not reading: \(lines.suffix(20))")
        fault.recordTree()
        #expect(try await fault.noZombies())

        let stop = ContinuousClock.now
        fault.daemon.signal(SIGTERM)
        #expect(try await fault.daemon.waitForExit(timeout: .seconds(10)) == 0)
        let took = ContinuousClock.now - stop
        // Groups stop at once; the last notify messages get one more second to go out.
        #expect(took < .seconds(3), "the stop took \(took)")
        try await fault.expectNothingLeft()
    }
}

/// Reads a pipe to its end on a thread of its own, counting the bytes and keeping none.
private final class Drain: Sendable {
    private final class Counter: Sendable {
        let value = Atomic(0)
    }

    private let counter = Counter()
    private let done: Task<Int, any Error>

    init(fd: Int32) {
        let counter = self.counter
        done = Task.detached {
            try await onOwnThread {
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let got = read(fd, &buffer, buffer.count)
                    if got < 0 && errno == EINTR { continue }
                    if got <= 0 { break }
                    counter.value.add(got, ordering: .relaxed)
                }
                close(fd)
                return counter.value.load(ordering: .relaxed)
            }
        }
    }

    /// Bytes read so far.
    var bytes: Int { counter.value.load(ordering: .relaxed) }

    /// Waits until the writer closed the pipe; returns the total.
    func finished() async throws -> Int {
        try await done.value
    }
}

/// The parent pid of `pid`, or nil once it is gone.
private func parentPIDOf(_ pid: pid_t) -> pid_t? {
    processes().first { $0.pid == pid }?.parent
}

/// Runs a command to its end and returns its exit status; its output is discarded.
private func runCommand(_ argv: [String]) async throws -> Int32 {
    try await onOwnThread { try runCommandSync(argv) }
}

private func runCommandSync(_ argv: [String]) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let arguments = argv.map { strdup($0) } + [nil]
    defer { arguments.forEach { free($0) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, argv[0], &actions, nil, arguments, environ) == 0 else {
        throw TestTimeout(description: "cannot run \(argv[0])")
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status >> 8) & 0xff
}
