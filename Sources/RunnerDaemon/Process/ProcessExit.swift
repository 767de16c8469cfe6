import Runner

/// How a child process ended, as `waitpid` reports it.
public enum ProcessExit: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32, coreDumped: Bool)

    init(waitStatus status: Int32) {
        if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(status & 0x7f, coreDumped: status & 0x80 != 0)
        }
    }

    /// Whether the process exited with status 0.
    public var isSuccess: Bool { self == .exited(0) }

    /// `status 3`, or `signal SIGKILL` (`, core dumped`).
    public var description: String {
        switch self {
        case .exited(let code): "status \(code)"
        case .signaled(let signal, let core): "signal \(UnixSignal(rawValue: signal))" + (core ? " (core dumped)" : "")
        }
    }
}

