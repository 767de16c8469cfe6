import Glibc

/// What a service's user may do with a path, judged from the mode bits of the path and of every
/// directory on the way to it, for that user's uid and groups, as the kernel judges them.
///
/// The loader runs as root, whose own `access(2)` says nothing about what `user: nobody` may do;
/// the spawn only finds out after the switch. This lets `runnerd check` find out first. ACLs are
/// not consulted, so a file that only an ACL opens to the user is reported as closed to it.
struct UserAccess: Hashable, Sendable {
    /// The user's name for messages (`nobody`, or `uid 1000` when it has none).
    let name: String
    let uid: UInt32
    /// The primary group and the supplementary groups.
    let groups: Set<UInt32>

    /// The identity `credentials` give a service.
    init(_ credentials: Credentials) {
        name = credentials.userName ?? "uid \(credentials.uid)"
        uid = credentials.uid
        groups = Set(credentials.supplementaryGroups + [credentials.gid])
    }

    /// Why the user cannot use a path.
    enum Denial: Equatable {
        /// A directory on the way (or the directory itself, when searching) lacks the search bit
        /// for the user.
        case unsearchable(directory: String)
        /// The file itself lacks the execute bit for the user.
        case notExecutable
    }

    /// Whether the user can enter the directory at the absolute `path`: nil when it can.
    func denial(searching path: String) -> Denial? {
        for directory in Self.directories(leadingTo: path) + [path] where !allows(directory, bit: 0o1) {
            return .unsearchable(directory: directory)
        }
        return nil
    }

    /// Whether the user can execute the file at the absolute `path`: nil when it can.
    func denial(executing path: String) -> Denial? {
        for directory in Self.directories(leadingTo: path) where !allows(directory, bit: 0o1) {
            return .unsearchable(directory: directory)
        }
        return allows(path, bit: 0o1) ? nil : .notExecutable
    }

    /// `/`, `/a` and `/a/b` for `/a/b/c`.
    private static func directories(leadingTo path: String) -> [String] {
        var result = ["/"]
        var prefix = ""
        let components = path.split(separator: "/")
        for component in components.dropLast() {
            prefix += "/" + component
            result.append(prefix)
        }
        return result
    }

    /// Whether `path` has `bit` (0o1 execute/search, 0o4 read) for the user: the owner's bits when
    /// the user owns it, else the group's when it is in the file's group, else the others'. Root
    /// passes everything but needs some execute bit on a file, as the kernel asks. A path that
    /// cannot be looked at passes: the existence checks report it.
    private func allows(_ path: String, bit: mode_t) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return true }
        if uid == 0 {
            return bit != 0o1 || (info.st_mode & S_IFMT) == S_IFDIR || info.st_mode & 0o111 != 0
        }
        let shift: mode_t = info.st_uid == uid ? 6 : groups.contains(info.st_gid) ? 3 : 0
        return info.st_mode & (bit << shift) != 0
    }
}
