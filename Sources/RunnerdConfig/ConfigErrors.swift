/// Every problem found in one config file: what `ConfigLoader` throws.
///
/// The loader keeps going after the first problem, so one run of `runnerd check` shows them all.
/// ``errors`` is never empty when thrown, and is sorted by position: file-wide problems (line 0)
/// first, then by line and column, keeping the order of discovery for equal positions.
public struct ConfigErrors: Error, Sendable, Hashable, CustomStringConvertible {
    /// The problems, sorted by position.
    public var errors: [ConfigError]

    /// The given problems, sorted by position (stably, so equal positions keep their order).
    public init(_ errors: [ConfigError]) {
        self.errors = errors.enumerated().sorted { lhs, rhs in
            (lhs.element.line, lhs.element.column, lhs.offset) < (rhs.element.line, rhs.element.column, rhs.offset)
        }.map(\.element)
    }

    /// One ``ConfigError/description`` per line, in order, without a trailing newline.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
