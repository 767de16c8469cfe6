import Glibc
public import RunnerdConfig

/// How many open files a config needs of runnerd, against how many it may open: checked when a
/// config is loaded, so that a config too big for the limit is refused with what to do, rather
/// than started and left flapping with "Too many open files" (10,000 services under the default
/// `LimitNOFILE=` of a unit did exactly that).
///
/// What runnerd holds open while a service runs: the read ends of its stdout and stderr pipes,
/// its cgroup's `cgroup.procs` under a delegated cgroup, its notify socket with `ready: notify`,
/// and a probe's socket while a TCP or HTTP check is under way. Besides: the event loop, the
/// journal and notify connections, the control socket and its clients, the spawn slots.
public enum DescriptorBudget {
    /// What runnerd itself holds, whatever the config: generously counted.
    static let fixed = 128

    /// The descriptors `config` needs at most.
    public static func needed(for config: DaemonConfig) -> Int {
        config.groups.reduce(fixed) { total, group in
            group.services.reduce(total) { total, service in
                var count = 3
                if case .notify = service.ready?.check { count += 1 }
                if service.ready != nil || service.health != nil { count += 1 }
                return total + count
            }
        }
    }

    /// The most runnerd may open: the hard `RLIMIT_NOFILE`, to which it raises its own soft one.
    public static var available: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return Int.max }
        return limit.rlim_max == rlim_t.max ? Int.max : Int(clamping: limit.rlim_max)
    }

    /// Why `config` cannot run within `available` descriptors, or nil when it can.
    public static func problem(with config: DaemonConfig, available: Int = available) -> ConfigError? {
        let needed = needed(for: config)
        guard needed > available else { return nil }
        let services = config.groups.reduce(0) { $0 + $1.services.count }
        let suggestion = max(65536, 1 << (Int.bitWidth - (needed * 2 - 1).leadingZeroBitCount))
        return ConfigError(
            file: config.path, line: 0, column: 0, keyPath: "",
            message: "\(services) services need up to \(needed) open files, and runnerd may open at most \(available) (its hard RLIMIT_NOFILE); raise it, e.g. LimitNOFILE=\(suggestion) in a drop-in (systemctl edit runnerd), or `ulimit -Hn` where runnerd is started by hand, or run fewer services"
        )
    }
}
