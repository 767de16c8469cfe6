import Glibc
import RunnerdTestSupport
import Testing

/// What systemd sees from a real `runnerd`, on a fake notify socket.
@Suite("runnerd and the notify protocol")
struct RunnerdSystemdProtocolTests {
    private func pid(of service: String, in daemon: RunnerdProcess, after count: Int = 1) async throws -> pid_t {
        let lines = try await daemon.waitForLines(containing: "service \(service) started (pid ", count: count)
        let text = lines[count - 1]
        return pid_t(text.split(separator: "(pid ").last!.dropLast())!
    }

    @Test func reloadRestartsOnlyChangedGroupsAndAFailedReloadKeepsEverythingRunning() async throws {
        let receiver = try NotifyReceiver(.path)
        let path = temporaryConfig("""
            groups:
              kept: { services: { k: { command: [sleep, "1000"] } } }
              changed: { services: { c: { command: [sleep, "1000"], environment: { V: "1" } } } }
              removed: { services: { r: { command: [sleep, "1000"] } } }
            """)
        let daemon = try RunnerdProcess(["run", "--config", path], environment: ["NOTIFY_SOCKET": receiver.address])
        _ = try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }
        let kept = try await pid(of: "k", in: daemon)
        let changed = try await pid(of: "c", in: daemon)
        let removed = try await pid(of: "r", in: daemon)

        rewriteConfig(path, """
            groups:
              kept: { services: { k: { command: [sleep, "1000"] } } }
              changed: { services: { c: { command: [sleep, "1000"], environment: { V: "2" } } } }
              added: { services: { a: { command: [sleep, "1000"] } } }
            """)
        daemon.signal(SIGHUP)
        let reload = try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }
        let reloading = try #require(reload.first)
        #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
        #expect(reloading.hasSuffix("\nSTATUS=reloading the config"))
        #expect(reload.last == "READY=1\nSTATUS=3 groups, 3/3 services ready")
        #expect(processExists(kept) && daemon.childPIDs.contains(kept))
        #expect(!processExists(changed))
        #expect(!processExists(removed))
        let restarted = try await pid(of: "c", in: daemon, after: 2)
        #expect(restarted != changed)
        _ = try await pid(of: "a", in: daemon)

        rewriteConfig(path, "groups:\n  kept: { services: { k: { command: [sleep, \"1000\"], stop-signal: SIGNOPE } } }\n")
        daemon.signal(SIGHUP)
        let failed = try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }
        #expect(failed.first?.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") == true)
        let status = try #require(failed.last)
        #expect(status.hasPrefix("READY=1\nSTATUS=3 groups, 3/3 services ready; reload failed, still running the previous config: \(path):2:"))
        #expect(status.contains("stop-signal"))
        #expect(daemon.childPIDs.contains(kept) && daemon.childPIDs.contains(restarted))

        daemon.signal(SIGTERM)
        _ = try await receiveDatagrams(receiver) { $0.hasPrefix("STOPPING=1") }
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func theMessagesOfAWholeLifeComeInOrder() async throws {
        let receiver = try NotifyReceiver(.abstract)
        let marker = "/tmp/runnerd-crashed-once-\(getpid())-\(Int.random(in: 0...1_000_000))"
        defer { unlink(marker) }
        // The crasher crashes once; after its restart it stays up.
        let path = temporaryConfig("""
            groups:
              web:
                restart-delay: 1s
                services:
                  server: { command: [sleep, "1000"] }
                  crasher: { command: [sh, -c, "if [ -e \(marker) ]; then exec sleep 1000; fi; touch \(marker); sleep 0.5; exit 3"] }
            """)
        let daemon = try RunnerdProcess(["run", "--config", path], environment: ["NOTIFY_SOCKET": receiver.address])
        var all = try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }
        // The crash, the restart back-off in the status, and READY=1 again once both run.
        all += try await receiveDatagrams(receiver) { $0.contains("group web restarting in") }
        all += try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }
        daemon.signal(SIGHUP)
        all += try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }
        let valid = readFile(path)
        rewriteConfig(path, "groups: [broken\n")
        daemon.signal(SIGHUP)
        all += try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }
        #expect(all.last?.contains("reload failed, still running the previous config: \(path):2:1: invalid YAML") == true, "\(all.last ?? "")")
        rewriteConfig(path, valid)
        daemon.signal(SIGTERM)
        all += try await receiveDatagrams(receiver) { $0.hasPrefix("STOPPING=1") }
        #expect(try await daemon.waitForExit() == 0)

        // Consecutive repeats are one phase: the status refreshes while a restart is pending.
        let markers = all.compactMap { text -> String? in
            if text.hasPrefix("READY=1") { return "READY" }
            if text.hasPrefix("RELOADING=1") { return "RELOADING" }
            if text.hasPrefix("STOPPING=1") { return "STOPPING" }
            if text.contains("restarting in") { return "RESTARTING" }
            return nil
        }.reduce(into: [String]()) { phases, marker in
            if phases.last != marker { phases.append(marker) }
        }
        #expect(markers == ["READY", "RESTARTING", "READY", "RELOADING", "READY", "RELOADING", "READY", "STOPPING"], "\(all)")
        #expect(all.allSatisfy { !$0.contains("\n\n") })
    }

    @Test func theWatchdogIsPingedAtHalfItsTimeout() async throws {
        let receiver = try NotifyReceiver(.path)
        let path = temporaryConfig("groups:\n  g: { services: { s: { command: [sleep, \"1000\"] } } }\n")
        let daemon = try RunnerdProcess(["run", "--config", path], environment: ["NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "1000000"])
        var pings: [ContinuousClock.Instant] = []
        let deadline = ContinuousClock.now + .milliseconds(3_200)
        while ContinuousClock.now < deadline {
            guard let datagram = try? await receiver.receiveAsync(timeout: .milliseconds(200)) else { continue }
            if datagram.text == "WATCHDOG=1" { pings.append(.now) }
        }
        #expect((5...8).contains(pings.count), "\(pings.count) pings in 3.2 s")
        let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 > .milliseconds(300) && $0 < .milliseconds(800) }, "\(gaps)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    /// `WATCHDOG_USEC=1` asks for a ping every half microsecond: runnerd says once that it cannot
    /// honour that and pings every 5 ms, no more often (it sent over 100,000 datagrams a second).
    @Test func aTinyWatchdogIsWarnedAboutOnceAndPingedNoMoreThanEvery5ms() async throws {
        let receiver = try NotifyReceiver(.path)
        let path = temporaryConfig("groups:\n  g: { services: { s: { command: [sleep, \"1000\"] } } }\n")
        let daemon = try RunnerdProcess(["run", "--config", path], environment: ["NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "1"])
        _ = try await receiver.receiveAsync(timeout: .seconds(10))
        var pings = 0
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(1) {
            guard let datagram = try? await receiver.receiveAsync(timeout: .milliseconds(100)) else { continue }
            if datagram.text == "WATCHDOG=1" { pings += 1 }
        }
        let elapsed = ContinuousClock.now - start
        #expect(pings > 20 && Double(pings) <= elapsed / .milliseconds(5) + 5, "\(pings) pings in \(elapsed)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        let warnings = daemon.lines.filter { $0.contains("is shorter than runnerd can honour") }
        #expect(warnings.count == 1, "\(daemon.lines)")
        #expect(warnings.first?.hasSuffix("watchdog: WatchdogSec=1us is shorter than runnerd can honour (20ms); pinging every 5ms, no more often; raise WatchdogSec=") == true)
    }

    @Test func aWatchdogMeantForAnotherProcessIsNotPinged() async throws {
        let receiver = try NotifyReceiver(.path)
        let path = temporaryConfig("groups:\n  g: { services: { s: { command: [sleep, \"1000\"] } } }\n")
        let daemon = try RunnerdProcess(["run", "--config", path], environment: [
            "NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1",
        ])
        let deadline = ContinuousClock.now + .milliseconds(1_500)
        var texts: [String] = []
        while ContinuousClock.now < deadline {
            if let datagram = try? await receiver.receiveAsync(timeout: .milliseconds(100)) { texts.append(datagram.text) }
        }
        #expect(texts.contains { $0.hasPrefix("READY=1") })
        #expect(!texts.contains("WATCHDOG=1"))
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aStoppedDaemonStopsPinging() async throws {
        let receiver = try NotifyReceiver(.path)
        let path = temporaryConfig("groups:\n  g: { services: { s: { command: [sleep, \"1000\"] } } }\n")
        let daemon = try RunnerdProcess(["run", "--config", path], environment: ["NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "400000"])
        _ = try await receiveDatagrams(receiver) { $0 == "WATCHDOG=1" }
        daemon.signal(SIGSTOP)
        defer { daemon.signal(SIGCONT) }
        // Drain what was in flight, then nothing for several intervals.
        while (try? await receiver.receiveAsync(timeout: .milliseconds(50))) != nil {}
        #expect((try? await receiver.receiveAsync(timeout: .seconds(1))) == nil)
        daemon.signal(SIGCONT)
        _ = try await receiveDatagrams(receiver) { $0 == "WATCHDOG=1" }
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aLongStopWithinItsLimitsAsksForMoreTimeAndNamesWhatItWaitsFor() async throws {
        let receiver = try NotifyReceiver(.path)
        let path = temporaryConfig("""
            defaults: { interrupt-timeout: 3s }
            groups:
              g:
                services:
                  slow: { command: [python3, -c, "import signal, sys, time\\nsignal.signal(signal.SIGTERM, lambda *_: (time.sleep(2.5), sys.exit(0)))\\nprint('handling', flush=True)\\ntime.sleep(1000)"] }
            """)
        let daemon = try RunnerdProcess(["run", "--config", path, "--stop-timeout", "2s"], environment: ["NOTIFY_SOCKET": receiver.address])
        _ = try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }
        try await daemon.waitForLine(containing: "g/slow | handling")
        let start = ContinuousClock.now
        daemon.signal(SIGTERM)
        let stopping = try await receiveDatagrams(receiver) { $0.hasPrefix("EXTEND_TIMEOUT_USEC=") }
        let extendedAfter = ContinuousClock.now - start
        #expect(stopping.first == "STOPPING=1\nSTATUS=stopping: received SIGTERM")
        #expect(stopping.contains("STATUS=stopping: waiting for g/slow"))
        #expect(stopping.last == "EXTEND_TIMEOUT_USEC=2000000")
        // 75% of the 2 s TimeoutStopSec.
        #expect(extendedAfter > .milliseconds(1_400) && extendedAfter < .milliseconds(2_000), "extended after \(extendedAfter)")
        #expect(try await daemon.waitForExit() == 0)
    }
}
