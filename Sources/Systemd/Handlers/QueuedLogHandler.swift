public import Logging

/// A swift-log handler that puts each event in a ``LogQueue`` and returns, so that a log call
/// never waits for the destination: the queue's writer thread hands the event to the wrapped
/// handler later, in order.
///
/// What a log call does on the caller's thread: it reads the metadata provider (so that task-
/// and thread-local context is the caller's, not the writer's), merges the provider's metadata
/// under the event's own, and queues the event with a copy of the wrapped handler (its level,
/// label and metadata as they are at the call). Nothing is formatted and nothing is written; the
/// only wait is a short mutex. When the queue is full the event is dropped and counted (see
/// ``LogQueue``).
///
/// The wrapped handler then sees the provider's metadata as event metadata, and merges its own
/// metadata under it as usual: the outcome is the same precedence as the wrapped handler alone
/// (handler, then provider, then the event's own, the later winning).
///
/// ```swift
/// let queue = LogQueue(stallDescription: "the log server was not reading")
/// LoggingSystem.bootstrap { label in
///     QueuedLogHandler(wrapping: MyNetworkLogHandler(label: label), queue: queue)
/// }
/// ```
public struct QueuedLogHandler: LogHandler {
    /// The handler each event is finally written with, minus its metadata provider, which this
    /// handler took over (``metadataProvider``).
    public private(set) var wrapped: any LogHandler

    /// The queue events go through.
    public let queue: LogQueue

    /// Read at each log call, on the caller's thread. Starts as the wrapped handler's.
    public var metadataProvider: Logger.MetadataProvider?

    /// The wrapped handler's own metadata.
    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    /// The wrapped handler's level: the lowest level that gets queued.
    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    /// Writes every event through `queue` to `handler`. The handler's metadata provider moves
    /// to this handler, so that it is evaluated at the log call.
    public init(wrapping handler: any LogHandler, queue: LogQueue) {
        var handler = handler
        metadataProvider = handler.metadataProvider
        handler.metadataProvider = nil
        wrapped = handler
        self.queue = queue
    }

    /// Reads or writes one entry of the wrapped handler's metadata.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    /// Queues `event` for the wrapped handler, with the provider's metadata merged in; returns
    /// without waiting for it to be written. See the type's documentation.
    public func log(event: LogEvent) {
        var event = event
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            var merged = provided
            if let explicit = event.metadata {
                merged.merge(explicit) { _, new in new }
            }
            event.metadata = merged
        }
        queue.enqueue(event, for: wrapped)
    }
}
