import Glibc
import RunnerdTestSupport
import Testing

/// The promises made to systemd, from a real `runnerd` on a fake notify socket: the order and the
/// timing of READY=1 and STOPPING=1 against what the services do.
@Suite("runnerd's lifecycle against a fake systemd")
struct RunnerdLifecycleTests {
    /// Reads datagrams until one satisfies `matches`; returns everything read, each with the time
    /// it was read.
    private func receive(
        _ receiver: NotifyReceiver, until matches: (String) -> Bool, timeout: Duration = .seconds(20)
    ) async throws -> [(text: String, at: ContinuousClock.Instant)] {
        var seen: [(String, ContinuousClock.Instant)] = []
        let deadline = Deadline(after: timeout)
        while !deadline.hasPassed {
            let text = try await receiver.receiveAsync(timeout: .milliseconds(Int64(max(1, deadline.remainingMilliseconds)))).text
            seen.append((text, .now))
            if matches(text) { return seen }
        }
        throw TestTimeout(description: "no matching datagram within \(timeout); got \(seen.map(\.0))")
    }

    private func write(_ text: String, to path: String) {
        let fd = open(path, O_WRONLY | O_TRUNC)
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// A group whose service needs 1.5 s to stop (it finishes its work on SIGTERM) and 1 s to
    /// become ready (a log-line probe). A reload that changes it must not send READY=1 before the
    /// new run is ready: at least 2.5 s after RELOADING=1. (It went out 1 ms after.)
    @Test func readyAfterAReloadComesOnlyOnceTheChangedGroupIsReadyAgain() async throws {
        let receiver = try NotifyReceiver(.path)
        let config = { (version: Int) in
            """
            groups:
              web: { services: { w: { command: [sleep, "1000"] } } }
              batch:
                services:
                  slow:
                    command: [sh, -c, "trap 'sleep 1.5; exit 0' TERM; sleep 1; echo up; while :; do sleep 0.05; done"]
                    environment: { VERSION: "\(version)" }
                    ready: { log-line: "^up$", timeout: 10s }
            """
        }
        let path = temporaryConfig(config(1))
        defer { unlink(path) }
        let daemon = try RunnerdProcess(["run", "--config", path], environment: ["NOTIFY_SOCKET": receiver.address])
        _ = try await receive(receiver) { $0.hasPrefix("READY=1") }

        write(config(2), to: path)
        daemon.signal(SIGHUP)
        let reload = try await receive(receiver) { $0.hasPrefix("READY=1") }
        let reloading = try #require(reload.first { $0.text.hasPrefix("RELOADING=1") })
        let ready = try #require(reload.last)
        #expect(ready.text == "READY=1\nSTATUS=2 groups, 2/2 services ready")
        #expect(ready.at - reloading.at >= .milliseconds(2_400), "READY=1 came \(ready.at - reloading.at) after RELOADING=1")
        let upLines = daemon.lines.filter { $0 == "batch/slow | up" }
        #expect(upLines.count == 2)

        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    /// STOPPING=1 must reach systemd before any service hears of the stop. Each service tells the
    /// same fake notify socket when SIGTERM arrives, so the socket's queue, filled in the order the
    /// kernel received the datagrams, shows which came first.
    @Test func stoppingReachesSystemdBeforeAnyServiceGetsItsStopSignal() async throws {
        let receiver = try NotifyReceiver(.path)
        let script = """
            import os, signal, socket, sys, time
            def stopped(number, frame):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.sendto(("GOT_SIGTERM=" + os.environ["NAME"]).encode(), os.environ["FAKE_SYSTEMD"])
                sys.exit(0)
            signal.signal(signal.SIGTERM, stopped)
            print("up", flush=True)
            while True: time.sleep(1)
            """
        let services = (1...4).map { index in
            "      s\(index): { command: [python3, -c, \(yamlQuoted(script))], environment: { NAME: s\(index), FAKE_SYSTEMD: \"\(receiver.address)\" }, ready: { log-line: up } }"
        }
        let path = temporaryConfig("groups:\n  g:\n    services:\n" + services.joined(separator: "\n") + "\n  h:\n    services:\n      t: { command: [sleep, \"1000\"] }\n")
        defer { unlink(path) }
        let daemon = try RunnerdProcess(["run", "--config", path], environment: ["NOTIFY_SOCKET": receiver.address, "PATH": "/usr/bin:/bin"])
        _ = try await receive(receiver) { $0.hasPrefix("READY=1") }

        daemon.signal(SIGTERM)
        var got: [String] = []
        let stop = try await receive(receiver) { text in
            if text.hasPrefix("GOT_SIGTERM=") { got.append(text) }
            return got.count == 4
        }
        let texts = stop.map(\.text)
        let stopping = try #require(texts.firstIndex { $0.hasPrefix("STOPPING=1") }, "\(texts)")
        let firstSignal = try #require(texts.firstIndex { $0.hasPrefix("GOT_SIGTERM=") })
        #expect(stopping < firstSignal, "\(texts)")
        #expect(try await daemon.waitForExit() == 0)
    }

    private func yamlQuoted(_ text: String) -> String {
        var quoted = "\""
        for character in text {
            switch character {
            case "\\": quoted += "\\\\"
            case "\"": quoted += "\\\""
            case "\n": quoted += "\\n"
            default: quoted.append(character)
            }
        }
        return quoted + "\""
    }
}
