#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A Unix signal: its number and its conventional name, such as `SIGTERM` for 15.
///
/// A struct with static members rather than an enum, so that any signal number can be held
/// (real-time signals have numbers but no names) and names can be added without breaking code.
/// The numbers are Linux's. Every name that runnerd accepts or prints comes from this one table.
public struct UnixSignal: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
    /// The signal number, as `kill(2)` and `sigaction(2)` take it.
    public let rawValue: Int32

    /// The signal with this number. Any number is accepted; one without a name has a nil `name`.
    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// The signal named `name`: `SIGTERM` or `TERM`, in any case. Aliases such as `SIGIOT`
    /// (for SIGABRT) and `SIGPOLL` (for SIGIO) are accepted too. Returns nil for any other text,
    /// including numbers and real-time signals, which have no fixed names.
    public init?(name: String) {
        var bare = name.uppercased()
        if bare.hasPrefix("SIG") { bare.removeFirst(3) }
        guard let number = Self.table.first(where: { $0.name == bare })?.number else { return nil }
        self.rawValue = number
    }

    /// The conventional name with its `SIG` prefix (`SIGTERM`), or nil for a number without
    /// one. Where two names share a number, the common one (`SIGABRT`, not `SIGIOT`).
    public var name: String? {
        Self.table.first { $0.number == rawValue }.map { "SIG" + $0.name }
    }

    /// The name, or `signal 40` for a number without one.
    public var description: String {
        name ?? "signal \(rawValue)"
    }

    /// Every name `init(name:)` accepts, with its `SIG` prefix, sorted: for listing them, or for
    /// suggesting the nearest one to a misspelt name.
    public static var names: [String] {
        table.map { "SIG" + $0.name }.sorted()
    }

    /// Hangup: the controlling terminal closed; daemons conventionally reload on it.
    public static let sighup = UnixSignal(rawValue: SIGHUP)
    /// Interrupt: Ctrl-C on a terminal.
    public static let sigint = UnixSignal(rawValue: SIGINT)
    /// Quit: Ctrl-\ on a terminal; by default it also dumps core.
    public static let sigquit = UnixSignal(rawValue: SIGQUIT)
    /// Kill: cannot be caught, blocked or ignored.
    public static let sigkill = UnixSignal(rawValue: SIGKILL)
    /// User-defined signal 1.
    public static let sigusr1 = UnixSignal(rawValue: SIGUSR1)
    /// User-defined signal 2.
    public static let sigusr2 = UnixSignal(rawValue: SIGUSR2)
    /// A write to a pipe or socket with no reader.
    public static let sigpipe = UnixSignal(rawValue: SIGPIPE)
    /// Terminate: the polite request to stop that `kill` and systemd send by default.
    public static let sigterm = UnixSignal(rawValue: SIGTERM)
    /// A child process stopped or exited.
    public static let sigchld = UnixSignal(rawValue: SIGCHLD)
    /// The terminal window changed size.
    public static let sigwinch = UnixSignal(rawValue: SIGWINCH)

    /// Names without the `SIG` prefix. The first name listed for a number is the one printed.
    private static let table: [(name: String, number: Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP),
        ("ABRT", SIGABRT), ("IOT", SIGIOT), ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL),
        ("USR1", SIGUSR1), ("SEGV", SIGSEGV), ("USR2", SIGUSR2), ("PIPE", SIGPIPE), ("ALRM", SIGALRM),
        ("TERM", SIGTERM), ("STKFLT", SIGSTKFLT), ("CHLD", SIGCHLD), ("CONT", SIGCONT), ("STOP", SIGSTOP),
        ("TSTP", SIGTSTP), ("TTIN", SIGTTIN), ("TTOU", SIGTTOU), ("URG", SIGURG), ("XCPU", SIGXCPU),
        ("XFSZ", SIGXFSZ), ("VTALRM", SIGVTALRM), ("PROF", SIGPROF), ("WINCH", SIGWINCH), ("IO", SIGIO),
        ("POLL", SIGPOLL), ("PWR", SIGPWR), ("SYS", SIGSYS),
    ]
}
