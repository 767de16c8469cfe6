import RunnerdTestSupport
import Glibc

/// Runs a program to completion with a given environment and captures its standard output, with
/// a deadline. Tests use it for code that reads the real process environment or a fixed path,
/// which the (threaded, parallel) test process must not change.
struct ChildProcess {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// What the child did.
    struct Result {
        /// The child's process ID.
        let pid: Int32
        /// The exit code, or 128 + the signal number if it was killed.
        let status: Int32
        /// Everything it wrote to standard output, as lines without their newlines.
        let lines: [String]
    }

    /// The fixture program built next to this test binary (same build products directory).
    static var helperPath: String {
        var target = [UInt8](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &target, target.count)
        precondition(count > 0, "cannot read /proc/self/exe")
        let executable = String(decoding: target[..<count], as: UTF8.self)
        // The test bundle is <products>/runnerdPackageTests.xctest; the helper is <products>/SystemdTestHelper.
        let directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return directory + "/SystemdTestHelper"
    }

    /// Runs `path` with `arguments` (argv[1...]) and exactly `environment` as its environment.
    ///
    /// - Parameters:
    ///   - input: written to the child's stdin, which is then closed.
    ///   - descriptors: child descriptor number → open descriptor in this process to place there.
    ///   - timeout: the child is killed and the call throws if it has not closed stdout by then.
    static func run(
        _ path: String,
        _ arguments: [String],
        environment: [String],
        input: String = "",
        descriptors: [Int32: Int32] = [:],
        timeout: Duration = .seconds(30)
    ) throws -> Result {
        // Socket pairs rather than pipes because they can be created close-on-exec atomically
        // (pipe2 is not imported): other tests spawn children concurrently, and a child that
        // inherited our write end would keep our read end from ever seeing EOF.
        var stdinPipe: [Int32] = [-1, -1]
        var stdoutPipe: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &stdinPipe) == 0, socketpair(AF_UNIX, type, 0, &stdoutPipe) == 0 else {
            throw Failure(description: "socketpair failed: errno \(errno)")
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        for (target, source) in descriptors {
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        close(stdinPipe[0])
        close(stdoutPipe[1])
        guard spawned == 0 else {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            throw Failure(description: "posix_spawn \(path) failed: \(String(cString: strerror(spawned)))")
        }

        var inputBytes = Array(input.utf8)
        var offset = 0
        while offset < inputBytes.count {
            let written = inputBytes.withUnsafeMutableBytes { write(stdinPipe[1], $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 { break }
            offset += written
        }
        inputBytes.removeAll()
        close(stdinPipe[1])

        defer { close(stdoutPipe[0]) }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Deadline(after: timeout)
        while true {
            var poller = pollfd(fd: stdoutPipe[0], events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, deadline.remainingMilliseconds)
            if ready == 0 {
                kill(pid, SIGKILL)
                var ignored: Int32 = 0
                waitpid(pid, &ignored, 0)
                throw Failure(description: "\(path) \(arguments) did not finish within \(timeout); output so far: \(String(decoding: output, as: UTF8.self))")
            }
            if ready < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "poll failed: errno \(errno)")
            }
            let count = read(stdoutPipe[0], &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output.append(contentsOf: buffer[..<count])
        }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // The W* macros are not imported; this is their Linux definition.
        let signal = status & 0x7F
        let code = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
        var lines = String(decoding: output, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" {
            lines.removeLast()
        }
        return Result(pid: pid, status: code, lines: lines)
    }

    /// Runs the fixture program `SystemdTestHelper` in `mode`.
    static func helper(
        _ mode: String, _ arguments: [String] = [], environment: [String], input: String = "",
        descriptors: [Int32: Int32] = [:]
    ) throws -> Result {
        try run(helperPath, [mode] + arguments, environment: environment, input: input, descriptors: descriptors)
    }
}
