import Glibc
public import Logging

/// A swift-log handler that writes plain, human-readable lines, for a terminal.
///
/// Each event becomes `2026-01-31 12:00:00.123 info label: message key=value…\n` (local time,
/// millisecond precision), or the same without the time when ``showsTimestamps`` is false.
/// Metadata is merged as in ``JournalLogHandler`` and sorted by key. A multi-line message is
/// written as it is. Each event is one `write(2)`, so concurrent events do not interleave.
public struct TerminalLogHandler: LogHandler {
    /// The handler's own metadata, added to every line.
    public var metadata: Logger.Metadata = [:]

    /// The lowest level this handler writes.
    public var logLevel: Logger.Level

    /// Contextual metadata read at each log call.
    public var metadataProvider: Logger.MetadataProvider?

    /// The logger's label, written before the message.
    public let label: String

    /// The descriptor written to; 2 (standard error) unless given.
    public let fileDescriptor: Int32

    /// Whether each line starts with the local date and time.
    public let showsTimestamps: Bool

    /// A handler for the logger `label`, writing to `fileDescriptor` (which it neither owns nor
    /// closes).
    public init(
        label: String,
        fileDescriptor: Int32 = 2,
        showsTimestamps: Bool = true,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.fileDescriptor = fileDescriptor
        self.showsTimestamps = showsTimestamps
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    /// Reads or writes one entry of ``metadata``.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes `event` as a line; see the type's documentation.
    public func log(event: LogEvent) {
        let merged = LogRecord.metadata(handler: metadata, provider: metadataProvider, event: event)
        var line = showsTimestamps ? Self.timestamp() + " " : ""
        line += "\(event.level) \(label): \(event.message)\(LogRecord.text(of: merged))\n"
        StandardStream.write(Array(line.utf8), to: fileDescriptor)
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var local = tm()
        localtime_r(&seconds, &local)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &local)
        let milliseconds = Int(now.tv_nsec) / 1_000_000
        let fraction = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) + "." + fraction
    }
}
