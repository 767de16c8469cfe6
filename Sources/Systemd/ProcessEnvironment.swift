import Glibc

/// A process environment as an ordered list of `NAME=value` entries, with the views a daemon
/// needs to hand a clean environment to its children.
///
/// ``forChildren()`` is the reason this type exists: it returns this process's environment without
/// the variables through which systemd talks to *this* process, so that a child never pings our
/// watchdog, notifies our socket or claims our listening sockets. It only reads the environment;
/// `unsetenv` is never called, since changing the environment of a running, threaded process is
/// not safe.
public struct ProcessEnvironment: Sendable, Hashable {
    /// The variables systemd sets for the service process itself, which children must not
    /// inherit: `NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`, `LISTEN_FDS`, `LISTEN_PID` and
    /// `LISTEN_FDNAMES`.
    public static let serviceManagerVariables: Set<String> = [
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
    ]

    /// The entries, in order, each normally `NAME=value`. Kept as given: duplicates and entries
    /// without `=` are preserved, since `execve` passes them on as they are.
    public let entries: [String]

    /// An environment of exactly `entries`.
    public init(entries: [String]) {
        self.entries = entries
    }

    /// An environment of `variables`, one `NAME=value` entry each, sorted by name so that the
    /// result does not depend on dictionary order.
    public init(_ variables: [String: String]) {
        entries = variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    /// A snapshot of this process's environment (the C `environ`), in its order.
    ///
    /// Values that are not valid UTF-8 are repaired with U+FFFD, as `String(cString:)` does. Like
    /// every reader of `environ`, this races with `setenv` on another thread; runnerd never
    /// changes its environment once threads exist.
    public static func current() -> ProcessEnvironment {
        var entries: [String] = []
        // `environ` can be NULL after clearenv(); binding it to an optional keeps that case safe.
        let start: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        if var cursor = start {
            while let entry = cursor.pointee {
                entries.append(String(cString: entry))
                cursor += 1
            }
        }
        return ProcessEnvironment(entries: entries)
    }

    /// This process's environment minus ``serviceManagerVariables``, for spawning children.
    public static func forChildren() -> ProcessEnvironment {
        current().removingServiceManagerVariables()
    }

    /// A copy without any entry whose name is in ``serviceManagerVariables``; every other entry
    /// is kept, unchanged and in order.
    public func removingServiceManagerVariables() -> ProcessEnvironment {
        ProcessEnvironment(entries: entries.filter { !Self.serviceManagerVariables.contains(Self.name(of: $0)) })
    }

    /// The value of the first entry named `name`, as `getenv` would find it, or `nil`.
    public subscript(name: String) -> String? {
        for entry in entries where Self.name(of: entry) == name {
            return Self.value(of: entry)
        }
        return nil
    }

    /// The entries as a dictionary. Where a name appears twice the first entry wins, as with
    /// `getenv`; entries without `=` are left out.
    public var variables: [String: String] {
        var result: [String: String] = [:]
        for entry in entries {
            guard let value = Self.value(of: entry) else { continue }
            let name = Self.name(of: entry)
            if result[name] == nil {
                result[name] = value
            }
        }
        return result
    }

    // Split on the first "=" byte rather than the first "=" Character: a combining mark right
    // after the "=" would otherwise merge with it into a different Character.
    private static func name(of entry: String) -> String {
        guard let equals = entry.utf8.firstIndex(of: UInt8(ascii: "=")) else { return entry }
        return String(entry.utf8[..<equals])!
    }

    private static func value(of entry: String) -> String? {
        guard let equals = entry.utf8.firstIndex(of: UInt8(ascii: "=")) else { return nil }
        return String(entry.utf8[entry.utf8.index(after: equals)...])!
    }
}
