public import Glibc
import RunnerdConfig

/// Files the config tests point at, made once per test process in a fresh directory under /tmp,
/// so that executables, directories and environment files exist exactly as each test expects.
public enum ConfigFixture {
    /// The fixture's root, e.g. `/tmp/runnerd-config-tests-AbC123`.
    public static let directory: String = {
        var template = Array("/tmp/runnerd-config-tests-XXXXXX".utf8CString)
        let root = template.withUnsafeMutableBufferPointer { buffer in
            guard let made = mkdtemp(buffer.baseAddress!) else { preconditionFailure("mkdtemp failed: \(errno)") }
            return String(cString: made)
        }
        // Open to every user, as /srv and /usr are: services with user: nobody are judged as
        // nobody, who must reach the files (mkdtemp makes the root 0700).
        chmod(root, 0o755)
        for directory in ["bin", "bin2", "work", "env", "env/a-directory", "private"] {
            mkdir("\(root)/\(directory)", 0o755)
        }
        write("\(root)/bin/tool", "#!/bin/sh\nexit 0\n", mode: 0o755)
        write("\(root)/bin/plain", "not a program\n", mode: 0o644)
        write("\(root)/bin/python3", "#!/bin/sh\nexit 0\n", mode: 0o644)
        write("\(root)/bin2/python3", "#!/bin/sh\nexit 0\n", mode: 0o755)
        write("\(root)/work/run.sh", "#!/bin/sh\nexit 0\n", mode: 0o755)
        write("\(root)/env/nul.env", bytes: Array("A=1\u{0}rm\nB=2\n".utf8), mode: 0o644)
        mkfifo("\(root)/env/fifo", 0o644)
        // One byte past the 1 MiB limit for an environment file.
        write("\(root)/env/large.env", bytes: Array(repeating: UInt8(ascii: "#"), count: (1 << 20) + 1), mode: 0o644)
        write("\(root)/bin/rootonly", "#!/bin/sh\nexit 0\n", mode: 0o744)
        write("\(root)/private/tool", "#!/bin/sh\nexit 0\n", mode: 0o755)
        chmod("\(root)/private", 0o700)
        write("\(root)/env/first.env", "# shared settings\nA=1\nB=2\n", mode: 0o644)
        write("\(root)/env/second.env", "B=3\nC=4\n", mode: 0o644)
        write("\(root)/env/bad.env", "GOOD=1\n1BAD=2\nNOEQUALS\nexport E=5\n", mode: 0o644)
        // Swift Testing has no suite-wide teardown; removing the files at exit keeps /tmp clean.
        atexit { ConfigFixture.remove() }
        return root
    }()

    /// Every file a test may create under ``directory``, then the directories, deepest first.
    private static let createdFiles = [
        "bin/tool", "bin/plain", "bin/rootonly", "private/tool", "bin/python3", "bin2/python3", "work/run.sh", "env/first.env", "env/second.env",
        "env/bad.env", "env/fifo", "env/large.env", "env/nul.env", "relative.yaml", "latin1.yaml", "large.yaml", "fifo.yaml",
    ]
    private static let createdDirectories = ["env/a-directory", "env", "private", "work", "bin2", "bin", ""]

    private static func remove() {
        for file in createdFiles {
            unlink("\(directory)/\(file)")
        }
        for subdirectory in createdDirectories {
            rmdir("\(directory)/\(subdirectory)")
        }
    }

    /// Holds `tool` (executable), `plain` (not executable), `rootonly` (executable by its owner,
    /// root, only) and a non-executable `python3`.
    public static var bin: String { directory + "/bin" }
    /// Holds an executable `python3`.
    public static var bin2: String { directory + "/bin2" }
    /// An existing directory, holding the executable `run.sh`.
    public static var work: String { directory + "/work" }
    /// A directory only root can enter (0700), holding an executable `tool`.
    public static var privateDirectory: String { directory + "/private" }
    /// `first.env`, `second.env`, `bad.env`, `large.env` (past the 1 MiB limit), the FIFO
    /// `fifo` (with no writer) and the directory `a-directory`.
    public static var env: String { directory + "/env" }

    /// The environment the tests load with: only `PATH`, and only the fixture's `bin`.
    public static var environment: [String: String] { ["PATH": bin] }

    /// The error lines `yaml` produces as `runnerd.yaml`, or `[]` when it loads.
    public static func errors(_ yaml: String, environment: [String: String] = environment) -> [String] {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, path: "runnerd.yaml", environment: environment)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    /// The text of the file at `path`, or nil when it cannot be read.
    public static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count == 0 { return String(decoding: bytes, as: UTF8.self) }
            bytes += buffer[..<count]
        }
    }

    /// Writes `contents` to `path` with `mode`, replacing any file there.
    public static func write(_ path: String, _ contents: String, mode: mode_t) {
        write(path, bytes: Array(contents.utf8), mode: mode)
    }

    /// Writes `bytes` to `path` with `mode`, replacing any file there.
    public static func write(_ path: String, bytes: [UInt8], mode: mode_t) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        precondition(fd >= 0, "cannot create \(path): \(errno)")
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        precondition(written == bytes.count)
        fchmod(fd, mode)
        close(fd)
    }
}
