import Logging

/// What the three handlers share: the metadata that applies to one event, and its rendering
/// as text.
enum LogRecord {
    /// The handler's metadata, overridden by the metadata provider's, overridden by the event's
    /// own; an attached error is added as `error` unless the event names one itself.
    static func metadata(
        handler: Logger.Metadata, provider: Logger.MetadataProvider?, event: LogEvent
    ) -> Logger.Metadata {
        var merged = handler
        if let provided = provider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            merged.merge(explicit) { _, new in new }
        }
        if let error = event.error, merged["error"] == nil {
            merged["error"] = .string("\(error)")
        }
        return merged
    }

    /// ` key=value` for each entry, sorted by key so that output is stable; empty for none.
    static func text(of metadata: Logger.Metadata) -> String {
        var text = ""
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            text += " \(key)=\(value)"
        }
        return text
    }
}
