import RunnerdConfig

/// What a reload to a new config does, group by group, and why: the diff that
/// ``DaemonLifecycle`` applies, and what `runnerd reload --dry-run` prints without applying it.
///
/// Unchanged groups keep running untouched; removed groups stop; changed groups restart, and
/// with them the groups that are `binds-to:` them; added groups start. A group stopped with
/// `runnerd stop` stays stopped whatever the new config says.
package struct ReloadPlan: Sendable, Equatable {
    package enum Action: String, Sendable, Equatable {
        case start
        case stop
        case restart
        case keep
        /// Stopped by request: the reload leaves it down (with its new config, if it changed).
        case stayStopped = "stay-stopped"
    }

    package struct Step: Sendable, Equatable {
        package var group: String
        package var action: Action
        /// Why: "added", "removed", "unchanged", or which keys changed.
        package var reason: String

        package init(group: String, action: Action, reason: String) {
            self.group = group
            self.action = action
            self.reason = reason
        }
    }

    /// Every group of the old and the new config: the new config's in its order, then the removed.
    package var steps: [Step]

    package init(steps: [Step]) {
        self.steps = steps
    }

    /// The diff from `current` to `new`; `stoppedByRequest` are the groups `runnerd stop` holds down.
    init(from current: DaemonConfig, to new: DaemonConfig, stoppedByRequest: Set<String> = []) {
        let old = Dictionary(current.groups.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let names = Set(new.groups.map(\.name))
        let changed = Set(current.groups.filter { group in new.groups.first { $0.name == group.name } != group }.map(\.name))
        let bound = new.bindsToDependents(of: changed)
        var steps: [Step] = []
        for group in new.groups {
            let reason: String
            let action: Action
            if let before = old[group.name] {
                let changes = Self.changes(from: before, to: group)
                if !changes.isEmpty {
                    reason = "changed: " + changes.joined(separator: ", ")
                    action = .restart
                } else if let binding = bound[group.name] {
                    reason = binding
                    action = .restart
                } else {
                    reason = "unchanged"
                    action = .keep
                }
            } else {
                reason = "added"
                action = .start
            }
            if stoppedByRequest.contains(group.name) {
                steps.append(Step(group: group.name, action: .stayStopped, reason: "stopped by request; \(reason)"))
            } else {
                steps.append(Step(group: group.name, action: action, reason: reason))
            }
        }
        for group in current.groups where !names.contains(group.name) {
            steps.append(Step(group: group.name, action: .stop, reason: "removed"))
        }
        self.steps = steps
    }

    /// The config keys that differ, as the file spells them: `restart-delay`, `services.api.command`,
    /// `services.worker (added)`.
    static func changes(from old: GroupConfig, to new: GroupConfig) -> [String] {
        var keys = differingKeys(old, new, skipping: ["name", "services"])
        let oldServices = Dictionary(old.services.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let newNames = Set(new.services.map(\.name))
        for service in new.services {
            guard let before = oldServices[service.name] else {
                keys.append("services.\(service.name) (added)")
                continue
            }
            keys += differingKeys(before, service, skipping: ["name"]).map { "services.\(service.name).\($0)" }
        }
        for service in old.services where !newNames.contains(service.name) {
            keys.append("services.\(service.name) (removed)")
        }
        if keys.isEmpty && old.services.map(\.name) != new.services.map(\.name) { keys.append("services (order)") }
        return keys
    }

    /// The stored properties of two values of one type that differ, named as config keys.
    private static func differingKeys<T>(_ old: T, _ new: T, skipping: Set<String>) -> [String] {
        let before = Mirror(reflecting: old).children
        let after = Mirror(reflecting: new).children
        var keys: [String] = []
        for (left, right) in zip(before, after) {
            guard let label = left.label, !skipping.contains(label) else { continue }
            if "\(left.value)" != "\(right.value)" { keys.append(configKey(label)) }
        }
        // Keys that produce the same effective value (two values written differently) change nothing.
        return keys.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }

    /// A property's config key: `restartDelay` is `restart-delay`; two properties that no key
    /// spells out directly are named after the keys that set them.
    private static func configKey(_ property: String) -> String {
        switch property {
        case "executable": return "command (resolves to another executable)"
        case "credentials": return "user/group"
        case "environment": return "environment (or an environment file's contents)"
        default:
            var key = ""
            for character in property {
                if character.isUppercase { key += "-" + character.lowercased() } else { key.append(character) }
            }
            return key
        }
    }
}

// MARK: - JSON

extension ReloadPlan {
    package var json: JSONValue {
        .array(steps.map { step in
            .object([("group", .string(step.group)), ("action", .string(step.action.rawValue)), ("reason", .string(step.reason))])
        })
    }

    package init(json: JSONValue) throws(ControlClientError) {
        guard let items = json.arrayValue else { throw .badReply("a plan that is not a list") }
        var steps: [Step] = []
        for item in items {
            guard let group = item["group"]?.stringValue, let raw = item["action"]?.stringValue, let action = Action(rawValue: raw) else {
                throw .badReply("a plan step without group or a known action")
            }
            steps.append(Step(group: group, action: action, reason: item["reason"]?.stringValue ?? ""))
        }
        self.init(steps: steps)
    }
}
