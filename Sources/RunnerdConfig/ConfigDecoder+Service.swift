import Glibc
import Yams

/// Services: command, environment, identity, stop behaviour.
extension ConfigDecoder {
    /// `group` is the group's key path (`groups.web`), `groupName` its name.
    mutating func decodeService(_ entry: Entry, defaults: DaemonConfig.Defaults, group: String, groupName: String) -> ServiceConfig {
        var service = ServiceConfig(
            name: entry.name, command: [], executable: "", interruptTimeout: defaults.interruptTimeout
        )
        service.logRateLimit = defaults.logRateLimit
        guard let fields = fields(
            of: entry.value, path: entry.path, keyMark: entry.keyMark, allowed: Self.serviceKeys,
            hint: "write a map with command: and the service's settings",
            misplaced: { key in
                if Self.groupKeys.contains(key) {
                    return "\(key) is a group setting, so put it directly under \(group)"
                }
                if key == "interval" || key == "failures" {
                    return "\(key) belongs inside ready: or health:"
                }
                return nil
            }
        ) else { return service }

        // The identity first: the working directory and the programs are judged as its user.
        service.credentials = decodeCredentials(user: fields["user"], group: fields["group"])
        serviceUser = service.credentials.map(UserAccess.init)
        defer { serviceUser = nil }
        if let value = fields["working-directory"] {
            service.workingDirectory = decodeWorkingDirectory(value)
        }
        if let value = fields["command"] {
            if let (command, executable) = decodeCommand(value, workingDirectory: service.workingDirectory) {
                service.command = command
                service.executable = executable
            }
        } else {
            report(
                entry.keyMark, fields.path("command"),
                "is missing; write the program and its arguments as a list, e.g. command: [\"/usr/bin/api\", \"--port\", \"8080\"]"
            )
        }
        var variables: [EnvironmentVariable] = []
        if let value = fields["environment-files"] {
            let (files, fileVariables) = decodeEnvironmentFiles(value)
            service.environmentFiles = files
            variables += fileVariables
        }
        if let value = fields["environment"] {
            variables += decodeEnvironment(value)
        }
        service.environment = Self.merged(variables)
        if let value = fields["stop-signal"], let signal = decodeSignal(value) {
            service.stopSignal = signal
        }
        if let value = fields["interrupt-timeout"],
           let timeout = duration(value, allowZero: true, example: defaults.interruptTimeout) {
            service.interruptTimeout = timeout
        }
        if let value = fields["stderr-priority"], let priority = decodePriority(value) {
            service.stderrPriority = priority
        }
        if let value = fields["level-prefix"], let levelPrefix = bool(value) {
            service.levelPrefix = levelPrefix
        }
        if let value = fields["log-rate-limit"], let limit = decodeLogRateLimit(value) {
            service.logRateLimit = limit
        }
        service.limits = decodeLimits(fields)
        var readyFailed = false
        if let value = fields["ready"] {
            let errorsBefore = errors.count
            service.ready = decodeReady(value, workingDirectory: service.workingDirectory)
            readyFailed = errors.count > errorsBefore
        }
        if let value = fields["health"] {
            service.health = decodeHealth(value, workingDirectory: service.workingDirectory)
        }
        if let value = fields["watchdog"], let watchdog = duration(value, allowZero: false, example: .seconds(10)) {
            if service.ready?.check == .notify {
                service.watchdog = watchdog
            } else if !readyFailed {
                report(
                    value.keyMark, value.path,
                    "needs ready: notify, since the service pings it with WATCHDOG=1 on its notify socket; add ready: { notify: true } or remove watchdog"
                )
            }
        }
        if let value = fields["type"], let type = decodeServiceType(value) {
            service.type = type
        }
        if let value = fields["timeout"], let timeout = duration(value, allowZero: false, example: .seconds(300)) {
            if service.type == .oneshot {
                service.timeout = timeout
            } else {
                report(value.keyMark, value.path, "applies only to type: oneshot; a long-running service's start limit is ready: { timeout: ... }, so move it there or add type: oneshot")
            }
        }
        if service.type == .oneshot {
            for key in ["ready", "health"] {
                guard let value = fields[key] else { continue }
                report(value.keyMark, value.path, "does not apply to type: oneshot, which counts as ready once it exits 0; remove \(key)")
            }
        }
        if let value = fields["after"] {
            service.after = decodeOrderNames(value, group: groupName, service: entry.name)
        }
        return service
    }

    // MARK: Logs

    /// The syslog priorities by the names systemd gives them (`SyslogLevel=`), most urgent first.
    static let priorityNames = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

    /// A syslog priority: one of ``priorityNames``, or its number from 0 to 7.
    mutating func decodePriority(_ entry: Entry) -> Int? {
        guard let text = string(entry, hint: "write a priority such as warning or info") else { return nil }
        if let index = Self.priorityNames.firstIndex(of: text) { return index }
        if text.count == 1, let number = Int(text), (0...7).contains(number) { return number }
        report(entry, "\(text.debugDescription) is not a syslog priority; write one of \(Self.list(Self.priorityNames, conjunction: "or")), or a number from 0 to 7")
        return nil
    }

    /// `{ burst: 10000, interval: 30s }`: both keys; an interval of 0 turns the limit off.
    mutating func decodeLogRateLimit(_ entry: Entry) -> LogRateLimit? {
        guard let fields = fields(
            of: entry.value, path: entry.path, keyMark: entry.keyMark, allowed: ["burst", "interval"],
            hint: "write a map like { burst: 10000, interval: 30s }", misplaced: { _ in nil }
        ) else { return nil }
        var limit = LogRateLimit.standard
        var valid = true
        if let value = fields["burst"] {
            if let burst = count(value, minimum: 1, example: 10_000) { limit.burst = burst } else { valid = false }
        }
        if let value = fields["interval"] {
            if let interval = duration(value, allowZero: true, example: .seconds(30)) { limit.interval = interval } else { valid = false }
        }
        return valid ? limit : nil
    }

    /// One value per name, at the position of its first assignment, with the last value given.
    static func merged(_ variables: [EnvironmentVariable]) -> [EnvironmentVariable] {
        var result: [EnvironmentVariable] = []
        var index: [String: Int] = [:]
        for variable in variables {
            if let existing = index[variable.name] {
                result[existing].value = variable.value
            } else {
                index[variable.name] = result.count
                result.append(variable)
            }
        }
        return result
    }

    // MARK: Command

    static let commandExample = "[\"/usr/bin/api\", \"--port\", \"8080\"]"

    /// An argv list and the program its first element names; used by `command` and `exec` probes.
    mutating func decodeCommand(_ entry: Entry, workingDirectory: String?) -> ([String], String)? {
        guard case .sequence(let sequence) = entry.value else {
            if case .scalar(let scalar) = entry.value, !isNull(entry.value) {
                let words = scalar.string.split(whereSeparator: { $0 == " " || $0 == "\t" })
                let suggestion = "[" + words.map { String($0).debugDescription }.joined(separator: ", ") + "]"
                report(entry, "is a string, not a list; write the program and its arguments as a list, e.g. \(suggestion)")
            } else {
                report(entry, "\(kind(of: entry.value)); write the program and its arguments as a list, e.g. \(Self.commandExample)")
            }
            return nil
        }
        guard !sequence.isEmpty else {
            report(entry, "is empty; name the program to run and its arguments, e.g. \(Self.commandExample)")
            return nil
        }
        var argv: [String] = []
        var valid = true
        for (index, item) in sequence.enumerated() {
            let itemEntry = Entry(name: "\(index)", key: item, value: item, path: "\(entry.path)[\(index)]")
            guard let text = string(itemEntry, hint: "write a string (quote it if it looks like a number or ~)") else {
                valid = false
                continue
            }
            argv.append(text)
        }
        guard valid, let program = argv.first, let first = sequence.first else { return nil }
        let firstEntry = Entry(name: "0", key: first, value: first, path: "\(entry.path)[0]")
        guard !program.isEmpty else {
            report(firstEntry, "is empty; name the program to run, e.g. /usr/bin/api")
            return nil
        }
        switch resolve(program, workingDirectory: workingDirectory) {
        case .success(let executable):
            return (argv, executable)
        case .failure(.notFound(let searched)):
            report(firstEntry, "\(program.debugDescription) was not found in PATH (\(searched)); install it or write its full path")
        case .failure(.foundNotExecutable(let path)):
            report(firstEntry, "\(program.debugDescription) was found at \(path), which is not executable; chmod +x it or write another path")
        case .failure(.missing(let path)):
            report(firstEntry, "\(path) does not exist; install it or fix the path")
        case .failure(.directory(let path)):
            report(firstEntry, "\(path) is a directory; name the program inside it")
        case .failure(.notExecutable(let path)):
            report(firstEntry, "\(path) is not executable; chmod +x it or name another program")
        case .failure(.unreadable(let path, let reason)):
            report(firstEntry, "\(path) cannot be checked: \(reason); fix the path or its permissions")
        case .failure(.notExecutableByUser(let path, let user)):
            report(firstEntry, "\(path) is not executable by \(user), the service's user; chmod it (o+x, or g+x for a group of \(user)) or name another program")
        case .failure(.unreachableByUser(let path, let directory, let user)):
            report(firstEntry, "\(path) is out of reach of \(user), the service's user: \(directory) is not searchable for it; chmod o+x \(directory) or move the program")
        }
        return nil
    }

    // MARK: Directory

    mutating func decodeWorkingDirectory(_ entry: Entry) -> String? {
        guard let path = string(entry, hint: "write an absolute path, e.g. /srv/api") else { return nil }
        guard path.hasPrefix("/") else {
            report(entry, "\(path.debugDescription) is not an absolute path; write it from /, e.g. /srv/\(path)")
            return nil
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            let error = errno
            if error == ENOENT || error == ENOTDIR {
                report(entry, "\(path) does not exist; create it or fix the path")
            } else {
                report(entry, "\(path) cannot be checked: \(String(cString: strerror(error))); fix the path or its permissions")
            }
            return nil
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            report(entry, "\(path) is not a directory; name a directory")
            return nil
        }
        if let user = serviceUser, case .unsearchable(let directory)? = user.denial(searching: path) {
            report(entry, "\(path) cannot be entered by \(user.name), the service's user: \(directory) is not searchable for it; chmod o+x \(directory) or fix the path")
            return nil
        }
        return path
    }

    // MARK: Environment

    /// The files as written and their variables, in order. A `-` prefix makes a file optional: it
    /// is skipped when it does not exist (any other failure is still an error).
    mutating func decodeEnvironmentFiles(_ entry: Entry) -> ([String], [EnvironmentVariable]) {
        guard case .sequence(let sequence) = entry.value else {
            if case .scalar(let scalar) = entry.value, !isNull(entry.value) {
                report(entry, "is a string, not a list; write a list, e.g. [\(scalar.string)]")
            } else {
                report(entry, "\(kind(of: entry.value)); write a list of files, e.g. [/etc/default/api]")
            }
            return ([], [])
        }
        var written: [String] = []
        var variables: [EnvironmentVariable] = []
        for (index, item) in sequence.enumerated() {
            let itemEntry = Entry(name: "\(index)", key: item, value: item, path: "\(entry.path)[\(index)]")
            guard let text = string(itemEntry, hint: "write a file path, e.g. /etc/default/api") else { continue }
            written.append(text)
            let optional = text.hasPrefix("-")
            let path = optional ? String(text.dropFirst()) : text
            guard !path.isEmpty else {
                report(itemEntry, "is empty; write a file path, e.g. /etc/default/api")
                continue
            }
            let resolved = path.hasPrefix("/") ? path : ExecutableLookup.absolute(path, base: configDirectory)
            switch FileContents.read(path: resolved, limit: FileContents.environmentFileLimit) {
            case .success(let bytes):
                let file = EnvironmentFile(parsing: String(decoding: bytes, as: UTF8.self))
                for problem in file.problems {
                    report(itemEntry, "\(resolved):\(problem.line): \(problem.message)")
                }
                variables += file.variables
            case .failure(let failure) where failure.errno == ENOENT && optional:
                continue
            case .failure(let failure) where failure.errno == ENOENT:
                report(itemEntry, "cannot read \(resolved): \(failure.reason); create it, or write -\(path) to make it optional")
            case .failure(let failure) where failure.notRegular != nil:
                report(itemEntry, "cannot read \(resolved): \(failure.reason); name a regular file")
            case .failure(let failure) where failure.tooLarge != nil:
                report(itemEntry, "cannot read \(resolved): \(failure.reason); that is the limit for an environment file, so trim it")
            case .failure(let failure):
                report(itemEntry, "cannot read \(resolved): \(failure.reason); make it a file that root can read")
            }
        }
        return (written, variables)
    }

    mutating func decodeEnvironment(_ entry: Entry) -> [EnvironmentVariable] {
        let entries = namedEntries(
            of: entry.value, path: entry.path, keyMark: entry.keyMark,
            hint: "write a map of names to values, e.g. { LOG_LEVEL: info }",
            duplicate: "this variable is already set",
            validate: { name in
                EnvironmentFile.isValidName(name)
                    ? nil
                    : "\(name.debugDescription) is not a valid variable name; use letters, digits and _, not starting with a digit"
            }
        ) ?? []
        var variables: [EnvironmentVariable] = []
        for variable in entries {
            let hint = "write text, e.g. \(variable.name): info, or \(variable.name): \"\" for an empty value"
            if let value = string(variable, hint: hint) {
                variables.append(EnvironmentVariable(name: variable.name, value: value))
            }
        }
        return variables
    }

    // MARK: Identity

    /// `user:` gives uid, primary gid, home and the user's groups; `group:` replaces the primary
    /// gid (and joins the supplementary groups). With only `group:`, the uid is the loader's own.
    mutating func decodeCredentials(user userEntry: Entry?, group groupEntry: Entry?) -> Credentials? {
        guard userEntry != nil || groupEntry != nil else { return nil }
        var user: AccountLookup.User?
        if let userEntry, let name = string(userEntry, hint: "write a user name, e.g. www-data") {
            user = AccountLookup.user(name)
            if user == nil {
                report(userEntry, "\(name.debugDescription) is not a user on this host; create it (useradd) or fix the name")
            }
        }
        var gid: UInt32?
        if let groupEntry, let name = string(groupEntry, hint: "write a group name, e.g. www-data") {
            gid = AccountLookup.groupID(name)
            if gid == nil {
                report(groupEntry, "\(name.debugDescription) is not a group on this host; create it (groupadd) or fix the name")
            }
        }
        guard userEntry == nil || user != nil, groupEntry == nil || gid != nil else { return nil }
        if let user {
            let primary = gid ?? user.gid
            return Credentials(
                userName: user.name, uid: user.uid, gid: primary,
                supplementaryGroups: AccountLookup.groupList(userName: user.name, primaryGID: primary), home: user.home,
                shell: user.shell
            )
        }
        let primary = gid ?? getgid()
        return Credentials(userName: nil, uid: getuid(), gid: primary, supplementaryGroups: [primary], home: nil)
    }

    // MARK: Signal

    mutating func decodeSignal(_ entry: Entry) -> Int32? {
        let hint = "write a name like SIGTERM or TERM, or a number from 1 to \(SignalName.highest)"
        guard let text = string(entry, hint: hint) else { return nil }
        if let number = SignalName.number(text) {
            return number
        }
        let spelled = text.uppercased().hasPrefix("SIG") ? text.uppercased() : "SIG" + text.uppercased()
        if Int(text) == nil, let suggestion = KeySuggestion.nearest(to: spelled, among: SignalName.allNames) {
            report(entry, "\(text.debugDescription) is not a signal; did you mean \(suggestion)?")
        } else {
            report(entry, "\(text.debugDescription) is not a signal; \(hint)")
        }
        return nil
    }
}
