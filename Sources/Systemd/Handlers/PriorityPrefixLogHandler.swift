import Glibc
public import Logging

/// A swift-log handler that writes lines prefixed with their syslog priority, `<N>`, for a
/// stream that journald (or runnerd) reads, such as a service's stderr.
///
/// journald strips the prefix and records the priority (`SyslogLevelPrefix=`, on by default).
/// Each event becomes `<N>message key=value…\n`, with metadata merged as in
/// ``JournalLogHandler``, sorted by key, on the last line. A stream has no multi-line entries, so
/// every line of a multi-line message gets its own prefix and becomes its own entry at the same
/// priority. The label is not written: journald names the stream by its unit. Each event is one
/// `write(2)`, so concurrent events do not interleave.
public struct PriorityPrefixLogHandler: LogHandler {
    /// The handler's own metadata, added to every line.
    public var metadata: Logger.Metadata = [:]

    /// The lowest level this handler writes.
    public var logLevel: Logger.Level

    /// Contextual metadata read at each log call.
    public var metadataProvider: Logger.MetadataProvider?

    /// The logger's label.
    public let label: String

    /// The descriptor written to; 2 (standard error) unless given.
    public let fileDescriptor: Int32

    /// A handler for the logger `label`, writing to `fileDescriptor` (which it neither owns nor
    /// closes).
    public init(
        label: String,
        fileDescriptor: Int32 = 2,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.fileDescriptor = fileDescriptor
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    /// Reads or writes one entry of ``metadata``.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes `event` as one or more prefixed lines; see the type's documentation.
    public func log(event: LogEvent) {
        let merged = LogRecord.metadata(handler: metadata, provider: metadataProvider, event: event)
        let prefix = "<\(SyslogPriority(event.level).rawValue)>"
        let text = event.message.description + LogRecord.text(of: merged)
        var output = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            output += prefix
            output += line
            output += "\n"
        }
        StandardStream.write(Array(output.utf8), to: fileDescriptor)
    }
}
