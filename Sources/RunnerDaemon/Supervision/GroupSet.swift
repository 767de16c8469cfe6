import Logging
import Runner
import Synchronization
import RunnerdConfig

/// The groups the daemon runs right now, each supervised by its own task under its own token,
/// so that a reload can stop, start or replace one group without touching the others.
///
/// A *required* group that stops for good (it gave up, or finished under its policy) calls
/// `onRequiredGroupEnded`, which stops the daemon: the daemon as a whole is all-or-nothing over
/// its required groups, exactly as a `GroupRunner` is over its runners.
final class GroupSet: Sendable {
    private struct Entry {
        let config: GroupConfig
        let supervisor: GroupSupervisor
        let token: CancellationToken
        let task: Task<GroupSupervisor.Outcome, Never>
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let outcomes = Mutex<[(group: GroupConfig, outcome: GroupSupervisor.Outcome)]>([])
    private let parent: CancellationToken
    private let makeSupervisor: @Sendable (GroupConfig) -> GroupSupervisor
    private let onRequiredGroupEnded: @Sendable (GroupConfig, GroupSupervisor.Outcome) -> Void

    /// - Parameter parent: cancelled when the daemon stops; every group's token is its child.
    init(
        parent: CancellationToken,
        makeSupervisor: @escaping @Sendable (GroupConfig) -> GroupSupervisor,
        onRequiredGroupEnded: @escaping @Sendable (GroupConfig, GroupSupervisor.Outcome) -> Void
    ) {
        self.parent = parent
        self.makeSupervisor = makeSupervisor
        self.onRequiredGroupEnded = onRequiredGroupEnded
    }

    /// Starts supervising `config`. A group of that name must not be running.
    func start(_ config: GroupConfig) {
        let supervisor = makeSupervisor(config)
        let token = parent.child()
        let task = Task { [self] in
            let outcome = await supervisor.run(token)
            ended(supervisor.config, outcome, token: token)
            return outcome
        }
        entries.withLock { $0[config.name] = Entry(config: config, supervisor: supervisor, token: token, task: task) }
    }

    /// Records how a group's supervision ended. Not inlined into the group's task, whose frame
    /// the task keeps for as long as the group is supervised: the config is not copied into it.
    @inline(never)
    private func ended(_ config: GroupConfig, _ outcome: GroupSupervisor.Outcome, token: CancellationToken) {
        outcomes.withLock { $0.append((config, outcome)) }
        if config.required, !token.isCancelled {
            onRequiredGroupEnded(config, outcome)
        }
    }

    /// Stops the group `name` within its limits and waits until it has.
    func stop(_ name: String) async {
        guard let entry = entries.withLock({ $0.removeValue(forKey: name) }) else { return }
        entry.token.cancel()
        _ = await entry.task.value
    }

    /// Applies a new config as a diff: unchanged groups keep running untouched (same processes),
    /// removed groups stop, changed groups stop and start again with their new config, added
    /// groups start. Returns the names of the groups that were (re)started.
    func apply(_ config: DaemonConfig, logger: Logger) async -> [String] {
        let running = entries.withLock { $0.mapValues(\.config) }
        let wanted = Dictionary(config.groups.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let removed = running.keys.filter { wanted[$0] == nil }.sorted()
        let changed = running.keys.filter { wanted[$0] != nil && wanted[$0] != running[$0] }.sorted()
        let added = config.groups.map(\.name).filter { running[$0] == nil }
        for name in removed + changed {
            logger.notice("reload: stopping group \(name) (\(removed.contains(name) ? "removed" : "changed"))")
        }
        await withTaskGroup(of: Void.self) { stops in
            for name in removed + changed { stops.addTask { await self.stop(name) } }
        }
        let starting = config.groups.filter { changed.contains($0.name) || added.contains($0.name) }
        for group in starting {
            logger.notice("reload: starting group \(group.name) (\(added.contains(group.name) ? "added" : "changed"))")
            start(group)
        }
        let unchanged = running.keys.filter { !removed.contains($0) && !changed.contains($0) }.sorted()
        if !unchanged.isEmpty { logger.info("reload: unchanged: \(unchanged.joined(separator: ", "))") }
        return starting.map(\.name)
    }

    /// Sends SIGKILL to every service of every group (a forced stop).
    func killAll() {
        for entry in entries.withLock({ Array($0.values) }) { entry.supervisor.killAll() }
    }

    /// Waits until every group's supervision has ended (after the parent token was cancelled),
    /// and returns how each group's supervision ended, in the order they ended.
    func waitForAll() async -> [(group: GroupConfig, outcome: GroupSupervisor.Outcome)] {
        let tasks = entries.withLock { Array($0.values.map(\.task)) }
        for task in tasks { _ = await task.value }
        return outcomes.withLock { $0 }
    }

    /// The longest any running group may take to stop, including the SIGKILL of what would not.
    var stopLimit: Duration {
        entries.withLock { entries in
            entries.values.map { entry in
                entry.config.groupInterruptTimeout
            }.max() ?? .zero
        } + .seconds(5)
    }
}
