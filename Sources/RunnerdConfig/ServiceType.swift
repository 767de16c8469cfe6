/// What kind of process a service is (`type:`).
public enum ServiceType: String, Sendable, Equatable, CaseIterable {
    /// A long-running process: its exit, whatever the status, stops its group.
    case simple
    /// Setup work, such as a migration: it runs to completion each time its group starts. Exit 0
    /// counts as done and leaves the group running; a non-zero exit, or running past its
    /// `timeout:`, fails the group's start.
    case oneshot
}
