import Glibc

/// Where the control socket lives, for the daemon and for its clients alike:
/// - `--control-socket PATH`, when given;
/// - under systemd, `$RUNTIME_DIRECTORY/control.sock` (`/run/runnerd/control.sock`; an instance
///   `runnerd@NAME` has a runtime directory of its own);
/// - else `/run/runnerd/control.sock` for root, and `$XDG_RUNTIME_DIR/runnerd/control.sock` for
///   other users. A client that is not root also tries `/run/runnerd/control.sock` when there is
///   nothing at its own, since members of `control-group` talk to the system's daemon.
package enum ControlSocketPath {
    package static let fileName = "control.sock"

    /// The paths to use, in the order to try them: one for the daemon, one or two for a client.
    package static func candidates(explicit: String?, environment: [String: String], isRoot: Bool) -> [String] {
        if let explicit { return [explicit] }
        if let runtime = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first, !runtime.isEmpty {
            return ["\(runtime)/\(fileName)"]
        }
        let system = "/run/runnerd/\(fileName)"
        if isRoot { return [system] }
        guard let user = environment["XDG_RUNTIME_DIR"], !user.isEmpty else { return [system] }
        return ["\(user)/runnerd/\(fileName)", system]
    }

    /// The daemon's socket path.
    package static func forDaemon(explicit: String?, environment: [String: String]) -> String {
        candidates(explicit: explicit, environment: environment, isRoot: geteuid() == 0)[0]
    }
}
