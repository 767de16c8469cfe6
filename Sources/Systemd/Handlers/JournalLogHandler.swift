public import Logging

/// A swift-log handler that writes each log event as one native journald entry.
///
/// Each entry carries, in this order:
/// - `MESSAGE`: the message, as one entry even when it spans several lines;
/// - `PRIORITY`: the level mapped by ``SyslogPriority/init(_:)``;
/// - `SYSLOG_IDENTIFIER`: ``identifier``;
/// - `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`: where the log call was made;
/// - `SWIFT_LOG_LABEL`: the logger's label;
/// - one field per metadata entry (handler, provider and call metadata merged, the call's
///   winning), sorted by key, named by ``JournalField/sanitizedName(_:)``: `request-id` becomes
///   `REQUEST_ID`. A key that would map onto one of the fields above gets a `METADATA_` prefix
///   (`message` → `METADATA_MESSAGE`) rather than overwrite or duplicate it. Values are their
///   text form.
///
/// Sending blocks on one `sendmsg`. If journald refuses an entry, the line is written to standard
/// error instead, with the reason, so that it is not lost silently.
public struct JournalLogHandler: LogHandler {
    /// The handler's own metadata, added to every entry.
    public var metadata: Logger.Metadata = [:]

    /// The lowest level this handler writes.
    public var logLevel: Logger.Level

    /// Contextual metadata read at each log call.
    public var metadataProvider: Logger.MetadataProvider?

    /// The logger's label, sent as `SWIFT_LOG_LABEL`.
    public let label: String

    /// The `SYSLOG_IDENTIFIER` of every entry; what `journalctl -t` selects by.
    public let identifier: String

    static let ownFieldNames: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "SWIFT_LOG_LABEL",
    ]

    /// A handler for the logger `label`, writing entries with `SYSLOG_IDENTIFIER=identifier`.
    public init(
        label: String,
        identifier: String = Journal.defaultIdentifier,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.identifier = identifier
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    /// Reads or writes one entry of ``metadata``.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes `event` as one journal entry; see the type's documentation for the fields.
    public func log(event: LogEvent) {
        let merged = LogRecord.metadata(handler: metadata, provider: metadataProvider, event: event)
        var fields: [JournalField] = [
            .message(event.message.description),
            .priority(SyslogPriority(event.level)),
            .syslogIdentifier(identifier),
            JournalField(unchecked: "CODE_FILE", bytes: Array(event.file.utf8)),
            JournalField(unchecked: "CODE_LINE", bytes: Array(String(event.line).utf8)),
            JournalField(unchecked: "CODE_FUNC", bytes: Array(event.function.utf8)),
            JournalField(unchecked: "SWIFT_LOG_LABEL", bytes: Array(label.utf8)),
        ]
        fields.reserveCapacity(fields.count + merged.count)
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            var name = JournalField.sanitizedName(key)
            if Self.ownFieldNames.contains(name) {
                name = String(("METADATA_" + name).prefix(JournalField.maximumNameLength))
            }
            fields.append(JournalField(unchecked: name, bytes: Array(value.description.utf8)))
        }
        do {
            try Journal.send(fields)
        } catch {
            let line = "\(identifier): \(event.message)\(LogRecord.text(of: merged)) [journal refused the entry: \(error)]\n"
            StandardStream.write(Array(line.utf8), to: 2)
        }
    }
}
