import RunnerdConfig

/// The order between a config's groups (`after:` and `binds-to:`), as `DaemonLifecycle` consults
/// it, and what a stop in that order has done so far. A value; it decides nothing by itself.
struct GroupOrdering: Sendable {
    /// Whether any group is after, or bound to, another: without order, every group starts at
    /// once and stops at once, as before.
    private(set) var isOrdered = false
    /// Group → the groups it starts after (`after:` and `binds-to:` together).
    private(set) var dependencies: [String: [String]] = [:]
    /// Group → the groups it is bound to (`binds-to:` only).
    private(set) var bindsTo: [String: [String]] = [:]
    /// Group → the groups that start after it (stopped before it).
    private(set) var dependents: [String: [String]] = [:]
    /// The runs (generations) told to stop during the daemon's stop.
    var stopSent: Set<Int> = []
    /// Groups a reload stops only once those of its stopping groups that are after them have
    /// stopped: name → (generation, the names that must stop first).
    var deferredStops: [String: (generation: Int, after: Set<String>)] = [:]

    init() {}

    init(_ config: DaemonConfig) {
        adopt(config)
    }

    /// The tables for `config`; what a stop has done is kept.
    mutating func adopt(_ config: DaemonConfig) {
        let order = config.groupOrder
        isOrdered = order.isOrdered
        dependencies = order.dependencies
        dependents = order.dependents
        bindsTo = Dictionary(config.groups.map { ($0.name, $0.bindsTo) }, uniquingKeysWith: { first, _ in first })
    }

    /// The longest the daemon's stop may take, the SIGKILLs included: with order, groups stop
    /// wave by wave (last wave first), so the limits of the waves add up; without, the longest.
    func stopLimit(_ groups: [GroupConfig]) -> Duration {
        let limits = Dictionary(groups.map { ($0.name, $0.groupInterruptTimeout) }, uniquingKeysWith: { first, _ in first })
        guard isOrdered else { return limits.values.max() ?? .zero }
        let waves = DependencyOrder(names: groups.map(\.name), dependencies: dependencies).waves
        return waves.reduce(Duration.zero) { total, wave in total + (wave.compactMap { limits[$0] }.max() ?? .zero) }
    }
}
