import Yams

/// The top level, `defaults:`, and groups.
extension ConfigDecoder {
    static let topLevelKeys = ["defaults", "groups"]
    static let defaultsKeys = ["interrupt-timeout", "group-interrupt-timeout", "log-rate-limit", "control-group"]
    static let groupKeys = [
        "restart", "restart-delay", "restart-delay-max", "max-restarts", "restart-window", "required",
        "group-interrupt-timeout", "services", "after", "binds-to",
    ] + ResourceLimits.keys
    static let serviceKeys = [
        "command", "environment", "environment-files", "working-directory", "user", "group", "stop-signal",
        "interrupt-timeout", "ready", "health", "watchdog", "stderr-priority", "level-prefix", "log-rate-limit",
        "type", "timeout", "after",
    ] + ResourceLimits.keys

    /// The group defaults that the file does not set (see `ConfigLoader`).
    static let defaultRestart = RestartMode.onFailure
    static let defaultRestartDelay = Duration.seconds(1)
    static let defaultRestartDelayMax = Duration.seconds(30)
    static let defaultMaxRestarts = 5
    static let defaultRestartWindow = Duration.seconds(300)
    static let defaultRequired = true

    /// Decodes the whole document; the result is meaningful only when `errors` stays empty.
    mutating func decodeDocument() -> DaemonConfig {
        guard let root = document.root, !isNull(root) else {
            report(nil, "groups", "is missing: the file is empty; add groups: with at least one group")
            return DaemonConfig(path: file, defaults: .standard, groups: [])
        }
        guard let top = fields(
            of: root, path: "", keyMark: root.mark, allowed: Self.topLevelKeys,
            hint: "a config is a map with groups: (and optionally defaults:)",
            misplaced: { key in
                if Self.groupKeys.contains(key) { return "\(key) is a group setting, so put it under groups.NAME" }
                if Self.serviceKeys.contains(key) {
                    return "\(key) is a service setting, so put it under groups.NAME.services.NAME"
                }
                return nil
            }
        ) else {
            return DaemonConfig(path: file, defaults: .standard, groups: [])
        }
        let defaults = top["defaults"].map { decodeDefaults($0) } ?? .standard
        var groups: [GroupConfig] = []
        if let entry = top["groups"] {
            let entries = namedEntries(
                of: entry.value, path: "groups", keyMark: entry.keyMark,
                hint: "write a map of group names to groups, e.g. groups: { web: { services: ... } }",
                duplicate: "a group of this name is already defined",
                validate: { Self.nameProblem($0, kind: "group") }
            ) ?? []
            if case .mapping(let mapping) = entry.value, mapping.isEmpty {
                report(entry.value.mark ?? entry.keyMark, "groups", "has no groups; add at least one group with its services")
            }
            for groupEntry in entries {
                order.groupLines[groupEntry.name] = line(of: groupEntry.keyMark)
                groups.append(decodeGroup(groupEntry, defaults: defaults))
            }
            checkOrder(groups)
        } else {
            report(root.mark, "groups", "is missing; add groups: with at least one group")
        }
        return DaemonConfig(path: file, defaults: defaults, groups: groups)
    }

    /// Why `name` cannot name a group or service, or nil when it can: names become journal
    /// identifiers and log prefixes, so they are kept to a safe alphabet.
    static func nameProblem(_ name: String, kind: String) -> String? {
        let allowed = name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || $0 == "_" || $0 == "-" || $0 == "."
        }
        if allowed, !name.isEmpty, name.count <= 64, !name.hasPrefix("."), !name.hasPrefix("-") {
            return nil
        }
        return "\(name.debugDescription) is not a valid \(kind) name; use up to 64 letters, digits, \".\", \"_\" and \"-\", starting with a letter, digit or \"_\""
    }

    mutating func decodeDefaults(_ entry: Entry) -> DaemonConfig.Defaults {
        var defaults = DaemonConfig.Defaults.standard
        guard let fields = fields(
            of: entry.value, path: "defaults", keyMark: entry.keyMark, allowed: Self.defaultsKeys,
            hint: "write a map like { interrupt-timeout: 10s, group-interrupt-timeout: 15s }",
            misplaced: { key in
                Self.groupKeys.contains(key) || Self.serviceKeys.contains(key)
                    ? "defaults: holds only interrupt-timeout, group-interrupt-timeout, log-rate-limit and control-group; set \(key) on each group or service"
                    : nil
            }
        ) else { return defaults }
        if let value = fields["interrupt-timeout"], let duration = duration(value, allowZero: true, example: .seconds(10)) {
            defaults.interruptTimeout = duration
        }
        if let value = fields["group-interrupt-timeout"],
           let duration = duration(value, allowZero: true, example: .seconds(15)) {
            defaults.groupInterruptTimeout = duration
        }
        if let value = fields["log-rate-limit"], let limit = decodeLogRateLimit(value) {
            defaults.logRateLimit = limit
        }
        if let value = fields["control-group"], let name = string(value, hint: "write a group name, e.g. runnerd-ops") {
            if let gid = AccountLookup.groupID(name) {
                defaults.controlGroup = DaemonConfig.ControlGroup(name: name, gid: gid)
            } else {
                report(value, "\(name.debugDescription) is not a group on this host; create it (groupadd \(name)) or fix the name")
            }
        }
        return defaults
    }

    mutating func decodeGroup(_ entry: Entry, defaults: DaemonConfig.Defaults) -> GroupConfig {
        var group = GroupConfig(
            name: entry.name, restart: Self.defaultRestart, restartDelay: Self.defaultRestartDelay,
            restartDelayMax: Self.defaultRestartDelayMax, maxRestarts: Self.defaultMaxRestarts,
            restartWindow: Self.defaultRestartWindow, required: Self.defaultRequired,
            groupInterruptTimeout: defaults.groupInterruptTimeout, services: []
        )
        guard let fields = fields(
            of: entry.value, path: entry.path, keyMark: entry.keyMark, allowed: Self.groupKeys,
            hint: "write a map with services: and the group's settings",
            misplaced: { key in
                if Self.serviceKeys.contains(key) {
                    return "\(key) is a service setting, so put it under \(entry.path).services.NAME"
                }
                return nil
            }
        ) else { return group }

        if let value = fields["restart"] {
            group.restart = decodeRestartMode(value) ?? group.restart
        }
        if let value = fields["restart-delay"], let delay = duration(value, allowZero: true, example: .seconds(1)) {
            group.restartDelay = delay
        }
        if let value = fields["restart-delay-max"] {
            if let delayMax = duration(value, allowZero: true, example: .seconds(30)) {
                group.restartDelayMax = delayMax
                if delayMax < group.restartDelay {
                    let delay = DurationText.format(group.restartDelay)
                    report(value, "\(DurationText.format(delayMax)) is shorter than restart-delay \(delay); make it at least \(delay)")
                }
            }
        } else {
            // An unset maximum never undercuts a longer restart-delay: the delay just stays fixed.
            group.restartDelayMax = max(group.restartDelayMax, group.restartDelay)
        }
        if let value = fields["max-restarts"], let maxRestarts = count(value, minimum: 0, example: 5) {
            group.maxRestarts = maxRestarts
        }
        if let value = fields["restart-window"], let window = duration(value, allowZero: false, example: .seconds(300)) {
            group.restartWindow = window
        }
        if let value = fields["required"], let required = bool(value) {
            group.required = required
        }
        if let value = fields["group-interrupt-timeout"],
           let timeout = duration(value, allowZero: true, example: .seconds(15)) {
            group.groupInterruptTimeout = timeout
        }
        if let value = fields["after"] {
            group.after = decodeOrderNames(value, group: entry.name, service: nil)
        }
        if let value = fields["binds-to"] {
            group.bindsTo = decodeOrderNames(value, group: entry.name, service: nil)
        }
        if let value = fields["services"] {
            let entries = namedEntries(
                of: value.value, path: value.path, keyMark: value.keyMark,
                hint: "write a map of service names to services, e.g. services: { api: { command: [...] } }",
                duplicate: "a service of this name is already in this group",
                validate: { Self.nameProblem($0, kind: "service") }
            ) ?? []
            if case .mapping(let mapping) = value.value, mapping.isEmpty {
                report(value.value.mark ?? value.keyMark, value.path, "has no services; add at least one service with its command")
            }
            // The group's limits are the defaults of its services.
            let groupLimits = decodeLimits(fields)
            for serviceEntry in entries {
                order.services[entry.name, default: []].append(serviceEntry.name)
                order.serviceLines[entry.name, default: [:]][serviceEntry.name] = line(of: serviceEntry.keyMark)
                var service = decodeService(serviceEntry, defaults: defaults, group: entry.path, groupName: entry.name)
                service.limits = service.limits.overriding(groupLimits)
                group.services.append(service)
            }
        } else {
            report(entry.keyMark, fields.path("services"), "is missing; add services: with at least one service")
        }
        return group
    }

    mutating func decodeRestartMode(_ entry: Entry) -> RestartMode? {
        let choices = RestartMode.allCases.map(\.rawValue)
        guard let text = string(entry, hint: "write \(Self.list(choices, conjunction: "or"))") else { return nil }
        if let mode = RestartMode(rawValue: text) {
            return mode
        }
        if let suggestion = KeySuggestion.nearest(to: text, among: choices) {
            report(entry, "\(text.debugDescription) is not a restart mode; did you mean \(suggestion)?")
        } else {
            report(entry, "\(text.debugDescription) is not a restart mode; write \(Self.list(choices, conjunction: "or"))")
        }
        return nil
    }
}
