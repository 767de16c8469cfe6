import CLinuxSupport
import Glibc
import Runner
import Synchronization
import RunnerdConfig
import Systemd

/// Writes services' output lines on a thread of its own, so that a slow terminal or a busy
/// journald never blocks the event loop, which must keep reaping children and handling signals.
///
/// Under journald each service gets its own share of the budget (`log-rate-limit`): past it, its
/// lines are dropped and counted, and `web/api: suppressed 12,345 lines in the last 30s` is
/// logged when its window ends, so that one flooding service cannot use up journald's limit for
/// the whole unit and silence the others. Lines that find no journald at all are counted per
/// service too, and the counts are logged once journald is back.
///
/// The loop appends lines; the writer thread takes everything appended so far and writes it in
/// one go: one `write` for the terminal, one datagram per line for journald. The
/// backlog is bounded: once it holds more than `capacity` bytes, `append` says so and the loop
/// stops reading children's pipes (the children then block on their writes, as they would on a
/// full pipe) until the writer has caught up and calls `onDrained`.
final class LogWriter: Sendable {
    /// Where lines go.
    enum Target: Sendable {
        /// Lines prefixed `group/service | ` on this file descriptor (the daemon's stdout).
        case terminal(fd: Int32)
        /// Native journal entries: `SYSLOG_IDENTIFIER=<service>`, `RUNNERD_GROUP=<group>`,
        /// `RUNNERD_SERVICE=<group>/<service>`.
        case journal

        var isJournal: Bool {
            if case .journal = self { return true }
            return false
        }
    }

    /// Which pipe of the service a line came from.
    enum Stream: Sendable {
        case stdout
        case stderr
    }

    /// The service a line belongs to, prepared once per service rather than per line.
    struct Source: Sendable {
        let group: String
        let service: String
        /// `group/service`: the key of the service's rate limit, which outlives its runs.
        let key: String
        let terminalPrefix: [UInt8]
        let journalFields: [JournalField]
        /// The fields of runnerd's own lines about the service.
        let runnerdFields: [JournalField]
        /// stdout lines are info; stderr lines this (`stderr-priority`, warning by default).
        let stderrPriority: SyslogPriority
        /// `level-prefix`: a leading `<N>` sets the line's priority and is removed.
        let levelPrefix: Bool
        let rateLimit: LogRateLimit

        init(
            group: String, service: String, stderrPriority: SyslogPriority = .warning, levelPrefix: Bool = true,
            rateLimit: LogRateLimit = .standard
        ) {
            self.group = group
            self.service = service
            key = "\(group)/\(service)"
            self.stderrPriority = stderrPriority
            self.levelPrefix = levelPrefix
            self.rateLimit = rateLimit
            terminalPrefix = Array("\(group)/\(service) | ".utf8)
            runnerdFields = [
                .syslogIdentifier("runnerd"),
                (try? JournalField(name: "RUNNERD_GROUP", value: group)) ?? .syslogIdentifier("runnerd"),
                (try? JournalField(name: "RUNNERD_SERVICE", value: "\(group)/\(service)")) ?? .syslogIdentifier("runnerd"),
            ]
            journalFields = [
                .syslogIdentifier(service),
                (try? JournalField(name: "RUNNERD_GROUP", value: group)) ?? .syslogIdentifier(service),
                // The same value as the RUNNERD_SERVICE variable in the service's environment.
                (try? JournalField(name: "RUNNERD_SERVICE", value: "\(group)/\(service)")) ?? .syslogIdentifier(service),
            ]
        }
    }

    private struct Entry {
        var source: Source
        var priority: SyslogPriority
        var pid: Int32
        var line: [UInt8]
        /// A line of runnerd's own about the source (a count of suppressed lines).
        var fromRunnerd = false
    }

    private struct Backlog {
        var terminal: [UInt8] = []
        var entries: [Entry] = []
        var bytes = 0
        var throttled = false
        /// Each service's rate-limit window, by `group/service`.
        var windows: [String: RateWindow] = [:]
    }

    /// One service's current rate-limit window.
    private struct RateWindow {
        var start: ContinuousClock.Instant
        var lines = 0
        var suppressed = 0
    }

    let target: Target
    let capacity: Int
    /// journald's socket, connected on the first entry (only used with `Target.journal`).
    private let journal: JournalConnection
    private let backlog = Mutex(Backlog())
    private let wakeFD: Int32
    private let drained = Mutex<(@Sendable () -> Void)?>(nil)

    init(target: Target, capacity: Int = 4 << 20, journal: JournalConnection = JournalConnection()) {
        self.target = target
        self.capacity = capacity
        self.journal = journal
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC))
        precondition(wakeFD >= 0, "cannot create the log writer's eventfd: errno \(errno)")
        spawnThread(name: "runnerd-logs") { [self] in writeForever() }
    }

    /// Called on the writer thread when a throttled backlog has been written out.
    func onDrained(_ callback: @escaping @Sendable () -> Void) {
        drained.withLock { $0 = callback }
    }

    /// Queues one line (without its newline). Returns false when the backlog is over capacity:
    /// the caller should stop reading until `onDrained` fires.
    func append(_ line: UnsafeRawBufferPointer, from source: Source, stream: Stream, pid: Int32) -> Bool {
        appendLines(from: source, stream: stream, pid: pid) { add in add(line) }
    }

    /// Queues many lines of one source at once: `fill` gets a function to call once per line
    /// (without its newline), and runs under the writer's lock, so that a chunk of a thousand
    /// lines costs one lock rather than a thousand. `fill` must not call back into the writer.
    /// Returns false when the backlog is over capacity, as `append` does.
    func appendLines(
        from source: Source, stream: Stream, pid: Int32,
        _ fill: (_ add: (UnsafeRawBufferPointer) -> Void) -> Void
    ) -> Bool {
        let target = self.target
        // One clock reading per chunk, for the rate limit: a chunk's lines arrived together.
        let now = ContinuousClock.now
        let (wake, accepting) = backlog.withLock { backlog -> (Bool, Bool) in
            let wasEmpty = backlog.bytes == 0
            // The source's rate-limit window, looked up once per chunk rather than per line.
            var window = target.isJournal ? Self.window(of: source, at: now, in: &backlog) : nil
            fill { whole in
                var line = whole
                var priority = stream == .stdout ? SyslogPriority.info : source.stderrPriority
                if source.levelPrefix, let (prefixed, rest) = Self.levelPrefix(of: line) {
                    priority = prefixed
                    line = rest
                }
                switch target {
                case .terminal:
                    backlog.terminal.append(contentsOf: source.terminalPrefix)
                    backlog.terminal.append(contentsOf: line)
                    backlog.terminal.append(UInt8(ascii: "\n"))
                    backlog.bytes += source.terminalPrefix.count + line.count + 1
                case .journal:
                    if window != nil {
                        window!.lines += 1
                        if window!.lines > source.rateLimit.burst {
                            window!.suppressed += 1
                            return
                        }
                    }
                    backlog.entries.append(Entry(source: source, priority: priority, pid: pid, line: Array(line)))
                    backlog.bytes += line.count + 64
                }
            }
            if let window { backlog.windows[source.key] = window }
            if backlog.bytes > capacity { backlog.throttled = true }
            return (wasEmpty && backlog.bytes > 0, !backlog.throttled)
        }
        if wake {
            var one: UInt64 = 1
            _ = Glibc.write(wakeFD, &one, 8)
        }
        return accepting
    }

    /// A line's `<N>` prefix (N from 0 to 7) as systemd's `SyslogLevelPrefix=` reads it: the
    /// priority, and the line without the prefix.
    private static func levelPrefix(of line: UnsafeRawBufferPointer) -> (SyslogPriority, UnsafeRawBufferPointer)? {
        guard line.count >= 3, line[0] == UInt8(ascii: "<"), line[2] == UInt8(ascii: ">"),
              let priority = SyslogPriority(rawValue: Int(line[1]) - Int(UInt8(ascii: "0")))
        else { return nil }
        return (priority, UnsafeRawBufferPointer(rebasing: line[3...]))
    }

    /// The rate-limit window that lines of `source` arriving at `now` count in, or nil when the
    /// source has no limit. When a window with suppressed lines has ended, the count goes into
    /// the backlog first, as a line of runnerd's own, and a new window starts.
    private static func window(of source: Source, at now: ContinuousClock.Instant, in backlog: inout Backlog) -> RateWindow? {
        let limit = source.rateLimit
        guard limit.interval > .zero else { return nil }
        guard let window = backlog.windows[source.key], now - window.start < limit.interval else {
            if let ended = backlog.windows[source.key], ended.suppressed > 0 {
                let text = "\(source.key): suppressed \(Self.grouped(ended.suppressed)) lines in the last \(DurationText.format(Self.wholeSeconds(now - ended.start))) (log-rate-limit: \(limit.burst) lines per \(DurationText.format(limit.interval)))"
                backlog.entries.append(Entry(source: source, priority: .warning, pid: Int32(getpid()), line: Array(text.utf8), fromRunnerd: true))
                backlog.bytes += text.utf8.count + 64
            }
            return RateWindow(start: now)
        }
        return window
    }

    /// `12,345`.
    static func grouped(_ number: Int) -> String {
        var digits = Array(String(number))
        var index = digits.count - 3
        while index > 0 {
            digits.insert(",", at: index)
            index -= 3
        }
        return String(digits)
    }

    private static func wholeSeconds(_ duration: Duration) -> Duration {
        .seconds(max(1, duration.components.seconds))
    }

    private func writeForever() {
        while true {
            var count: UInt64 = 0
            guard read(wakeFD, &count, 8) == 8 else { continue }
            while true {
                let taken = backlog.withLock { backlog -> Backlog? in
                    guard backlog.bytes > 0 else { return nil }
                    defer {
                        backlog.terminal = []
                        backlog.entries = []
                        backlog.bytes = 0
                    }
                    return backlog
                }
                guard let taken else { break }
                write(taken)
                if taken.throttled {
                    let resume = backlog.withLock { backlog -> Bool in
                        guard backlog.throttled && backlog.bytes <= capacity / 2 else { return false }
                        backlog.throttled = false
                        return true
                    }
                    if resume { drained.withLock { $0 }?() }
                }
            }
        }
    }

    private func write(_ taken: Backlog) {
        switch target {
        case .terminal(let fd):
            taken.terminal.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return  // a closed terminal: drop the output rather than stop the daemon
                    }
                    offset += written
                }
            }
        case .journal:
            for entry in taken.entries {
                var fields = entry.fromRunnerd ? entry.source.runnerdFields : entry.source.journalFields
                fields.append(.message(bytes: entry.line))
                fields.append(.priority(entry.priority))
                if let pid = try? JournalField(name: "SYSLOG_PID", value: String(entry.pid)) { fields.append(pid) }
                deliver(fields, from: entry.source)
            }
        }
    }

    /// Lines that found no journald, by service, on the writer thread only.
    private let undelivered = Mutex<[String: (source: Source, count: Int)]>([:])

    /// Sends one entry; counts it when no journald takes it, and once one does again, logs each
    /// service's count first.
    private func deliver(_ fields: [JournalField], from source: Source) {
        let sent = (try? journal.send(fields)) ?? true
        guard sent else {
            undelivered.withLock { $0[source.key, default: (source, 0)].count += 1 }
            return
        }
        let missed = undelivered.withLock { missed -> [(source: Source, count: Int)] in
            defer { missed = [:] }
            return missed.values.sorted { $0.source.key < $1.source.key }
        }
        for (source, count) in missed {
            var report = source.runnerdFields
            report.append(.message("\(source.key): dropped \(Self.grouped(count)) lines while journald was not running"))
            report.append(.priority(.warning))
            _ = try? journal.send(report)
        }
    }
}
