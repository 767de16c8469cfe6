import RunnerdConfig

/// The shape of runnerd's cgroup tree for a config, as pure functions: where each service's
/// cgroup is, and which controllers each level enables. Under runnerd's delegated cgroup:
///
/// ```
/// runnerd.service/
///   .supervisor/      runnerd itself (cgroup v2 allows processes only in leaves)
///   web/              one per group: enables what its services need
///     api/            one per running service: its processes and its limits
/// ```
///
/// The daemon's own leaf starts with a dot, like systemd's `.control`: group names cannot, so it
/// can never collide with a group.
enum CgroupLayout {
    /// runnerd's own leaf, beside the groups.
    static let supervisorLeaf = ".supervisor"

    /// The kernel's order of controllers, which `cgroup.controllers` follows.
    static let kernelOrder = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]

    /// A service's cgroup, relative to runnerd's: `group/service`.
    static func servicePath(group: String, service: String) -> String {
        "\(group)/\(service)"
    }

    /// The controllers a service's cgroup needs from its parents' `cgroup.subtree_control`: what
    /// its limits need, and `memory` whenever it is available, since `runnerd status` shows every
    /// service's `memory.current` (systemd accounts memory for every unit by default too). Only
    /// controllers in `available`; the kernel's order.
    static func controllers(for service: ServiceConfig, available: Set<String>) -> [String] {
        let needed = Set(service.limits.controllers + ["memory"])
        return kernelOrder.filter { needed.contains($0) && available.contains($0) }
    }

    /// The controllers a group's cgroup enables for its services: every service's.
    static func controllers(for group: GroupConfig, available: Set<String>) -> [String] {
        let needed = Set(group.services.flatMap { controllers(for: $0, available: available) })
        return kernelOrder.filter { needed.contains($0) }
    }

    /// The controllers runnerd's cgroup enables for its groups: every group's.
    static func controllers(for config: DaemonConfig, available: Set<String>) -> [String] {
        let needed = Set(config.groups.flatMap { controllers(for: $0, available: available) })
        return kernelOrder.filter { needed.contains($0) }
    }

    /// The first limit of the config (services in file order) whose controller is not in
    /// `available`: where it is written, and the controller.
    static func firstUnavailable(in config: DaemonConfig, available: Set<String>) -> (origin: ResourceLimits.Origin, controller: String)? {
        for service in config.groups.flatMap(\.services) {
            let missing = service.limits.origins
                .filter { !available.contains(ResourceLimits.controller(of: $0.key)) }
                .min { ($0.value.line, $0.value.column) < ($1.value.line, $1.value.column) }
            if let missing { return (missing.value, ResourceLimits.controller(of: missing.key)) }
        }
        return nil
    }

    /// The first service with limits, in file order.
    static func firstLimits(in config: DaemonConfig) -> ResourceLimits? {
        config.groups.lazy.flatMap(\.services).first { !$0.limits.isEmpty }?.limits
    }
}
