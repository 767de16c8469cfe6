import Glibc
import RunnerdConfig

/// One run of one service's cgroup, `<runnerd's cgroup>/<group>/<service>`: made by
/// ``CgroupTree`` before the spawn, which puts the child straight into it, and removed once the
/// run is over and the cgroup is empty.
///
/// Everything the service starts stays in it, whatever it does to its process group, session or
/// environment, so "what is left of the service" is exactly its `cgroup.procs`, and killing it is
/// one write to `cgroup.kill`. Safe from any thread: it holds only immutable values and a
/// descriptor that is closed once, by ``remove()``.
public final class ServiceCgroup: Sendable {
    /// The group's name.
    public let group: String
    /// The service's name.
    public let service: String
    /// The absolute directory, e.g. `/sys/fs/cgroup/system.slice/runnerd.service/web/api`.
    public let path: String
    /// The path as `systemd-cgls` and `/proc/PID/cgroup` show it, e.g.
    /// `/system.slice/runnerd.service/web/api`.
    public let cgroupPath: String
    /// The `memory-max` applied, for the OOM killer's message.
    let memoryMax: ResourceLimits.Amount?
    /// `cgroup.procs`, open for writing: the spawned child writes itself into it before its exec.
    let procsFD: Int32

    init(group: String, service: String, path: String, cgroupPath: String, memoryMax: ResourceLimits.Amount?, procsFD: Int32) {
        self.group = group
        self.service = service
        self.path = path
        self.cgroupPath = cgroupPath
        self.memoryMax = memoryMax
        self.procsFD = procsFD
    }

    /// Whether any process is in the cgroup (`cgroup.events`: `populated 1`). A cgroup that
    /// cannot be read counts as empty.
    var isPopulated: Bool {
        guard let events = CgroupFile.read(path + "/cgroup.events") else { return false }
        return CgroupFile.value("populated", in: events) == 1
    }

    /// The processes in the cgroup now.
    var processes: [pid_t] {
        (CgroupFile.read(path + "/cgroup.procs") ?? "").split(separator: "\n").compactMap { pid_t($0) }
    }

    /// Sends `signal` to every process in the cgroup, wherever its process group or session.
    func signalAll(_ signal: Int32) {
        for pid in processes { Glibc.kill(pid, signal) }
    }

    /// SIGKILL to every process in the cgroup and to any it forks meanwhile: one write to
    /// `cgroup.kill` (Linux 5.14); on older kernels, SIGKILL to each listed process.
    func kill() {
        if CgroupFile.write(path + "/cgroup.kill", "1") != nil { signalAll(SIGKILL) }
    }

    /// How many times the OOM killer killed a process of this run (`memory.events`' `oom_kill`);
    /// 0 without the memory controller.
    var oomKills: UInt64 {
        CgroupFile.read(path + "/memory.events").flatMap { CgroupFile.value("oom_kill", in: $0) } ?? 0
    }

    /// What the service has used so far in this run.
    public var accounting: CgroupAccounting {
        Self.accounting(at: path)
    }

    /// `memory.current` and `cpu.stat`'s `usage_usec` of the cgroup at `path`.
    static func accounting(at path: String) -> CgroupAccounting {
        let memory = CgroupFile.read(path + "/memory.current").flatMap { UInt64($0.split(separator: "\n").first ?? "") }
        let usage = CgroupFile.read(path + "/cpu.stat").flatMap { CgroupFile.value("usage_usec", in: $0) }
        return CgroupAccounting(memoryBytes: memory, cpuUsage: usage.map { .microseconds(Int64(clamping: $0)) })
    }

    /// Closes the descriptor and removes the directory, which the kernel allows only once the
    /// cgroup is empty. Call once, when the run is over. Returns the errno of a failed `rmdir`.
    @discardableResult
    func remove() -> Int32? {
        close(procsFD)
        return rmdir(path) == 0 || errno == ENOENT ? nil : errno
    }
}
