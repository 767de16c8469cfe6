import Glibc
import RunnerdTestSupport
import Testing

/// Readiness, health and service watchdogs, through a real `runnerd` and a fake notify socket.
@Suite("runnerd readiness")
struct RunnerdReadinessTests {
    /// A loopback port nothing listens on right now.
    private func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                _ = bind(fd, pointer, length)
                return getsockname(fd, pointer, &length)
            }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// A Python server on `port` that starts listening after `delay` seconds and answers
    /// `status` to every GET.
    private func lateServer(port: UInt16, delay: Double, status: Int = 200) -> String {
        """
        [python3, -c, "import time, http.server\\ntime.sleep(\(delay))\\nclass H(http.server.BaseHTTPRequestHandler):\\n  def do_GET(self):\\n    self.send_response(\(status)); self.end_headers()\\n  def log_message(self, *a): pass\\nprint('listening on', \(port), flush=True)\\nhttp.server.HTTPServer(('127.0.0.1', \(port)), H).serve_forever()"]
        """
    }

    @Test(arguments: ["tcp", "http", "exec", "log-line"])
    func readyWaitsForAServiceThatOpensItsPortLate(kind: String) async throws {
        let receiver = try NotifyReceiver(.path)
        let port = freePort()
        let probe = switch kind {
        case "tcp": "{ tcp: \"127.0.0.1:\(port)\", timeout: 10s }"
        case "http": "{ http: \"http://127.0.0.1:\(port)/healthz\", timeout: 10s }"
        case "exec": "{ exec: [python3, -c, \"import socket; socket.create_connection(('127.0.0.1', \(port)), 1)\"], timeout: 10s }"
        default: "{ log-line: \"^listening on \(port)$\", timeout: 10s }"
        }
        let config = temporaryConfig("""
            groups:
              g:
                services:
                  quick: { command: [sleep, "1000"] }
                  web: { command: \(lateServer(port: port, delay: 1)), ready: \(probe) }
            """)
        let start = ContinuousClock.now
        let daemon = try RunnerdProcess(["run", "--config", config], environment: ["NOTIFY_SOCKET": receiver.address])
        let seen = try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }
        let readyAfter = ContinuousClock.now - start
        #expect(readyAfter > .milliseconds(1_000) && readyAfter < .milliseconds(2_500), "READY=1 after \(readyAfter)")
        #expect(seen.contains { $0.contains("1/2 services ready; g/web starting for") }, "\(seen)")
        #expect(seen.last == "READY=1\nSTATUS=1 group, 2/2 services ready")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aProgramWrittenForTypeNotifyRunsUnchanged() async throws {
        let receiver = try NotifyReceiver(.path)
        let config = temporaryConfig("""
            groups:
              g:
                services:
                  notifier:
                    command: [sh, -c, "sleep 0.5; systemd-notify --ready --status='warmed up'; exec sleep 1000"]
                    ready: { notify: { timeout: 10s } }
            """)
        let start = ContinuousClock.now
        let daemon = try RunnerdProcess(["run", "--config", config], environment: ["NOTIFY_SOCKET": receiver.address])
        let seen = try await receiveDatagrams(receiver) { $0.hasPrefix("READY=1") }
        #expect(ContinuousClock.now - start > .milliseconds(500))
        #expect(seen.last == "READY=1\nSTATUS=1 group, 1/1 services ready; g/notifier: warmed up")
        #expect(seen.dropLast().allSatisfy { !$0.contains("READY=1") })
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aProbeThatTimesOutFailsTheGroupsStart() async throws {
        let port = freePort()
        let config = temporaryConfig("""
            groups:
              g:
                max-restarts: 0
                services:
                  deaf: { command: [sleep, "1000"], ready: { tcp: "127.0.0.1:\(port)", timeout: 500ms } }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        #expect(try await daemon.waitForExit() == 1)
        #expect(daemon.output.contains("group g: service deaf was not ready: not ready within 500ms: connect to 127.0.0.1:\(port) refused; giving up because max-restarts is 0"), "\(daemon.output)")
    }

    @Test func aServiceThatIsNotReadyAndIgnoresItsStopSignalIsKilledAfterItsTimeout() async throws {
        let port = freePort()
        let config = temporaryConfig("""
            groups:
              g:
                max-restarts: 0
                services:
                  deaf:
                    command: [sh, -c, "trap '' TERM; while true; do sleep 0.1; done"]
                    ready: { tcp: "127.0.0.1:\(port)", timeout: 300ms }
                    interrupt-timeout: 700ms
            """)
        let start = ContinuousClock.now
        let daemon = try RunnerdProcess(["run", "--config", config])
        #expect(try await daemon.waitForExit() == 1)
        let took = ContinuousClock.now - start
        #expect(took > .milliseconds(1_000) && took < .milliseconds(2_500), "exited after \(took)")
        #expect(daemon.output.contains("service deaf was not ready: not ready within 300ms"))
        #expect(daemon.descendants.isEmpty)
    }

    @Test func aServiceThatStopsPingingItsWatchdogRestartsItsGroup() async throws {
        let config = temporaryConfig("""
            groups:
              g:
                restart-delay: 100ms
                services:
                  pinger:
                    command: [sh, -c, "systemd-notify --ready; for i in 1 2 3; do sleep 0.2; systemd-notify WATCHDOG=1; done; exec sleep 1000"]
                    ready: { notify: {} }
                    watchdog: 1s
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        let line = try await daemon.waitForLine(containing: "service pinger failed its watchdog")
        #expect(line.contains("group g: service pinger failed its watchdog: no WATCHDOG=1 for 1s; restarting in 100ms (restart 1 of 5)"))
        _ = try await daemon.waitForLines(containing: "service pinger started", count: 2)
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func failedHealthChecksRestartTheGroup() async throws {
        let port = freePort()
        let config = temporaryConfig("""
            groups:
              g:
                restart-delay: 100ms
                services:
                  sick:
                    command: \(lateServer(port: port, delay: 0, status: 503))
                    ready: { tcp: "127.0.0.1:\(port)" }
                    health: { http: "http://127.0.0.1:\(port)/", interval: 200ms, timeout: 1s, failures: 2 }
            """)
        let daemon = try RunnerdProcess(["run", "--config", config])
        let line = try await daemon.waitForLine(containing: "service sick was unhealthy")
        #expect(line.contains("group g: service sick was unhealthy: "), "\(line)")
        #expect(line.contains("GET http://127.0.0.1:\(port)/ returned 503"), "\(line)")
        #expect(line.contains("restarting in 100ms (restart 1 of 5)"))
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }
}
