import RunnerdConfig
import Glibc
@testable import RunnerDaemon
import Runner
import Synchronization
import Testing

/// Single attempts of tcp, http and exec checks against real servers and programs, with their
/// exact messages.
@Suite("Probe checks")
struct ProbeCheckTests {
    let prober = Prober(processes: ServiceHarness.processes)

    private func attempt(_ check: ProbeCheck, timeout: Duration = .seconds(5)) async -> Result<Void, ProbeFailure> {
        await prober.attempt(check, timeout: timeout, cancellation: CancellationToken())
    }

    // MARK: tcp

    @Test(arguments: [("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("127.0.0.1", "localhost")])
    func tcpSucceedsOnceSomethingListens(serverHost: String, probeHost: String) async {
        let server = ProbeLoopbackServer(.close, host: serverHost)
        defer { server.stop() }
        #expect(await attempt(.tcp(host: probeHost, port: server.port)).failure == nil)
    }

    @Test(arguments: ["127.0.0.1", "::1"])
    func tcpToAPortWithoutListenerIsRefused(host: String) async {
        let (fd, port) = refusingPort(host: host)
        defer { close(fd) }
        let result = await attempt(.tcp(host: host, port: port))
        #expect(result.failure == .refused(address: ProbeCheck.address(host: host, port: port)))
        let expected = host == "::1" ? "connect to [::1]:\(port) refused" : "connect to 127.0.0.1:\(port) refused"
        #expect(result.failure?.description == expected)
    }

    @Test func tcpToAStoppedServiceIsRefused() async throws {
        let service = try await ProbeTestServer.start(.tcp)
        #expect(await attempt(.tcp(host: "127.0.0.1", port: service.port)).failure == nil)
        await service.stop()
        #expect(await attempt(.tcp(host: "127.0.0.1", port: service.port)).failure?.description
            == "connect to 127.0.0.1:\(service.port) refused")
    }

    // MARK: http

    @Test func httpSendsAMinimalGETAndAccepts2xx() async {
        let server = ProbeLoopbackServer(status: "204 No Content")
        defer { server.stop() }
        let result = await attempt(.http(url: server.url("/healthz?full=1#top")))
        #expect(result.failure == nil)
        #expect(server.requests.map { String(decoding: $0, as: UTF8.self) }
            == ["GET /healthz?full=1 HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nConnection: close\r\nUser-Agent: runnerd\r\n\r\n"])
    }

    @Test func httpToAnIPv6LiteralUsesTheBracketedHost() async {
        let server = ProbeLoopbackServer(status: "200 OK", host: "::1")
        defer { server.stop() }
        #expect(await attempt(.http(url: "http://[::1]:\(server.port)")).failure == nil)
        #expect(server.requests.map { String(decoding: $0, as: UTF8.self) }
            == ["GET / HTTP/1.1\r\nHost: [::1]:\(server.port)\r\nConnection: close\r\nUser-Agent: runnerd\r\n\r\n"])
    }

    @Test func httpNon2xxStatusFailsWithTheStatus() async throws {
        let service = try await ProbeTestServer.start(.http)
        defer { Task { await service.stop() } }
        let url = service.url("/healthz")
        let result = await attempt(.http(url: url))
        #expect(result.failure == .httpStatus(url: url, status: 503))
        #expect(result.failure?.description == "GET http://127.0.0.1:\(service.port)/healthz returned 503")
    }

    @Test(arguments: [
        ("HTTP/1.1 301 Moved Permanently\r\nLocation: /\r\n\r\n", " returned 301"),
        ("HTTP/1.1 200\r\n\r\n", nil),
        ("HTTP/1.0 299 Odd\n\n", nil),
        ("HTTP/1.1 100 Continue\r\n\r\n", " returned 100"),
        ("SSH-2.0-OpenSSH_9.2\r\n", ": the reply is not HTTP: \"SSH-2.0-OpenSSH_9.2\""),
        ("HTTP/1.1 2000 OK\r\n\r\n", ": the reply is not HTTP: \"HTTP/1.1 2000 OK\""),
        ("", ": the server closed the connection without a reply"),
        ("HTTP/1.1 20", ": the server closed the connection within its status line \"HTTP/1.1 20\""),
    ] as [(String, String?)])
    func httpRepliesAreJudgedByTheirStatusLine(reply: String, failure: String?) async {
        let server = ProbeLoopbackServer(.reply(Array(reply.utf8)))
        defer { server.stop() }
        let result = await attempt(.http(url: server.url()))
        #expect(result.failure?.description == failure.map { "GET \(server.url())\($0)" })
    }

    @Test func httpGivesUpWithoutAStatusLineInTheFirst4KiB() async {
        let server = ProbeLoopbackServer(.reply(Array("HTTP/1.1 200 ".utf8) + Array(repeating: UInt8(ascii: "x"), count: 5000)))
        defer { server.stop() }
        let result = await attempt(.http(url: server.url()))
        #expect(result.failure?.description == "GET \(server.url()): no status line within the first 4096 bytes of the reply")
    }

    @Test func httpToAClosedPortIsRefused() async {
        let (fd, port) = refusingPort()
        defer { close(fd) }
        let result = await attempt(.http(url: "http://127.0.0.1:\(port)/healthz"))
        #expect(result.failure?.description == "connect to 127.0.0.1:\(port) refused")
    }

    @Test func httpToAServerThatNeverAnswersTimesOut() async {
        let server = ProbeLoopbackServer(.silent)
        defer { server.stop() }
        let start = ContinuousClock.now
        let result = await attempt(.http(url: server.url("/healthz")), timeout: .milliseconds(300))
        let took = ContinuousClock.now - start
        #expect(result.failure?.description == "GET \(server.url("/healthz")) timed out after 300ms")
        #expect(took >= .milliseconds(300) && took < .milliseconds(600), "took \(took)")
    }

    @Test func httpsAndMalformedURLsFailWithoutConnecting() async {
        #expect(await attempt(.http(url: "https://127.0.0.1/")).failure?.description
            == "\"https://127.0.0.1/\" is not a probe URL: https is not supported; write e.g. http://127.0.0.1:8080/healthz")
        #expect(await attempt(.http(url: "http://[::1/")).failure?.description
            == "\"http://[::1/\" is not a probe URL: \"[::1\" has an unclosed [; write e.g. http://127.0.0.1:8080/healthz")
    }

    @Test func httpURLsParseLikeTheConfigLoaderReadsThem() throws {
        let plain = try HTTPProbe(url: "HTTP://example.org")
        #expect((plain.host, plain.port, plain.hostHeader, plain.target) == ("example.org", 80, "example.org", "/"))
        let full = try HTTPProbe(url: "http://[::1]:8080/a b/ü?q=1#frag")
        #expect((full.host, full.port, full.hostHeader, full.target) == ("::1", 8080, "[::1]:8080", "/a%20b/%C3%BC?q=1"))
        let query = try HTTPProbe(url: "http://127.0.0.1:81?ready")
        #expect(query.target == "/?ready")
    }

    // MARK: exec

    @Test func execSucceedsOnExitZeroAndNamesTheStatusOtherwise() async throws {
        let directory = try ProbeDirectory()
        let ok = try directory.script("ok", "exit 0")
        let failing = try directory.script("check", "exit 1")
        let signalled = try directory.script("crash", "kill -TERM $$")
        #expect(await attempt(.exec(command: [ok], executable: ok)).failure == nil)
        #expect(await attempt(.exec(command: ["check"], executable: failing)).failure?.description == "\(failing) exited with status 1")
        #expect(await attempt(.exec(command: [signalled], executable: signalled)).failure?.description
            == "\(signalled) was killed by signal SIGTERM")
    }

    @Test func execThatCannotStartSaysWhy() async {
        let result = await attempt(.exec(command: ["/nonexistent/check"], executable: "/nonexistent/check"))
        #expect(result.failure?.description == "cannot execute /nonexistent/check: No such file or directory; check the command's path")
    }

    @Test func execGetsAFixedPathAndTheCallersVariablesOnly() async throws {
        let directory = try ProbeDirectory()
        let dump = try directory.script("env", "env > \(directory.path)/seen")
        let prober = Prober(
            processes: ServiceHarness.processes,
            environment: [EnvironmentVariable(name: "PROBE_TOKEN", value: "a b=c")],
            workingDirectory: directory.path
        )
        let result = await prober.attempt(.exec(command: [dump], executable: dump), timeout: .seconds(5), cancellation: CancellationToken())
        #expect(result.failure == nil)
        let seen = Set(try directory.read("seen").split(separator: "\n").map(String.init))
        #expect(seen.contains("PATH=/usr/local/bin:/usr/bin:/bin"))
        #expect(seen.contains("PROBE_TOKEN=a b=c"))
        #expect(seen.contains("PWD=\(directory.path)"))
        #expect(!seen.contains { $0.hasPrefix("HOME=") })
    }

    @Test func execOverItsTimeIsKilledWithItsProcessGroup() async throws {
        let directory = try ProbeDirectory()
        let slow = try directory.script("slow", "echo $$ > \(directory.path)/pid; sleep 30 & sleep 30")
        let start = ContinuousClock.now
        let result = await attempt(.exec(command: [slow], executable: slow), timeout: .milliseconds(300))
        let took = ContinuousClock.now - start
        #expect(result.failure?.description == "\(slow) timed out after 300ms")
        #expect(took >= .milliseconds(300) && took < .milliseconds(800), "took \(took)")
        let pid = try #require(pid_t(directory.read("pid").split(separator: "\n").first ?? ""))
        try await waitUntil { !processGroupExists(pid) }
    }

    @Test func execLeavesNothingRunningAfterItExits() async throws {
        let directory = try ProbeDirectory()
        let forks = try directory.script("forks", "sleep 30 & echo $! > \(directory.path)/child; exit 0")
        #expect(await attempt(.exec(command: [forks], executable: forks)).failure == nil)
        let child = try #require(pid_t(directory.read("child").split(separator: "\n").first ?? ""))
        try await waitUntil { !processExists(child) }
    }

    // MARK: cancellation

    @Test func cancellingAnAttemptEndsItPromptly() async throws {
        let server = ProbeLoopbackServer(.silent)
        defer { server.stop() }
        let directory = try ProbeDirectory()
        let slow = try directory.script("slow", "echo $$ > \(directory.path)/pid; exec sleep 30")
        for check in [ProbeCheck.http(url: server.url()), .exec(command: [slow], executable: slow)] {
            let token = CancellationToken()
            let cancelled = CancelAfter(.milliseconds(200), token)
            let result = await prober.attempt(check, timeout: .seconds(30), cancellation: token)
            let end = ContinuousClock.now
            #expect(result.failure == .cancelled, "\(check)")
            let late = end - (await cancelled.instant)
            #expect(late < .milliseconds(200), "\(check) ended \(late) after the cancel")
        }
        let pid = try #require(pid_t(directory.read("pid").split(separator: "\n").first ?? ""))
        #expect(!processExists(pid))
    }

    @Test func anAttemptWithAnAlreadyCancelledTokenDoesNothing() async throws {
        let directory = try ProbeDirectory()
        let marker = try directory.script("marker", "touch \(directory.path)/ran")
        let token = CancellationToken()
        token.cancel()
        #expect(await prober.attempt(.exec(command: [marker], executable: marker), timeout: .seconds(5), cancellation: token).failure == .cancelled)
        #expect(await prober.attempt(.tcp(host: "127.0.0.1", port: 9), timeout: .seconds(5), cancellation: token).failure == .cancelled)
        #expect(access("\(directory.path)/ran", F_OK) != 0)
    }
}

/// Cancels `token` once `delay` has passed, and remembers when: a test measures promptness from
/// the cancel itself, not from when it asked for one (a loaded machine may run it late).
struct CancelAfter {
    private let task: Task<ContinuousClock.Instant, Never>

    init(_ delay: Duration, _ token: CancellationToken) {
        task = Task {
            try? await Task.sleep(for: delay)
            let now = ContinuousClock.now
            token.cancel()
            return now
        }
    }

    /// When the token was cancelled.
    var instant: ContinuousClock.Instant {
        get async { await task.value }
    }
}

extension Result {
    /// The error, or nil on success.
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
