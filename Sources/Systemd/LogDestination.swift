/// Where ``Journal/handlerFactory(identifier:destination:logLevel:queue:)`` sends log entries.
public struct LogDestination: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        case automatic
        case journal
        case priorityPrefixedStandardError
        case terminal
    }

    let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// Chosen from how the process was started; see ``resolved()``.
    public static let automatic = LogDestination(.automatic)

    /// Native journald entries with structured fields (``JournalLogHandler``).
    public static let journal = LogDestination(.journal)

    /// Lines on standard error with `<N>` syslog priority prefixes (``PriorityPrefixLogHandler``),
    /// which journald (and runnerd) read as each line's priority.
    public static let priorityPrefixedStandardError = LogDestination(.priorityPrefixedStandardError)

    /// Plain, human-readable lines on standard error (``TerminalLogHandler``).
    public static let terminal = LogDestination(.terminal)

    /// ``automatic`` replaced by the destination that suits this process; any other destination
    /// unchanged. See ``detect(standardErrorIsJournalStream:isSupervised:)`` for the rule.
    public func resolved() -> LogDestination {
        guard kind == .automatic else { return self }
        return Self.detect(
            standardErrorIsJournalStream: ServiceManager.isStandardErrorJournalStream,
            isSupervised: ServiceManager.isSupervised)
    }

    /// The automatic choice, as a pure function of the facts it depends on:
    ///
    /// - stderr is a journal stream (``ServiceManager/isStandardErrorJournalStream``): ``journal``,
    ///   since journald is there and native entries keep metadata as fields;
    /// - otherwise, under a service manager (``ServiceManager/isSupervised``, such as a child of
    ///   runnerd or a unit logging to a file): ``priorityPrefixedStandardError``, so that whoever
    ///   reads the stream still learns each line's priority;
    /// - otherwise (a terminal, a shell pipeline): ``terminal``.
    public static func detect(standardErrorIsJournalStream: Bool, isSupervised: Bool) -> LogDestination {
        if standardErrorIsJournalStream {
            return .journal
        }
        return isSupervised ? .priorityPrefixedStandardError : .terminal
    }

    /// The destination's name: `automatic`, `journal`, `priority-prefixed-stderr` or `terminal`.
    public var description: String {
        switch kind {
        case .automatic: "automatic"
        case .journal: "journal"
        case .priorityPrefixedStandardError: "priority-prefixed-stderr"
        case .terminal: "terminal"
        }
    }
}
