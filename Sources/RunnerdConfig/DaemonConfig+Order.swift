/// The order of a config's groups, and what a change to some of them drags along.
extension DaemonConfig {
    /// The groups' start order (see ``groupOrder(_:)``).
    public var groupOrder: DependencyOrder {
        Self.groupOrder(groups)
    }

    /// The groups that must restart because groups they are bound to restart: every group whose
    /// `binds-to:` names one of `restarting`, or, in turn, one of those. Returns each such group
    /// (not already in `restarting`) with the reason, e.g. `binds to db, which changes`, or
    /// `binds to api, which restarts` further down a chain. Pure; a reload's diff and its
    /// `--dry-run` plan use it alike.
    public func bindsToDependents(of restarting: Set<String>) -> [String: String] {
        var reasons: [String: String] = [:]
        var queue = groups.map(\.name).filter { restarting.contains($0) }
        var index = 0
        while index < queue.count {
            let cause = queue[index]
            index += 1
            for group in groups where group.bindsTo.contains(cause) {
                guard !restarting.contains(group.name), reasons[group.name] == nil else { continue }
                reasons[group.name] = "binds to \(cause), which \(restarting.contains(cause) ? "changes" : "restarts")"
                queue.append(group.name)
            }
        }
        return reasons
    }
}

extension GroupConfig {
    /// The services' start order, from their `after:`.
    public var serviceOrder: DependencyOrder {
        DependencyOrder(names: services.map(\.name), dependencies: Dictionary(services.map { ($0.name, $0.after) }, uniquingKeysWith: { first, _ in first }))
    }

    /// Whether the group starts its services in waves rather than all at once: some service is
    /// `after:` another, or is a `oneshot` (whose exit 0 must not stop the group).
    public var startsInOrder: Bool {
        services.contains { !$0.after.isEmpty || $0.type == .oneshot }
    }
}
