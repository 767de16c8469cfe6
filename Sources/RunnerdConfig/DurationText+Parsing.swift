extension DurationText {
    /// Reads a duration written the way configs write them (`90s`, `1m30s`), or nil if `text`
    /// is not one. For command-line options that take durations.
    public static func duration(_ text: String) -> Duration? {
        try? parse(text).get()
    }
}
