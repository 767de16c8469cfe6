import CLinuxSupport
import Glibc
import RunnerdConfig

/// A service's process could not be started. Its message says what failed and what to do.
public struct SpawnError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The step that failed: "exec", "chdir", "setuid", ...
    public let stage: String
    /// The `errno` of the failing step.
    public let errno: Int32
    /// The program the service runs, as resolved from its `command`.
    public let executable: String
    /// What the failing step was about (the directory, the user), for the message.
    public let subject: String
    /// The user the service runs as, when `user:` switched it: the directory was entered as
    /// that user, after the switch.
    public let userName: String?

    /// The bytes of the environment execve was given (each entry with its NUL) and its entries,
    /// for the message when it refused them (E2BIG).
    public let environmentSize: (bytes: Int, count: Int)?

    /// Equal when every field is: the tuple of the environment's size is compared by its parts.
    public static func == (lhs: SpawnError, rhs: SpawnError) -> Bool {
        lhs.stage == rhs.stage && lhs.errno == rhs.errno && lhs.executable == rhs.executable
            && lhs.subject == rhs.subject && lhs.userName == rhs.userName
            && lhs.environmentSize?.bytes == rhs.environmentSize?.bytes && lhs.environmentSize?.count == rhs.environmentSize?.count
    }

    init(
        stage: Int32, errno: Int32, executable: String, workingDirectory: String?, credentials: Credentials?,
        environment: [String] = []
    ) {
        environmentSize = errno == E2BIG
            ? (environment.reduce(0) { $0 + $1.utf8.count + 1 }, environment.count) : nil
        self.errno = errno
        self.executable = executable
        userName = credentials.map { $0.userName ?? "uid \($0.uid)" }
        switch UInt32(stage) {
        case RUNNERD_SPAWN_STAGE_CHDIR.rawValue:
            self.stage = "chdir"
            subject = workingDirectory ?? ""
        case RUNNERD_SPAWN_STAGE_GROUPS.rawValue, RUNNERD_SPAWN_STAGE_GID.rawValue, RUNNERD_SPAWN_STAGE_UID.rawValue:
            self.stage = "credentials"
            subject = credentials.map { "\($0.userName ?? "uid \($0.uid)") (uid \($0.uid), gid \($0.gid))" } ?? ""
        case RUNNERD_SPAWN_STAGE_EXEC.rawValue:
            self.stage = "exec"
            subject = executable
        case RUNNERD_SPAWN_STAGE_FORK.rawValue:
            self.stage = "fork"
            subject = ""
        case RUNNERD_SPAWN_STAGE_CGROUP.rawValue:
            self.stage = "cgroup"
            subject = ""
        default:
            self.stage = "setup"
            subject = ""
        }
    }

    /// What failed and what to do, for the log and `runnerd check`.
    public var description: String {
        let reason = String(cString: strerror(errno))
        switch stage {
        case "exec" where errno == E2BIG:
            let size = environmentSize ?? (0, 0)
            return "cannot execute \(executable): the environment is too large for execve: \(size.bytes) bytes in \(size.count) variables, and the kernel takes at most \(sysconf(Int32(_SC_ARG_MAX))) bytes of arguments and environment together (a quarter of the stack limit) and 131072 bytes per variable; shrink environment: or environment-files"
        case "exec":
            let hint = errno == ENOENT ? "check the command's path"
                : errno == EACCES ? "make it executable (chmod +x) and readable by the service's user"
                : errno == ENOEXEC ? "it is not a program this system can run; add a #! line or fix the file"
                : "check the command"
            return "cannot execute \(executable): \(reason); \(hint)"
        case "chdir":
            if let userName, errno == EACCES {
                return "cannot enter working directory \(subject) as \(userName): \(reason); let \(userName) search it and its parents (chmod o+x, or chown) or fix working-directory"
            }
            return "cannot enter working directory \(subject): \(reason); create it or fix working-directory"
        case "credentials":
            let hint = errno == EPERM ? "runnerd must run as root to switch users" : "check user and group"
            return "cannot switch to \(subject): \(reason); \(hint)"
        case "cgroup":
            return "cannot move the process into its cgroup: \(reason); check runnerd's log for cgroup errors"
        case "fork":
            return "cannot create a process: \(reason); the system is out of processes or memory"
        default:
            return "cannot set up the process: \(reason)"
        }
    }
}
