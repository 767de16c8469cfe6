import Glibc

/// Finds the program a `command:` names, the way `execvp` would, so that `runnerd check` fails on
/// the same commands the spawn would fail on.
///
/// - A name without `/` is searched in each directory of `PATH`, in order; the first regular,
///   executable file wins. Empty and relative `PATH` entries are skipped (execvp would search the
///   current directory for them, which under systemd is `/` and never what was meant). Without a
///   `PATH`, systemd's default `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`
///   is searched.
/// - A name with `/` is checked as it is; a relative one is taken from the service's working
///   directory (where the spawn runs it from), or from the loader's current directory.
/// - With a `user`, a program is also judged as that user (``UserAccess``): the service runs it
///   after switching, so root being able to run it proves nothing. A `PATH` candidate the user
///   cannot run is skipped, as `execvp` would skip it.
enum ExecutableLookup {
    /// systemd's default `PATH` for services, used when the environment has none.
    static let defaultSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Why a command names no runnable program.
    enum Failure: Error, Equatable {
        /// A bare name found in no `PATH` directory.
        case notFound(searchPath: String)
        /// A bare name whose only matches in `PATH` cannot be executed (the first one is given).
        case foundNotExecutable(path: String)
        /// The path does not exist.
        case missing(path: String)
        /// The path is a directory.
        case directory(path: String)
        /// The path exists but is not an executable regular file.
        case notExecutable(path: String)
        /// `stat` failed for another reason, e.g. a directory on the way is not searchable.
        case unreadable(path: String, reason: String)
        /// The service's user cannot execute the program: the file lacks the execute bit for it.
        case notExecutableByUser(path: String, user: String)
        /// The service's user cannot reach the program: `directory` is not searchable for it.
        case unreachableByUser(path: String, directory: String, user: String)
    }

    /// The absolute path of the program `command` names, or why there is none.
    static func resolve(
        _ command: String, searchPath: String?, workingDirectory: String?, user: UserAccess? = nil
    ) -> Result<String, Failure> {
        if command.contains("/") {
            let path = absolute(command, base: workingDirectory)
            switch check(path) {
            case .executable:
                if let user, let failure = denial(path, for: user) { return .failure(failure) }
                return .success(path)
            case .missing: return .failure(.missing(path: path))
            case .directory: return .failure(.directory(path: path))
            case .notExecutable: return .failure(.notExecutable(path: path))
            case .unreadable(let reason): return .failure(.unreadable(path: path, reason: reason))
            }
        }
        let searchPath = searchPath ?? defaultSearchPath
        var firstNotExecutable: String?
        var firstDenied: Failure?
        for directory in searchPath.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = directory.hasSuffix("/") ? "\(directory)\(command)" : "\(directory)/\(command)"
            switch check(candidate) {
            case .executable:
                if let user, let failure = denial(candidate, for: user) {
                    firstDenied = firstDenied ?? failure
                    continue
                }
                return .success(candidate)
            case .notExecutable:
                firstNotExecutable = firstNotExecutable ?? candidate
            case .missing, .directory, .unreadable:
                continue
            }
        }
        if let firstDenied {
            return .failure(firstDenied)
        }
        if let firstNotExecutable {
            return .failure(.foundNotExecutable(path: firstNotExecutable))
        }
        return .failure(.notFound(searchPath: searchPath))
    }

    private static func denial(_ path: String, for user: UserAccess) -> Failure? {
        switch user.denial(executing: path) {
        case nil: nil
        case .notExecutable: .notExecutableByUser(path: path, user: user.name)
        case .unsearchable(let directory): .unreachableByUser(path: path, directory: directory, user: user.name)
        }
    }

    private enum Check {
        case executable, missing, directory, notExecutable
        case unreadable(String)
    }

    private static func check(_ path: String) -> Check {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let error = errno
            return error == ENOENT || error == ENOTDIR ? .missing : .unreadable(String(cString: strerror(error)))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            return .directory
        }
        guard (info.st_mode & S_IFMT) == S_IFREG, access(path, X_OK) == 0 else { return .notExecutable }
        return .executable
    }

    /// `path` made absolute against `base` (or the current directory), with leading `./` dropped.
    static func absolute(_ path: String, base: String?) -> String {
        if path.hasPrefix("/") {
            return path
        }
        var relative = Substring(path)
        while relative.hasPrefix("./") {
            relative = relative.dropFirst(2)
        }
        let directory = base ?? currentDirectory()
        return directory.hasSuffix("/") ? directory + relative : directory + "/" + relative
    }

    private static func currentDirectory() -> String {
        guard let pointer = getcwd(nil, 0) else { return "/" }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}
