import CLinuxSupport
import Glibc
import Synchronization
public import RunnerdConfig

/// runnerd's delegated cgroup (the shipped unit's `Delegate=yes`) and the tree it keeps below it:
/// its own leaf, one cgroup per group and one per running service (see ``CgroupLayout``).
///
/// ``detect()`` only looks; ``adopt()`` moves the daemon into its leaf, once, before the first
/// spawn. ``makeServiceCgroup(group:service:)`` is called by each service's run off the event
/// loop; ``removeAll()`` at the daemon's exit. Safe from any thread.
public final class CgroupTree: Sendable {
    /// The absolute directory of runnerd's cgroup, e.g. `/sys/fs/cgroup/system.slice/runnerd.service`.
    public let path: String
    /// The same as `/proc/self/cgroup` shows it, e.g. `/system.slice/runnerd.service`.
    public let cgroupPath: String
    /// The controllers available to it (`cgroup.controllers`).
    let available: Set<String>
    private let state = Mutex(State())

    private struct State {
        /// Controllers enabled in runnerd's cgroup and in each group's.
        var rootEnabled: Set<String> = []
        var groupEnabled: [String: Set<String>] = [:]
        /// The service cgroups of the runs in progress, by `group/service`.
        var live: [String: ServiceCgroup] = [:]
    }

    init(path: String, cgroupPath: String, available: Set<String>) {
        self.path = path
        self.cgroupPath = cgroupPath
        self.available = available
    }

    /// Why runnerd has no delegated cgroup, or the cgroup.
    public enum Detection: Sendable {
        /// systemd delegated runnerd's cgroup to it: the tree to run services in.
        case delegated(CgroupTree)
        /// No delegated cgroup, and why (for the log); services then run on the process-group path.
        case unavailable(reason: String)
    }

    /// runnerd's own cgroup, if systemd delegated it: a cgroup v2 hierarchy, and on runnerd's
    /// cgroup the `trusted.delegate` (or `user.delegate`) attribute that systemd sets for
    /// `Delegate=yes`. Reads a few files; changes nothing.
    public static func detect() -> Detection {
        guard let mount = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].first(where: isCgroup2) else {
            return .unavailable(reason: "no cgroup v2 hierarchy at /sys/fs/cgroup")
        }
        guard var cgroupPath = CgroupFile.ownCgroupPath() else {
            return .unavailable(reason: "no cgroup v2 entry in /proc/self/cgroup")
        }
        // Already in our leaf (an earlier adopt() of this process): the tree is its parent.
        if cgroupPath.hasSuffix("/" + CgroupLayout.supervisorLeaf) {
            cgroupPath = String(cgroupPath.dropLast(CgroupLayout.supervisorLeaf.count + 1))
        }
        guard cgroupPath != "/" else { return .unavailable(reason: "runnerd is in the root cgroup") }
        let path = mount + cgroupPath
        guard isDelegated(path) else {
            return .unavailable(reason: "runnerd's cgroup \(cgroupPath) is not delegated to it (no Delegate=yes)")
        }
        let controllers = CgroupFile.read(path + "/cgroup.controllers") ?? ""
        return .delegated(CgroupTree(
            path: path, cgroupPath: cgroupPath,
            available: Set(controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        ))
    }

    static func isCgroup2(_ path: String) -> Bool {
        var info = statfs()
        return statfs(path, &info) == 0 && info.f_type == 0x6367_7270  // CGROUP2_SUPER_MAGIC
    }

    private static func isDelegated(_ path: String) -> Bool {
        ["trusted.delegate", "user.delegate"].contains { name in
            var value = [UInt8](repeating: 0, count: 8)
            let size = getxattr(path, name, &value, value.count)
            return size == 1 && value[0] == UInt8(ascii: "1")
        }
    }

    /// Why `config` cannot run in this tree, as a located config error: a limit whose controller
    /// runnerd's cgroup does not have. Nil when it can.
    public func problem(with config: DaemonConfig) -> ConfigError? {
        guard let (origin, controller) = CgroupLayout.firstUnavailable(in: config, available: available) else { return nil }
        let has = available.isEmpty ? "none" : CgroupLayout.kernelOrder.filter(available.contains).joined(separator: " ")
        return ConfigError(
            file: config.path, line: origin.line, column: origin.column, keyPath: origin.keyPath,
            message: "needs the \(controller) controller, which runnerd's cgroup \(cgroupPath) does not have (it has: \(has)); enable it for the unit, or remove the limit"
        )
    }

    /// The refusal of a config with limits where runnerd has no delegated cgroup: the first limit,
    /// and why. Nil for a config without limits.
    public static func refusal(of config: DaemonConfig) -> ConfigError? {
        guard let origin = CgroupLayout.firstLimits(in: config)?.origin else { return nil }
        return ConfigError(
            file: config.path, line: origin.line, column: origin.column, keyPath: origin.keyPath,
            message: "no delegated cgroup; run under the shipped unit (runnerd.service has Delegate=yes), or remove the limit"
        )
    }

    /// Moves this process into its leaf (``CgroupLayout/supervisorLeaf``), since cgroup v2
    /// allows processes only in leaves, and removes empty service cgroups a killed daemon left.
    /// Returns an error message on failure; the daemon then runs without the tree.
    public func adopt() -> String? {
        let leaf = path + "/" + CgroupLayout.supervisorLeaf
        if mkdir(leaf, 0o755) != 0 && errno != EEXIST { return "cannot create \(leaf): \(String(cString: strerror(errno)))" }
        if let error = CgroupFile.write(leaf + "/cgroup.procs", "0") {
            return "cannot move runnerd into \(leaf): \(String(cString: strerror(error)))"
        }
        removeEmpty()
        return nil
    }

    /// Makes the cgroup for one run of `service` of `group`: enables the controllers it needs in
    /// runnerd's and its group's cgroups (so a group's are the union of its services'), writes
    /// its limits and opens its `cgroup.procs` for the spawn. A cgroup left by an earlier run of
    /// the service is reused. Throws a message that says what failed.
    func makeServiceCgroup(group: String, service: ServiceConfig) throws(CgroupError) -> ServiceCgroup {
        let wanted = Set(CgroupLayout.controllers(for: service, available: available))
        let groupPath = path + "/" + group
        let servicePath = path + "/" + CgroupLayout.servicePath(group: group, service: service.name)
        let cgroup = try state.withLock { state throws(CgroupError) -> ServiceCgroup in
            let rootMissing = wanted.subtracting(state.rootEnabled)
            if !rootMissing.isEmpty {
                try enable(rootMissing, in: path)
                state.rootEnabled.formUnion(rootMissing)
            }
            if mkdir(groupPath, 0o755) != 0 && errno != EEXIST { throw CgroupError(action: "create \(groupPath)", errno: errno) }
            let groupMissing = wanted.subtracting(state.groupEnabled[group] ?? [])
            if !groupMissing.isEmpty {
                try enable(groupMissing, in: groupPath)
                state.groupEnabled[group, default: []].formUnion(groupMissing)
            }
            if mkdir(servicePath, 0o755) != 0 && errno != EEXIST { throw CgroupError(action: "create \(servicePath)", errno: errno) }
            for (file, value) in service.limits.cgroupFiles {
                if let error = CgroupFile.write(servicePath + "/" + file, value) {
                    throw CgroupError(action: "write \(value) to \(servicePath)/\(file)", errno: error)
                }
            }
            let fd = open(servicePath + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CgroupError(action: "open \(servicePath)/cgroup.procs", errno: errno) }
            let cgroup = ServiceCgroup(
                group: group, service: service.name, path: servicePath,
                cgroupPath: cgroupPath + "/" + CgroupLayout.servicePath(group: group, service: service.name),
                memoryMax: service.limits.memoryMax, procsFD: fd
            )
            state.live["\(group)/\(service.name)"] = cgroup
            return cgroup
        }
        return cgroup
    }

    /// Removes a run's cgroup (once it is empty) and forgets it.
    func remove(_ cgroup: ServiceCgroup) -> Int32? {
        state.withLock { state in
            if state.live["\(cgroup.group)/\(cgroup.service)"] === cgroup { state.live["\(cgroup.group)/\(cgroup.service)"] = nil }
        }
        return cgroup.remove()
    }

    /// The cgroups of the services running now, by `group/service`: for `runnerd status`, with
    /// each one's ``ServiceCgroup/accounting``.
    public var services: [String: ServiceCgroup] {
        state.withLock { $0.live }
    }

    /// What a group's services have used together: `memory.current` of the group's cgroup (its
    /// running services), and `cpu.stat`'s `usage_usec`, which keeps the CPU time of the runs that
    /// ended too, since the group's cgroup was made. Nil figures where the group has no cgroup (yet).
    public func accounting(group: String) -> CgroupAccounting {
        ServiceCgroup.accounting(at: path + "/" + group)
    }

    /// Removes every empty cgroup below runnerd's own, except its leaf: at the daemon's exit, and
    /// at its start what a killed daemon left.
    public func removeEmpty() {
        guard let groups = opendir(path) else { return }
        defer { closedir(groups) }
        while let entry = readdir(groups) {
            let name = Self.name(of: entry)
            guard entry.pointee.d_type == UInt8(DT_DIR), !name.hasPrefix(".") else { continue }
            let groupPath = path + "/" + name
            if let services = opendir(groupPath) {
                while let service = readdir(services) {
                    let serviceName = Self.name(of: service)
                    guard service.pointee.d_type == UInt8(DT_DIR), !serviceName.hasPrefix(".") else { continue }
                    rmdir(groupPath + "/" + serviceName)
                }
                closedir(services)
            }
            if rmdir(groupPath) == 0 { state.withLock { $0.groupEnabled[name] = nil } }
        }
    }

    private static func name(of entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    private func enable(_ controllers: Set<String>, in directory: String) throws(CgroupError) {
        let text = CgroupLayout.kernelOrder.filter(controllers.contains).map { "+" + $0 }.joined(separator: " ")
        if let error = CgroupFile.write(directory + "/cgroup.subtree_control", text) {
            throw CgroupError(action: "enable \(text) in \(directory)/cgroup.subtree_control", errno: error)
        }
    }
}

/// A cgroup operation failed: what was done, and the kernel's reason.
struct CgroupError: Error, Sendable, CustomStringConvertible {
    let action: String
    let errno: Int32

    var description: String { "cannot \(action): \(String(cString: strerror(errno)))" }
}
