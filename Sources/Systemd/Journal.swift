import CSystemd
import Glibc
public import Logging

/// Writing to journald: native entries with arbitrary fields, and the swift-log handlers.
///
/// ```swift
/// LoggingSystem.bootstrap(Journal.handlerFactory(identifier: "myserver"))
///
/// try Journal.send([
///     .message("listening"), .priority(.info), .syslogIdentifier("api"),
///     try JournalField(name: "RUNNERD_GROUP", value: "web"),
/// ])
/// ```
public enum Journal {
    /// Writes one entry to journald through `sd_journal_sendv`, with `fields` in order. A program
    /// that writes many entries does better with a ``JournalConnection``.
    ///
    /// Values containing newlines are sent in the protocol's binary form, so a multi-line message
    /// stays one entry. Without a `SYSLOG_IDENTIFIER` field libsystemd adds the program's short
    /// name. Blocking: one `sendmsg` on a datagram socket that libsystemd opens once and keeps.
    ///
    /// - Throws: ``JournalError/noFields`` for an empty array; ``JournalError/sendFailed(code:)``
    ///   when the kernel refuses the entry. When journald is not running at all (no socket at
    ///   `/run/systemd/journal/socket`), libsystemd drops the entry and reports success.
    public static func send(_ fields: [JournalField]) throws(JournalError) {
        guard !fields.isEmpty else { throw .noFields }
        // One buffer holds every "NAME=value"; the iovecs point into it.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + 1 + $1.value.count })
        var spans: [(start: Int, count: Int)] = []
        spans.reserveCapacity(fields.count)
        for field in fields {
            let start = buffer.count
            buffer.append(contentsOf: field.name.utf8)
            buffer.append(UInt8(ascii: "="))
            buffer.append(contentsOf: field.value)
            spans.append((start, buffer.count - start))
        }
        let result = buffer.withUnsafeMutableBytes { bytes in
            let vectors = spans.map { span in
                iovec(iov_base: bytes.baseAddress! + span.start, iov_len: span.count)
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
        if result < 0 {
            throw .sendFailed(code: -result)
        }
    }

    /// Writes one entry from name/value pairs, checking each name as
    /// ``JournalField/init(name:value:)`` does; otherwise the contract of ``send(_:)``.
    ///
    /// ```swift
    /// try Journal.send(fields: ["MESSAGE": line, "SYSLOG_IDENTIFIER": "api", "RUNNERD_GROUP": "web"])
    /// ```
    public static func send(fields: KeyValuePairs<String, String>) throws(JournalError) {
        var checked: [JournalField] = []
        checked.reserveCapacity(fields.count)
        for (name, value) in fields {
            checked.append(try JournalField(name: name, value: value))
        }
        try send(checked)
    }

    /// The program's name, for `SYSLOG_IDENTIFIER`: the last path component of `argv[0]`.
    public static var defaultIdentifier: String {
        guard let path = CommandLine.arguments.first, !path.isEmpty else { return "swift" }
        return String(path.split(separator: "/", omittingEmptySubsequences: true).last ?? Substring(path))
    }

    /// A swift-log handler factory for `LoggingSystem.bootstrap`, writing where `destination`
    /// says.
    ///
    /// ``LogDestination/automatic`` is resolved once, when this is called (see
    /// ``LogDestination/resolved()``); every logger then gets the same kind of handler:
    /// ``JournalLogHandler``, ``PriorityPrefixLogHandler`` or ``TerminalLogHandler``.
    ///
    /// Without a `queue`, each log call writes on the caller's thread and blocks while the
    /// destination does not take the line (journald stopped or busy, a standard error nobody
    /// reads). With one, each handler is a ``QueuedLogHandler`` around that handler: a log call
    /// only queues the event and never waits for the destination; at most the queue's capacity of
    /// lines wait, later ones are dropped and counted, and the count is logged once the
    /// destination reads again. Call ``LogQueue/flush(timeout:)`` before the process exits, or
    /// the last lines may be lost.
    ///
    /// ```swift
    /// let logQueue = LogQueue(destination: .automatic)
    /// LoggingSystem.bootstrap(Journal.handlerFactory(identifier: "myserver", queue: logQueue))
    /// ```
    ///
    /// - Parameters:
    ///   - identifier: the `SYSLOG_IDENTIFIER` of native journal entries.
    ///   - destination: where to write; by default, what suits the way this process was started.
    ///   - logLevel: the initial level of each handler.
    ///   - queue: the queue that decouples log calls from the destination; none by default.
    public static func handlerFactory(
        identifier: String = Journal.defaultIdentifier,
        destination: LogDestination = .automatic,
        logLevel: Logger.Level = .info,
        queue: LogQueue? = nil
    ) -> @Sendable (String) -> any LogHandler {
        let resolved = destination.resolved()
        return { label in
            let handler: any LogHandler = switch resolved.kind {
            case .journal:
                JournalLogHandler(label: label, identifier: identifier, logLevel: logLevel)
            case .priorityPrefixedStandardError:
                PriorityPrefixLogHandler(label: label, logLevel: logLevel)
            case .automatic, .terminal:
                TerminalLogHandler(label: label, logLevel: logLevel)
            }
            guard let queue else { return handler }
            return QueuedLogHandler(wrapping: handler, queue: queue)
        }
    }
}
