import CLinuxSupport
import Glibc
import Runner
import Synchronization
import Systemd

/// Writes services' output lines on a thread of its own, so that a slow terminal or a busy
/// journald never blocks the event loop, which must keep reaping children and handling signals.
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
        /// Native journal entries: `SYSLOG_IDENTIFIER=<service>`, `RUNNERD_GROUP=<group>`.
        case journal
    }

    /// Which pipe of the service a line came from.
    enum Stream: Sendable {
        case stdout
        case stderr

        /// stderr is logged one step more urgent, so `journalctl -p warning` finds it.
        var priority: SyslogPriority { self == .stdout ? .info : .warning }
    }

    /// The service a line belongs to, prepared once per service rather than per line.
    struct Source: Sendable {
        let group: String
        let service: String
        let terminalPrefix: [UInt8]
        let journalFields: [JournalField]

        init(group: String, service: String) {
            self.group = group
            self.service = service
            terminalPrefix = Array("\(group)/\(service) | ".utf8)
            journalFields = [
                .syslogIdentifier(service),
                (try? JournalField(name: "RUNNERD_GROUP", value: group)) ?? .syslogIdentifier(service),
                (try? JournalField(name: "RUNNERD_SERVICE", value: service)) ?? .syslogIdentifier(service),
            ]
        }
    }

    private struct Backlog {
        var terminal: [UInt8] = []
        var entries: [(source: Source, stream: Stream, pid: Int32, line: [UInt8])] = []
        var bytes = 0
        var throttled = false
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
        let (wake, accepting) = backlog.withLock { backlog -> (Bool, Bool) in
            let wasEmpty = backlog.bytes == 0
            fill { line in
                switch target {
                case .terminal:
                    backlog.terminal.append(contentsOf: source.terminalPrefix)
                    backlog.terminal.append(contentsOf: line)
                    backlog.terminal.append(UInt8(ascii: "\n"))
                    backlog.bytes += source.terminalPrefix.count + line.count + 1
                case .journal:
                    backlog.entries.append((source, stream, pid, Array(line)))
                    backlog.bytes += line.count + 64
                }
            }
            if backlog.bytes > capacity { backlog.throttled = true }
            return (wasEmpty && backlog.bytes > 0, !backlog.throttled)
        }
        if wake {
            var one: UInt64 = 1
            _ = Glibc.write(wakeFD, &one, 8)
        }
        return accepting
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
                var fields = entry.source.journalFields
                fields.append(.message(bytes: entry.line))
                fields.append(.priority(entry.stream.priority))
                if let pid = try? JournalField(name: "SYSLOG_PID", value: String(entry.pid)) { fields.append(pid) }
                try? journal.send(fields)
            }
        }
    }
}
