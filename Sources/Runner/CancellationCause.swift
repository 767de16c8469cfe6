/// Why a `CancellationToken` was cancelled.
///
/// A struct rather than an enum, so that causes can be added without breaking code that
/// switches over them.
///
/// There is no cause for a cancelled Swift `Task`: cancelling the task that awaits `run`
/// interrupts the runner, but never cancels the caller's token, which other work may share.
public struct CancellationCause: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case explicit
        case timeout(Duration)
        case parent
        case signal(Int32)
    }

    private let kind: Kind

    /// `cancel()` was called.
    public static let explicit = CancellationCause(kind: .explicit)
    /// The parent token was cancelled.
    public static let parent = CancellationCause(kind: .parent)

    /// The token's own timeout ran out.
    public static func timeout(_ duration: Duration) -> CancellationCause {
        CancellationCause(kind: .timeout(duration))
    }

    /// The process received this signal.
    public static func signal(_ number: Int32) -> CancellationCause {
        CancellationCause(kind: .signal(number))
    }

    /// The signal number, when a signal caused the cancellation.
    public var signal: Int32? {
        if case .signal(let number) = kind { return number }
        return nil
    }

    public var description: String {
        switch kind {
        case .explicit: "cancelled"
        case .timeout(let duration): "timed out after \(duration)"
        case .parent: "parent cancelled"
        case .signal(let number): "received \(signalName(number))"
        }
    }
}

/// The conventional name of a signal, such as `SIGTERM`, or `signal 42` for one without a name.
public func signalName(_ number: Int32) -> String {
    let names: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
        7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
        13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP",
        20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
        26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
    ]
    return names[number] ?? "signal \(number)"
}
