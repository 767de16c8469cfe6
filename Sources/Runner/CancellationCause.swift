/// Why a `CancellationToken` was cancelled.
///
/// A struct rather than an enum, so that causes can be added without breaking code that
/// switches over them.
///
/// There is no cause for a cancelled Swift `Task`: cancelling the task that awaits `run`
/// interrupts the runner, but never cancels the caller's token, which other work may share.
public struct CancellationCause: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case explicit
        case timeout(Duration)
        case parent
        case signal(Int32)
    }

    private let kind: Kind

    /// `cancel()` was called.
    public static let explicit = CancellationCause(kind: .explicit)
    /// The parent token was cancelled.
    public static let parent = CancellationCause(kind: .parent)

    /// The token's own timeout ran out.
    public static func timeout(_ duration: Duration) -> CancellationCause {
        CancellationCause(kind: .timeout(duration))
    }

    /// The process received this signal.
    public static func signal(_ number: Int32) -> CancellationCause {
        CancellationCause(kind: .signal(number))
    }

    /// The signal number, when a signal caused the cancellation.
    public var signal: Int32? {
        if case .signal(let number) = kind { return number }
        return nil
    }

    /// A short phrase for logs: `cancelled`, `timed out after 1.0 seconds`, `parent cancelled`,
    /// or `received SIGTERM`.
    public var description: String {
        switch kind {
        case .explicit: "cancelled"
        case .timeout(let duration): "timed out after \(duration)"
        case .parent: "parent cancelled"
        case .signal(let number): "received \(UnixSignal(rawValue: number))"
        }
    }
}
