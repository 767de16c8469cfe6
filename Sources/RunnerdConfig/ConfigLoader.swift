import Glibc
import Yams

/// Reads and validates a runnerd config file into a ``DaemonConfig``.
///
/// The loader checks everything that can be checked before anything is started: the YAML, every
/// key's spelling and type, durations, signals, names, that each command names an executable
/// program (looking bare names up in `PATH`), that working directories exist, that users and
/// groups exist, and that environment files can be read and parsed. It reports every problem in
/// the file, not just the first, as one ``ConfigErrors``, each naming `file:line:column`, the key
/// path and what to do. It starts nothing and changes nothing, so `runnerd check` and a reload can
/// call it freely; it is synchronous and blocks on file-system and user-database lookups.
///
/// Defaults for what a file leaves out (also in `docs/config.md`):
///
/// | key | default |
/// |---|---|
/// | `defaults.interrupt-timeout` | `10s` |
/// | `defaults.group-interrupt-timeout` | `15s` |
/// | group `restart` | `on-failure` |
/// | group `restart-delay` | `1s` |
/// | group `restart-delay-max` | `30s` (or `restart-delay`, if that is longer) |
/// | group `max-restarts` | `5` (within `restart-window`) |
/// | group `restart-window` | `5m` |
/// | group `required` | `true` |
/// | group `group-interrupt-timeout` | `defaults.group-interrupt-timeout` |
/// | service `stop-signal` | `SIGTERM` |
/// | service `interrupt-timeout` | `defaults.interrupt-timeout` |
/// | service `ready` | none: ready once spawned |
/// | service `type` | `simple` |
/// | service `timeout` (only with `type: oneshot`) | `5m` |
/// | service `after`, group `after` and `binds-to` | none: no order |
/// | `ready` `timeout` | `60s` |
/// | `health` `interval` / `timeout` / `failures` | `10s` / `2s` / `3` |
///
/// Durations are written `250ms`, `10s`, `2m`, `1h`, or combined (`1m30s`); see
/// ``DurationText``. Zero is accepted for `interrupt-timeout`, `group-interrupt-timeout`,
/// `restart-delay` and `restart-delay-max`; every other duration must be longer than zero.
public enum ConfigLoader {
    /// The default config path, as used by `runnerd` without `--config`.
    public static let defaultPath = "/etc/runnerd/runnerd.yaml"

    /// This process's environment, the default for ``load(path:environment:)`` and
    /// ``parse(yaml:path:environment:)``.
    public static var processEnvironment: [String: String] {
        var variables: [String: String] = [:]
        // `environ` can be NULL after clearenv(); binding it to an optional keeps that case safe.
        let start: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        guard var cursor = start else { return variables }
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                // The first entry of a name wins, as getenv(3) finds it.
                let name = String(text[..<equals])
                if variables[name] == nil { variables[name] = String(text[text.index(after: equals)...]) }
            }
            cursor += 1
        }
        return variables
    }

    /// Reads the file at `path` and returns its validated config.
    ///
    /// - Parameters:
    ///   - path: The file to read; error messages name it exactly as given.
    ///   - environment: The environment whose `PATH` finds bare command names.
    /// - Throws: ``ConfigErrors`` with every problem found, including a file that cannot be read
    ///   (`runnerd.yaml: cannot read: No such file or directory; pass --config PATH or create it`)
    ///   or is not UTF-8. The file must be a regular file of at most 4 MiB: a FIFO, a device or a
    ///   directory is refused without blocking or reading (`/dev/zero` would never end).
    public static func load(
        path: String, environment: [String: String] = ConfigLoader.processEnvironment
    ) throws(ConfigErrors) -> DaemonConfig {
        let bytes: [UInt8]
        switch FileContents.read(path: path, limit: FileContents.configLimit) {
        case .success(let contents):
            bytes = contents
        case .failure(let failure):
            let advice: String
            switch failure.errno {
            case _ where failure.notRegular != nil: advice = "pass --config PATH with a regular file"
            case _ where failure.tooLarge != nil: advice = "that is the limit for a config file; pass --config PATH with a smaller one"
            case ENOENT: advice = "pass --config PATH or create it"
            case EACCES: advice = "make it readable by the daemon's user, or pass --config PATH"
            default: advice = "pass --config PATH with a readable file"
            }
            throw ConfigErrors([
                ConfigError(file: path, line: 0, column: 0, keyPath: "", message: "cannot read: \(failure.reason); \(advice)")
            ])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigErrors([
                ConfigError(file: path, line: 0, column: 0, keyPath: "", message: "is not UTF-8 text; save it as UTF-8")
            ])
        }
        return try parse(yaml: text, path: path, environment: environment)
    }

    /// Validates `yaml` as the contents of the config file at `path`.
    ///
    /// `path` is used in messages and to find environment files given as relative paths (they
    /// are relative to its directory); the file itself is not read.
    ///
    /// - Throws: ``ConfigErrors`` with every problem found, sorted by position.
    public static func parse(
        yaml: String, path: String, environment: [String: String] = ConfigLoader.processEnvironment
    ) throws(ConfigErrors) -> DaemonConfig {
        let document: YAMLDocument
        switch YAMLDocument.compose(yaml) {
        case .success(let composed):
            document = composed
        case .failure(let syntax):
            throw ConfigErrors([
                ConfigError(file: path, line: syntax.line, column: syntax.column, keyPath: "", message: syntax.message)
            ])
        }
        var decoder = ConfigDecoder(file: path, document: document, environment: environment)
        let config = decoder.decodeDocument()
        guard decoder.errors.isEmpty else {
            throw ConfigErrors(decoder.errors)
        }
        return config
    }
}
