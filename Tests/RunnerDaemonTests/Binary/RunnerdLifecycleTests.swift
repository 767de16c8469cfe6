import Glibc
import RunnerdTestSupport
import Testing

/// The promises made to systemd, from a real `runnerd` on a fake notify socket: the order of
/// READY=1 and STOPPING=1 against what the services do.
@Suite("runnerd's lifecycle against a fake systemd")
struct RunnerdLifecycleTests {
    /// A group whose service needs 1.5 s to stop (it finishes its work on SIGTERM) and 1 s to
    /// become ready (a log-line probe). A reload that changes it must not send READY=1 before the
    /// old run has stopped and the new one is ready (it went out 1 ms after RELOADING=1). The
    /// service tells the same fake notify socket when it has stopped and when it is up, so the
    /// socket's queue, in the order the kernel received the datagrams, shows which came first.
    @Test func readyAfterAReloadComesOnlyOnceTheChangedGroupIsReadyAgain() async throws {
        let receiver = try NotifyReceiver(.path)
        let script = """
            import os, signal, socket, sys, time
            def tell(text):
                socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(text.encode(), os.environ["FAKE_SYSTEMD"])
            def stopped(number, frame):
                time.sleep(1.5)
                tell("STOPPED=" + os.environ["VERSION"])
                sys.exit(0)
            signal.signal(signal.SIGTERM, stopped)
            time.sleep(1)
            tell("UP=" + os.environ["VERSION"])
            print("up", flush=True)
            while True: time.sleep(1)
            """
        let config = { (version: Int) in
            """
            groups:
              web: { services: { w: { command: [sleep, "1000"] } } }
              batch:
                services:
                  slow:
                    command: [python3, -c, \(self.yamlQuoted(script))]
                    environment: { VERSION: "\(version)", FAKE_SYSTEMD: "\(receiver.address)" }
                    ready: { log-line: "^up$", timeout: 10s }
            """
        }
        let path = temporaryConfig(config(1))
        defer { unlink(path) }
        let daemon = try RunnerdProcess(["run", "--config", path], environment: ["NOTIFY_SOCKET": receiver.address, "PATH": "/usr/bin:/bin"])
        _ = try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }

        rewriteConfig(path, config(2))
        daemon.signal(SIGHUP)
        let texts = try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }
        let reloading = try #require(texts.firstIndex { $0.hasPrefix("RELOADING=1") }, "\(texts)")
        let stopped = try #require(texts.firstIndex(of: "STOPPED=1"), "\(texts)")
        let up = try #require(texts.firstIndex(of: "UP=2"), "\(texts)")
        #expect(reloading < stopped && stopped < up && up < texts.count - 1, "\(texts)")
        #expect(texts.last == "READY=1\nSTATUS=2 groups, 2/2 services ready", "\(texts)")

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
        _ = try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }

        daemon.signal(SIGTERM)
        var got: [String] = []
        let texts = try await receiveDatagrams(receiver) { text in
            if text.hasPrefix("GOT_SIGTERM=") { got.append(text) }
            return got.count == 4
        }
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
