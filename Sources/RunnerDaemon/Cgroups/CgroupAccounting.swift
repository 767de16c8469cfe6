/// What one service's cgroup has used, as the kernel counts it: for `runnerd status`.
public struct CgroupAccounting: Sendable, Equatable {
    /// `memory.current`: the memory charged to the service now, in bytes; nil when the memory
    /// controller is not enabled for it (not available to runnerd's cgroup).
    public var memoryBytes: UInt64?
    /// `cpu.stat`'s `usage_usec`: the CPU time its processes used, user and system together,
    /// since the service's current run started; nil when the cgroup is gone.
    public var cpuUsage: Duration?

    /// Figures as read.
    public init(memoryBytes: UInt64?, cpuUsage: Duration?) {
        self.memoryBytes = memoryBytes
        self.cpuUsage = cpuUsage
    }
}
