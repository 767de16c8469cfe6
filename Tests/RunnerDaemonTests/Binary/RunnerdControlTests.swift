import Glibc
@testable import RunnerDaemon
import RunnerdTestSupport
import Testing

/// The control socket of a real daemon, driven by `runnerd status|start|stop|restart|reload`, by
/// Python's `varlink` package, and by a raw socket sending what no client should.
@Suite("runnerd's control socket")
struct RunnerdControlTests {
    private static let twoGroups = """
        groups:
          web: { services: { api: { command: [sleep, "1000"] }, worker: { command: [sleep, "1001"] } } }
          jobs: { services: { cron: { command: [sleep, "1002"] } } }
        """

    /// A daemon with `config`, once its socket answers and every group is up.
    private func startDaemon(_ config: String = twoGroups) async throws -> (RunnerdProcess, String) {
        let path = temporaryConfig(config)
        let daemon = try RunnerdProcess(["run", "--config", path])
        try await daemon.waitForLine(containing: "service cron started")
        let deadline = Deadline(after: .seconds(10))
        while !deadline.hasPassed {
            if let report = try? await status(daemon), report.groups.allSatisfy({ $0.state == "running" }) { return (daemon, path) }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestTimeout(description: "the daemon's groups did not come up; output:\n\(daemon.output)")
    }

    private func control(_ daemon: RunnerdProcess, _ arguments: [String], launcher: [String] = []) async throws -> (code: Int32, output: String) {
        try await RunnerdProcess.run(arguments + ["--control-socket", daemon.controlSocket], launcher: launcher)
    }

    private func status(_ daemon: RunnerdProcess) async throws -> StatusReport {
        let (code, output) = try await control(daemon, ["status", "--json"])
        guard code == 0 else { throw TestTimeout(description: "runnerd status exited \(code): \(output)") }
        return try StatusReport(json: JSONValue.parse(Array(output.utf8)))
    }

    private func pids(_ report: StatusReport, _ group: String) -> [Int32] {
        report.groups.first { $0.name == group }?.services.compactMap(\.pid) ?? []
    }

    private func isAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0
    }

    @Test func restartingOneGroupReplacesItsProcessesAndLeavesTheOtherGroupsAlone() async throws {
        let (daemon, _) = try await startDaemon()
        let before = try await status(daemon)
        let (code, output) = try await control(daemon, ["restart", "web"])
        #expect(code == 0, "\(output)")
        #expect(output == "web: ready\n")
        let after = try await status(daemon)
        #expect(pids(after, "jobs") == pids(before, "jobs"))
        #expect(Set(pids(after, "web")).isDisjoint(with: pids(before, "web")))
        #expect(pids(after, "web").count == 2 && pids(after, "web").allSatisfy(isAlive))
        #expect(!pids(before, "web").contains(where: isAlive))
        try await daemon.waitForLine(containing: "group web: restarting (requested)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aGroupStoppedOnRequestStaysStoppedAcrossAReloadUntilStarted() async throws {
        let (daemon, path) = try await startDaemon()
        let jobs = pids(try await status(daemon), "jobs")
        let stop = try await control(daemon, ["stop", "jobs"])
        #expect(stop.code == 0 && stop.output == "jobs: stopped\n", "\(stop)")
        #expect(!jobs.contains(where: isAlive))

        rewriteConfig(path, Self.twoGroups.replacing("1002", with: "1003"))
        let reload = try await control(daemon, ["reload"])
        #expect(reload.code == 0, "\(reload)")
        #expect(reload.output.contains("changed jobs (stays stopped by request)"), "\(reload.output)")
        let held = try await status(daemon)
        #expect(held.groups.map(\.state) == ["running", "stopped"])
        #expect(held.groups[1].stoppedByRequest && pids(held, "jobs").isEmpty)
        #expect(held.status.contains("jobs: stopped by request"))

        let start = try await control(daemon, ["start", "jobs"])
        #expect(start.code == 0 && start.output == "jobs: ready\n", "\(start)")
        #expect(pids(try await status(daemon), "jobs").count == 1)
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aDryRunPrintsThePlanAndChangesNothing() async throws {
        let (daemon, path) = try await startDaemon()
        let before = try await status(daemon)
        rewriteConfig(path, Self.twoGroups.replacing("1002", with: "1003") + "\n  extra: { services: { x: { command: [sleep, \"9\"] } } }\n")
        let (code, output) = try await control(daemon, ["reload", "--dry-run"])
        #expect(code == 0, "\(output)")
        #expect(output.contains("web    keep     unchanged"), "\(output)")
        #expect(output.contains("jobs   restart  changed: services.cron.command"), "\(output)")
        #expect(output.contains("extra  start    added"), "\(output)")
        let after = try await status(daemon)
        #expect(after.groups.map(\.name) == ["web", "jobs"])
        #expect(pids(after, "web") == pids(before, "web") && pids(after, "jobs") == pids(before, "jobs"))
        #expect(!daemon.output.contains("reloading"))
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func anInvalidConfigOnReloadExits78WithEveryLocatedError() async throws {
        let (daemon, path) = try await startDaemon()
        rewriteConfig(path, "groups:\n  web: { services: { api: { command: [sleep], interrupt-timeout: 10 } } }\n  bad: 3\n")
        let (code, output) = try await control(daemon, ["reload"])
        #expect(code == 78, "\(output)")
        #expect(output.contains("\(path):2:"), "\(output)")
        #expect(output.contains("\(path):3:"), "\(output)")
        #expect(try await status(daemon).groups.map(\.state) == ["running", "running"])
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func membersOfTheControlGroupMayLookButNotActAndOthersMayNotConnect() async throws {
        let (daemon, _) = try await startDaemon("defaults: { control-group: users }\n" + Self.twoGroups)
        let member = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--groups=100", "--"]
        let stranger = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
        let look = try await control(daemon, ["status", "--json"], launcher: member)
        #expect(look.code == 0, "\(look)")
        let act = try await control(daemon, ["restart", "web"], launcher: member)
        #expect(act.code == 77, "\(act)")
        #expect(act.output.contains("not allowed"), "\(act)")
        let refused = try await control(daemon, ["status"], launcher: stranger)
        #expect(refused.code == 77, "\(refused)")
        #expect(refused.output.contains("Permission denied"), "\(refused)")
        try await daemon.waitForLine(containing: "may not call io.runnerd.Manager.Restart")
        var info = stat()
        #expect(stat(daemon.controlSocket, &info) == 0 && info.st_mode & 0o777 == 0o660 && info.st_gid == 100)
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func withoutAControlGroupTheSocketIsRootsAlone() async throws {
        let (daemon, _) = try await startDaemon()
        var info = stat()
        #expect(stat(daemon.controlSocket, &info) == 0 && info.st_mode & 0o777 == 0o600)
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        #expect(access(daemon.controlSocket, F_OK) != 0, "the socket file outlived the daemon")
    }

    @Test func pythonsVarlinkPackageDrivesTheDaemonFromItsInterfaceDescription() async throws {
        // scripts/setup.sh installs the package into the build directory (.build/python-deps).
        let parts = RunnerdProcess.binaryPath.split(separator: "/")
        let build = parts.prefix { !$0.hasPrefix(".build") } + parts.drop { !$0.hasPrefix(".build") }.prefix(1)
        let packages = "/" + build.joined(separator: "/") + "/python-deps"
        try #require(access(packages + "/varlink", F_OK) == 0, "run scripts/setup.sh: Python's varlink package is not in \(packages)")
        let (daemon, _) = try await startDaemon()
        let before = try await status(daemon)
        let script = #filePath.split(separator: "/").dropLast(3).joined(separator: "/") + "/Fixtures/varlink-client.py"
        let client = try RunnerdProcess([], environment: ["PYTHONPATH": packages, "PATH": String(cString: getenv("PATH"))], program: ["/usr/bin/env", "python3", "/" + script, daemon.controlSocket, "web"])
        let code = try await client.waitForExit()
        let output = client.output
        #expect(code == 0, "\(output)")
        let lines = output.split(separator: "\n").map { String($0) }
        #expect(lines.count == 4, "\(output)")
        #expect(lines.first == #"{"interfaces": ["org.varlink.service", "io.runnerd.Manager"]}"#)
        #expect(lines.count > 1 && lines[1].contains(#""name": "jobs""#))
        #expect(lines.count > 2 && lines[2] == #"{"restart": {"groups": [{"group": "web", "succeeded": true, "message": "ready"}]}}"#)
        #expect(lines.count > 3 && lines[3] == #"{"error": "io.runnerd.Manager.NoSuchGroup", "parameters": {"group": "no-such-group"}}"#)
        #expect(pids(try await status(daemon), "jobs") == pids(before, "jobs"))
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func malformedAndOversizedMessagesGetAnErrorAndAClosedConnectionAndNothingElse() async throws {
        let (daemon, _) = try await startDaemon()
        let garbage = try RawClient(daemon.controlSocket)
        garbage.send(Array("{\"method\": nope}".utf8) + [0])
        let reply = try garbage.readUntilClosed()
        #expect(reply.contains("\"error\":\"io.runnerd.Manager.InvalidMessage\""), "\(reply)")

        let huge = try RawClient(daemon.controlSocket)
        huge.send([UInt8](repeating: UInt8(ascii: "a"), count: 70 * 1024))
        let refusal = try huge.readUntilClosed()
        #expect(refusal.contains("\"error\":\"io.runnerd.Manager.RequestTooLarge\""), "\(refusal)")

        let unknown = try RawClient(daemon.controlSocket)
        unknown.send(Array(#"{"method":"io.runnerd.Manager.Explode"}"#.utf8) + [0] + Array(#"{"method":"org.varlink.service.GetInfo"}"#.utf8) + [0])
        let answers = try unknown.read(messages: 2)
        #expect(answers[0].contains("org.varlink.service.MethodNotFound") && answers[1].contains("\"product\":\"runnerd\""), "\(answers)")

        #expect(try await status(daemon).groups.count == 2)
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func theSeventeenthClientIsToldSoAndTheSixteenStillGetAnswers() async throws {
        let (daemon, _) = try await startDaemon()
        var clients: [RawClient] = []
        for _ in 0..<16 { clients.append(try RawClient(daemon.controlSocket)) }
        // Every one of the sixteen is accepted and answered before the seventeenth comes.
        for client in clients {
            client.send(Array(#"{"method":"org.varlink.service.GetInfo"}"#.utf8) + [0])
            #expect(try client.read(messages: 1)[0].contains("runnerd"))
        }
        let extra = try RawClient(daemon.controlSocket)
        #expect(try extra.readUntilClosed().contains("io.runnerd.Manager.TooManyClients"))
        clients.removeLast()
        // The server notices the closed one on its next pass.
        let deadline = Deadline(after: .seconds(5))
        var answered = false
        while !deadline.hasPassed && !answered {
            answered = (try? await status(daemon)) != nil
            if !answered { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(answered)
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aClientThatHangsIsDroppedAfterTenSecondsWithoutHoldingUpOthers() async throws {
        let (daemon, _) = try await startDaemon()
        let hanging = try RawClient(daemon.controlSocket)
        hanging.send(Array(#"{"method":"org.varlink.servi"#.utf8))
        let started = ContinuousClock.now
        // Others are answered meanwhile.
        #expect(try await status(daemon).groups.count == 2)
        _ = try hanging.readUntilClosed(timeout: .seconds(15))
        let waited = ContinuousClock.now - started
        #expect(waited >= .seconds(9) && waited < .seconds(13), "\(waited)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aWatchStreamsEachChangeWithoutPolling() async throws {
        let (daemon, _) = try await startDaemon()
        let watch = try RunnerdProcess(["status", "--watch", "--json", "jobs", "--control-socket", daemon.controlSocket])
        try await watch.waitForLine(containing: "\"name\":\"jobs\"")
        #expect(try await control(daemon, ["stop", "jobs"]).code == 0)
        try await watch.waitForLine(containing: "\"stoppedByRequest\":true")
        #expect(watch.lines.allSatisfy { !$0.contains("\"name\":\"web\"") })
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        // The daemon's exit ends the watch.
        #expect(try await watch.waitForExit() == 1)
    }

    @Test func shellCompletionOffersTheRunningDaemonsGroups() async throws {
        let (daemon, _) = try await startDaemon()
        // What the generated bash script runs when completing `runnerd restart <TAB>`.
        let (code, output) = try await RunnerdProcess.run(["---completion", "restart", "--", "positional@0", "2", "0", "runnerd", "restart", "", "--control-socket", daemon.controlSocket])
        #expect(code == 0 && output == "web\njobs\n", "\(output)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func withNoDaemonTheCommandsExit69() async throws {
        let (code, output) = try await RunnerdProcess.run(["status", "--control-socket", "/tmp/runnerd-no-such-dir/control.sock"])
        #expect(code == 69, "\(output)")
        #expect(output.contains("no runnerd answers at /tmp/runnerd-no-such-dir/control.sock"))
    }
}

/// A bare unix-socket client for what `runnerd` itself would never send.
private final class RawClient {
    let fd: Int32

    init(_ path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw TestTimeout(description: "cannot connect to \(path): errno \(errno)") }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything until the peer closes (bounded).
    func readUntilClosed(timeout: Duration = .seconds(5)) throws -> String {
        var received: [UInt8] = []
        let deadline = Deadline(after: timeout)
        while !deadline.hasPassed {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return String(decoding: received, as: UTF8.self) }
            received += chunk[..<count]
        }
        throw TestTimeout(description: "the connection stayed open for \(timeout); got \(String(decoding: received, as: UTF8.self))")
    }

    /// The next `messages` NUL-ended messages (bounded).
    func read(messages: Int) throws -> [String] {
        var received: [UInt8] = []
        let deadline = Deadline(after: .seconds(5))
        while !deadline.hasPassed, received.count(where: { $0 == 0 }) < messages {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received += chunk[..<count]
        }
        let parts = received.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard parts.count >= messages else { throw TestTimeout(description: "got \(parts)") }
        return parts
    }
}
