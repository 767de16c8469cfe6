/// One problem found in a runnerd config, with the place it was found.
///
/// ``description`` is the line `runnerd check` prints:
/// `file:line:column: key.path: message`, for example
/// `runnerd.yaml:12:9: groups.web.services.api.interrupt-timeout: "10" has no unit; write e.g. 10s`.
/// The message always ends with what to do about it. Parts that do not apply are left out: a file
/// that cannot be read has no line (`runnerd.yaml: cannot read: ...`), and a YAML syntax error has
/// no key path.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The config file's path, exactly as it was given to the loader.
    public var file: String
    /// The 1-based line, or 0 when the problem concerns the whole file.
    public var line: Int
    /// The 1-based column, counted in Unicode scalars as libyaml counts them, or 0 with `line` 0.
    public var column: Int
    /// Where in the config the problem is, e.g. `groups.web.services.api.command[0]`; empty for
    /// problems that belong to no key (an unreadable file, a YAML syntax error).
    public var keyPath: String
    /// What is wrong and what to do, e.g. `"10" has no unit; write e.g. 10s`.
    public var message: String

    /// An error at `line`:`column` of `file`, under `keyPath`.
    public init(file: String, line: Int, column: Int, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    /// `file:line:column: key.path: message`, leaving out the position when `line` is 0 and the
    /// key path when it is empty.
    public var description: String {
        var text = file
        if line > 0 {
            text += ":\(line):\(column)"
        }
        if !keyPath.isEmpty {
            text += ": \(keyPath)"
        }
        return text + ": " + message
    }
}
