import Glibc

/// Signal names and numbers as a config writes them (`stop-signal: SIGTERM`, `TERM`, `15`) and as
/// messages show them.
public enum SignalName {
    /// The highest signal number a config may name (Linux's SIGRTMAX).
    public static let highest: Int32 = 64

    /// The standard signals by name without the `SIG` prefix. Real-time signals have no names
    /// here; a config names them by number.
    static let numbersByName: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP,
        "ABRT": SIGABRT, "IOT": SIGIOT, "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL,
        "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2, "PIPE": SIGPIPE, "ALRM": SIGALRM,
        "TERM": SIGTERM, "STKFLT": SIGSTKFLT, "CHLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP,
        "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU,
        "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO,
        "POLL": SIGPOLL, "PWR": SIGPWR, "SYS": SIGSYS,
    ]

    /// One name per number, preferring the common spelling where two names share a number.
    private static let namesByNumber: [Int32: String] = {
        var names: [Int32: String] = [:]
        for (name, number) in numbersByName where !["IOT", "POLL"].contains(name) {
            names[number] = name
        }
        return names
    }()

    /// The signal `text` names: `SIGTERM`, `TERM` (either case) or a number from 1 to
    /// ``highest``. Returns nil for anything else, including 0 and real-time signals by name.
    public static func number(_ text: String) -> Int32? {
        if let number = Int32(text) {
            return (1...highest).contains(number) ? number : nil
        }
        var name = text.uppercased()
        if name.hasPrefix("SIG") {
            name.removeFirst(3)
        }
        return numbersByName[name]
    }

    /// `SIGTERM` for 15, and `signal 40` for a number without a name.
    public static func name(of number: Int32) -> String {
        namesByNumber[number].map { "SIG" + $0 } ?? "signal \(number)"
    }

    /// Every name with its `SIG` prefix, for suggesting the nearest one to a typo.
    static var allNames: [String] {
        numbersByName.keys.sorted().map { "SIG" + $0 }
    }
}
