import RunnerdConfig
import Glibc
@testable import RunnerDaemon
import Runner
import Synchronization
import Testing

/// Services as runners, with real processes.
@Suite("ProcessService")
struct ProcessServiceTests {
    let harness = ServiceHarness()

    private func runToEnd(_ service: ProcessService, within limit: Duration = .seconds(10)) async throws -> RunResult {
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        let runner = service.makeRunner()
        try runner.runAsync(into: continuation)
        var iterator = results.makeAsyncIterator()
        let result = await iterator.next()
        return try #require(result)
    }

    @Test func aNonZeroExitIsTheServicesResult() async throws {
        let result = try await runToEnd(harness.service("failing", ["/bin/sh", "-c", "echo bye; exit 3"]))
        #expect(result.error as? ServiceFailure == .exited(.exited(3)))
        #expect(try await harness.waitForLine { $0 == "test/failing | bye" }.contains("test/failing | bye"))
    }

    @Test func aCleanExitHasNoError() async throws {
        let result = try await runToEnd(harness.service("done", ["/bin/true"]))
        #expect(result.error == nil)
    }

    @Test func theStopSignalGoesToTheProcessGroupAndEndsTheServiceCleanly() async throws {
        let spawned = Mutex<pid_t>(0)
        let service = harness.service("sleeper", ["/bin/sh", "-c", "sleep 1000 & wait"], events: .init(spawned: { _, pid in spawned.withLock { $0 = pid } }))
        let runner = service.makeRunner()
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try runner.runAsync(into: continuation)
        try await waitUntil { spawned.withLock { $0 } != 0 }
        let pid = spawned.withLock { $0 }
        // The shell's sleep is a grandchild of ours, in the same process group.
        try await waitUntil { processes().contains { $0.processGroup == pid && $0.pid != pid } }
        let grandchildren = processes().filter { $0.processGroup == pid && $0.pid != pid }.map(\.pid)
        runner.interrupt()
        var iterator = results.makeAsyncIterator()
        let result = await iterator.next()
        #expect(result?.error == nil)
        #expect(!processGroupExists(pid))
        #expect(grandchildren.allSatisfy { !processExists($0) })
    }

    @Test func aChildIgnoringItsStopSignalIsKilledAfterTheInterruptTimeout() async throws {
        let spawned = Mutex<pid_t>(0)
        let service = harness.service(
            "stubborn", ["/bin/sh", "-c", "trap '' TERM; echo ready; while true; do sleep 1; done"],
            interruptTimeout: .milliseconds(500), events: .init(spawned: { _, pid in spawned.withLock { $0 = pid } })
        )
        let runner = service.makeRunner()
        let (results, continuation) = AsyncStream<RunResult>.makeStream()
        try runner.runAsync(into: continuation)
        _ = try await harness.waitForLine { $0 == "test/stubborn | ready" }
        let pid = spawned.withLock { $0 }
        let start = ContinuousClock.now
        runner.interrupt()
        var iterator = results.makeAsyncIterator()
        let result = await iterator.next()
        let waited = ContinuousClock.now - start
        #expect(result?.timeout == TimeoutError(runnerID: "stubborn", duration: .milliseconds(500)))
        #expect(waited >= .milliseconds(490) && waited < .milliseconds(1_200), "timed out after \(waited)")
        #expect(processGroupExists(pid))
        service.kill()
        await runner.waitUntilFinished()
        #expect(!processGroupExists(pid))
        #expect(service.wasKilled)
    }

    @Test func spawnFailuresBecomeTheResultWithAClearMessage() async throws {
        let missing = try await runToEnd(harness.service("missing", ["/nonexistent/program"]))
        #expect("\(missing.error!)" == "cannot execute /nonexistent/program: No such file or directory; check the command's path")

        let dataFile = "/tmp/runnerd-not-executable-\(getpid())"
        let fd = open(dataFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        close(fd)
        defer { unlink(dataFile) }
        let notExecutable = try await runToEnd(harness.service("data", [dataFile]))
        #expect("\(notExecutable.error!)" == "cannot execute \(dataFile): Permission denied; make it executable (chmod +x) and readable by the service's user")

        let script = "/tmp/runnerd-no-interpreter-\(getpid())"
        let scriptFD = open(script, O_WRONLY | O_CREAT | O_TRUNC, 0o755)
        _ = write(scriptFD, "echo hi\n", 8)
        close(scriptFD)
        defer { unlink(script) }
        let noInterpreter = try await runToEnd(harness.service("script", [script]))
        #expect("\(noInterpreter.error!)" == "cannot execute \(script): Exec format error; it is not a program this system can run; add a #! line or fix the file")

        let badDirectory = try await runToEnd(harness.service("lost", ["/bin/true"], workingDirectory: "/nonexistent/dir"))
        #expect("\(badDirectory.error!)" == "cannot enter working directory /nonexistent/dir: No such file or directory; create it or fix working-directory")
    }

    /// As systemd's `User=`: HOME, USER, LOGNAME and SHELL from the passwd entry, replacing the
    /// daemon's own, and the service's `environment:` still has the last word.
    @Test(.enabled(if: getuid() == 0, "switching users needs root"))
    func aUserSwitchedServiceGetsItsLoginEnvironmentUnlessItsOwnEnvironmentSaysOtherwise() async throws {
        let nobody = Credentials(
            userName: "nobody", uid: 65534, gid: 65534, supplementaryGroups: [65534], home: "/nonexistent", shell: "/usr/sbin/nologin"
        )
        let base = ["PATH=/usr/bin:/bin", "HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/bash"]
        _ = try await runToEnd(harness.service("login", ["/usr/bin/env"], environment: base, credentials: nobody))
        let lines = try await harness.waitForLine { $0.hasPrefix("test/login | SHELL=") }.filter { $0.hasPrefix("test/login | ") }
        #expect(lines == ["test/login | PATH=/usr/bin:/bin", "test/login | HOME=/nonexistent", "test/login | USER=nobody", "test/login | LOGNAME=nobody", "test/login | SHELL=/usr/sbin/nologin"])

        let own = [EnvironmentVariable(name: "HOME", value: "/srv/app"), EnvironmentVariable(name: "SHELL", value: "/bin/sh")]
        _ = try await runToEnd(harness.service("own", ["/usr/bin/env"], environment: base, credentials: nobody, serviceEnvironment: own))
        let ownLines = try await harness.waitForLine { $0.hasPrefix("test/own | SHELL=") }.filter { $0.hasPrefix("test/own | ") }
        #expect(ownLines == ["test/own | PATH=/usr/bin:/bin", "test/own | HOME=/srv/app", "test/own | USER=nobody", "test/own | LOGNAME=nobody", "test/own | SHELL=/bin/sh"])
    }

    /// Building the environment is linear: 20,000 variables of the service's own (on top of the
    /// daemon's) reach the child, and the spawn takes well under a second.
    @Test func twentyThousandVariablesSpawnWellUnderASecond() async throws {
        let own = (0..<20_000).map { EnvironmentVariable(name: "VARIABLE_\($0)", value: "value \($0)") }
        let start = ContinuousClock.now
        let result = try await runToEnd(harness.service("many", ["/bin/sh", "-c", "env | grep -c ^VARIABLE_"], serviceEnvironment: own))
        let took = ContinuousClock.now - start
        #expect(result.error == nil)
        #expect(try await harness.waitForLine { $0 == "test/many | 20000" }.contains("test/many | 20000"))
        #expect(took < .milliseconds(500), "the spawn and run took \(took)")
    }

    /// Past what execve accepts, the spawn fails saying so, with the sizes, not with a bare E2BIG.
    @Test func anEnvironmentTooLargeForExecveFailsTheSpawnSayingSo() async throws {
        let value = String(repeating: "x", count: 100)
        let own = (0..<200_000).map { EnvironmentVariable(name: "V\($0)", value: value) }
        let result = try await runToEnd(harness.service("huge", ["/bin/true"], environment: ["PATH=/usr/bin:/bin"], serviceEnvironment: own))
        let bytes = "PATH=/usr/bin:/bin".utf8.count + 1 + own.reduce(0) { $0 + $1.name.utf8.count + 1 + value.utf8.count + 1 }
        let limit = sysconf(Int32(_SC_ARG_MAX))
        #expect("\(try #require(result.error))" == "cannot execute /bin/true: the environment is too large for execve: \(bytes) bytes in 200001 variables, and the kernel takes at most \(limit) bytes of arguments and environment together (a quarter of the stack limit) and 131072 bytes per variable; shrink environment: or environment-files")
    }

    /// The directory is entered after the user switch, so root's access does not count.
    @Test(.enabled(if: getuid() == 0, "switching users needs root"))
    func aWorkingDirectoryTheUserCannotEnterFailsTheSpawnNamingItAndTheUser() async throws {
        var template = Array("/tmp/runnerd-private-XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        defer { rmdir(directory) }
        #expect(chmod(directory, 0o700) == 0)
        let nobody = Credentials(userName: "nobody", uid: 65534, gid: 65534, supplementaryGroups: [65534], home: "/nonexistent")
        let result = try await runToEnd(harness.service("private", ["/bin/true"], workingDirectory: directory, credentials: nobody))
        #expect("\(try #require(result.error))" == "cannot enter working directory \(directory) as nobody: Permission denied; let nobody search it and its parents (chmod o+x, or chown) or fix working-directory")

        #expect(chmod(directory, 0o711) == 0)
        let entered = try await runToEnd(harness.service("public", ["/bin/true"], workingDirectory: directory, credentials: nobody))
        #expect(entered.error == nil)
    }

    @Test func outputLinesArePrefixedSplitWhenLongAndKeptWithoutATrailingNewline() async throws {
        let long = OutputPipe.maximumLine + 10
        let script = "echo out; echo err >&2; head -c \(long) /dev/zero | tr '\\0' x; echo; printf partial"
        _ = try await runToEnd(harness.service("talker", ["/bin/sh", "-c", script]))
        let lines = try await harness.waitForLine { $0 == "test/talker | partial" }
        #expect(lines.contains("test/talker | out"))
        #expect(lines.contains("test/talker | err"))
        let pieces = lines.filter { $0.hasPrefix("test/talker | xxx") }
        #expect(pieces.map { $0.count - "test/talker | ".count } == [OutputPipe.maximumLine, 10])
    }

    /// A long line is cut before a character that would straddle the cut, not through it: both
    /// pieces stay valid UTF-8 (journald showed a cut character as `[blob data]` in both).
    @Test func longLinesAreCutAtACharacterBoundary() async throws {
        let before = OutputPipe.maximumLine - 1
        // "é" is two bytes: at offset maximumLine - 1 it would straddle the cut; "😀" is four.
        let script = "head -c \(before) /dev/zero | tr '\\0' x; printf '\\303\\251yz\\n'; head -c \(before - 2) /dev/zero | tr '\\0' w; printf '\\360\\237\\230\\200end\\n'"
        _ = try await runToEnd(harness.service("utf8", ["/bin/sh", "-c", script]))
        let lines = try await harness.waitForLine { $0.hasSuffix("end") }.filter { $0.hasPrefix("test/utf8 | ") }.map { $0.dropFirst("test/utf8 | ".count) }
        #expect(lines.map(\.utf8.count) == [before, 4, before - 2, 7])
        #expect(lines[1] == "éyz")
        #expect(lines[3] == "😀end")
    }

    @Test func servicesRunWithTheGivenEnvironmentOnly() async throws {
        // A name given twice keeps its first place and its last value; an entry without `=` is
        // not passed on.
        let base = ["PATH=/usr/bin", "ONLY=this", "not a variable", "PATH=/bin"]
        _ = try await runToEnd(harness.service("env", ["/usr/bin/env"], environment: base))
        let lines = try await harness.waitForLine { $0 == "test/env | ONLY=this" }
        #expect(lines.filter { $0.hasPrefix("test/env | ") } == ["test/env | PATH=/bin", "test/env | ONLY=this"])
    }

    @Test func aServiceInheritsItsStdioAndNoOtherDescriptor() async throws {
        // Descriptors of the daemon above the spawn slots, as a daemon with many services has,
        // one without close-on-exec among them (the test process has more of those below the
        // slots): none may reach the child, and the child's three must be where they belong.
        var extra: [Int32] = []
        for _ in 0..<200 {
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            extra += ends
        }
        defer { extra.forEach { close($0) } }
        _ = fcntl(extra[0], F_SETFD, 0)
        // `ls` and `readlink` run as the shell's children and look at the shell's table.
        let script = "ls /proc/$$/fd; readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2; echo end"
        let result = try await runToEnd(harness.service("fds", ["/bin/sh", "-c", script]))
        #expect(result.error == nil)
        let lines = try await harness.waitForLine { $0 == "test/fds | end" }.filter { $0.hasPrefix("test/fds | ") }
        #expect(lines.count == 7, "\(lines)")
        #expect(lines.prefix(4) == ["test/fds | 0", "test/fds | 1", "test/fds | 2", "test/fds | /dev/null"], "\(lines)")
        #expect(lines.dropFirst(4).prefix(2).allSatisfy { $0.hasPrefix("test/fds | pipe:[") }, "\(lines)")
    }

    @Test(.enabled(if: getuid() == 0, "switching users needs root"))
    func servicesCanRunAsNobody() async throws {
        let nobody = Credentials(userName: "nobody", uid: 65534, gid: 65534, supplementaryGroups: [65534], home: "/nonexistent")
        _ = try await runToEnd(harness.service("who", ["/usr/bin/id"], credentials: nobody))
        let lines = try await harness.waitForLine { $0.hasPrefix("test/who | uid=65534") }
        #expect(lines.contains { $0.hasPrefix("test/who | uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)") })
    }
}

/// Waits (bounded) until `condition` holds.
func waitUntil(timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(timeout)")
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
