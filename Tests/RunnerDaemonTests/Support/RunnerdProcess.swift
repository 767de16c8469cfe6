import Glibc
import RunnerdTestSupport
import Synchronization

/// The built `runnerd` binary, run as a real daemon process: its output goes to a file the test
/// reads, its environment is exactly what the test gives, and signals are real.
final class RunnerdProcess {
    /// `runnerd`, built next to this test bundle.
    static var binaryPath: String {
        var target = [UInt8](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &target, target.count)
        precondition(count > 0, "cannot read /proc/self/exe")
        let executable = String(decoding: target[..<count], as: UTF8.self)
        return executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/runnerd"
    }

    let pid: pid_t
    let outputPath: String
    /// The daemon's control socket: `runnerd run` gets one of its own in a fresh directory, so
    /// that daemons of different tests never meet at the default path.
    let controlSocket: String
    private(set) var exitCode: Int32?

    /// Starts `runnerd ARGUMENTS` with `environment` (plus a PATH if it has none). Its stdout
    /// and stderr go to `output`; with `stdoutFD` or `stderrFD`, that stream goes there instead.
    /// With a `launcher` (such as `setpriv --reuid=nobody`), that program runs runnerd; with
    /// `program`, that command line runs instead of runnerd (a test's independent client).
    init(_ arguments: [String], environment: [String: String] = [:], stdoutFD: Int32? = nil, stderrFD: Int32? = nil, launcher: [String] = [], program: [String]? = nil) throws {
        var template = Array("/tmp/runnerd-daemon-out-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw TestTimeout(description: "mkstemp failed") }
        outputPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { close(fd) }
        var directory = Array("/tmp/runnerd-control-XXXXXX".utf8CString)
        guard mkdtemp(&directory) != nil else { throw TestTimeout(description: "mkdtemp failed") }
        chmod(directory, 0o755)
        controlSocket = String(decoding: directory.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/control.sock"
        var arguments = arguments
        if arguments.first == "run" && !arguments.contains("--control-socket") {
            arguments.insert(contentsOf: ["--control-socket", controlSocket], at: 1)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutFD ?? fd, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrFD ?? fd, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The test process catches some signals; the daemon starts with defaults and no mask.
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var variables = environment
        if variables["PATH"] == nil { variables["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        let command = program ?? (launcher + [Self.binaryPath] + arguments)
        let argv = command.map { strdup($0) } + [nil]
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, command[0], &actions, &attributes, argv, envp)
        guard status == 0 else { throw TestTimeout(description: "cannot start runnerd: \(String(cString: strerror(status)))") }
        pid = child
    }

    deinit {
        if exitCode == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        unlink(outputPath)
        unlink(controlSocket)
        rmdir(String(controlSocket.dropLast("/control.sock".count)))
    }

    /// Runs `runnerd ARGUMENTS` to its end (bounded) and returns its exit code and output.
    static func run(_ arguments: [String], launcher: [String] = [], timeout: Duration = .seconds(30)) async throws -> (code: Int32, output: String) {
        let process = try RunnerdProcess(arguments, launcher: launcher)
        let code = try await process.waitForExit(timeout: timeout)
        return (code, process.output)
    }

    /// Everything the daemon and its services printed so far.
    var output: String { readFile(outputPath) }

    var lines: [String] { output.split(separator: "\n").map(String.init) }

    /// Waits (bounded) for an output line containing `text`; returns that line.
    @discardableResult
    func waitForLine(containing text: String, timeout: Duration = .seconds(15)) async throws -> String {
        let deadline = Deadline(after: timeout)
        while !deadline.hasPassed {
            if let line = lines.first(where: { $0.contains(text) }) { return line }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestTimeout(description: "no line containing \"\(text)\" within \(timeout); output:\n\(output)")
    }

    /// Waits (bounded) until `count` lines contain `text`.
    func waitForLines(containing text: String, count: Int, timeout: Duration = .seconds(30)) async throws -> [String] {
        let deadline = Deadline(after: timeout)
        while !deadline.hasPassed {
            let matching = lines.filter { $0.contains(text) }
            if matching.count >= count { return matching }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestTimeout(description: "fewer than \(count) lines containing \"\(text)\" within \(timeout); output:\n\(output)")
    }

    func signal(_ number: Int32) {
        kill(pid, number)
    }

    /// Waits (bounded) for the daemon to exit and returns its exit code (128 + signal if killed).
    func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        if let exitCode { return exitCode }
        let deadline = Deadline(after: timeout)
        while !deadline.hasPassed {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let signal = status & 0x7f
                let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
                exitCode = code
                return code
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TestTimeout(description: "runnerd did not exit within \(timeout); output:\n\(output)")
    }

    /// The pids of the daemon's child processes right now.
    var childPIDs: [pid_t] {
        processes().filter { $0.parent == pid }.map(\.pid)
    }

    /// Every descendant of the daemon, found through /proc.
    var descendants: [pid_t] {
        let all = processes()
        var found: Set<pid_t> = [pid]
        var grew = true
        while grew {
            grew = false
            for process in all where found.contains(process.parent) && !found.contains(process.pid) {
                found.insert(process.pid)
                grew = true
            }
        }
        found.remove(pid)
        return Array(found)
    }
}

/// Writes `text` to a fresh temporary config file and returns its path. The file is removed when
/// the test process exits.
func temporaryConfig(_ text: String) -> String {
    _ = removeTemporaryConfigsAtExit
    var template = Array("/tmp/runnerd-test-XXXXXX.yaml".utf8CString)
    let fd = mkstemps(&template, 5)
    precondition(fd >= 0, "mkstemps failed")
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    temporaryConfigs.withLock { $0.append(path) }
    return path
}

/// Replaces the contents of the config file at `path` (for a reload).
func rewriteConfig(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_TRUNC)
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

/// Reads datagrams from a fake notify socket until one satisfies `matches` (bounded by
/// `timeout`); returns everything read, in the order the kernel queued it.
func receiveDatagrams(
    _ receiver: NotifyReceiver, until matches: (String) -> Bool, timeout: Duration = .seconds(20)
) async throws -> [String] {
    var seen: [String] = []
    let deadline = Deadline(after: timeout)
    while !deadline.hasPassed {
        let text = try await receiver.receiveAsync(timeout: .milliseconds(Int64(max(1, deadline.remainingMilliseconds)))).text
        seen.append(text)
        if matches(text) { return seen }
    }
    throw TestTimeout(description: "no matching datagram within \(timeout); got \(seen)")
}

/// The files `temporaryConfig` made. Daemons under test read them at start and on reload, so
/// they live as long as the test process.
private let temporaryConfigs = Mutex<[String]>([])

private let removeTemporaryConfigsAtExit: Void = {
    atexit { temporaryConfigs.withLock { paths in paths.forEach { unlink($0) } } }
}()

/// The resident set size of `pid` in KiB, from /proc/PID/status.
func residentKiB(of pid: pid_t) -> Int? {
    guard let file = fopen("/proc/\(pid)/status", "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 256)
    while fgets(&buffer, 256, file) != nil {
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
    }
    return nil
}

/// The contents of the file at `path`, or "" if it cannot be read.
func readFile(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
