import Glibc

/// Where the process that sent a notify message stood when the relay received it: its process
/// group and session, looked up at once, because a sender may exit right after sending.
///
/// The values are those of fields 5 and 6 of `/proc/<pid>/stat`, read with `getpgid(2)` and
/// `getsid(2)`, which answer for any process in our pid namespace, zombies included, without
/// opening or parsing a file. A process that has already been reaped has neither; it cannot be
/// attributed to any service, so its message is a stranger's.
struct NotifySender: Sendable, Equatable {
    /// The pid the kernel attested in `SCM_CREDENTIALS`; 0 when it gave none, or when the sender
    /// lives in a pid namespace we cannot see.
    let pid: pid_t
    /// nil when the process no longer exists, or its group's leader is outside our pid namespace.
    let processGroup: pid_t?
    /// nil when the process no longer exists, or its session's leader is outside our pid
    /// namespace (the kernel then reports 0, as for a daemon started by a container's host).
    let session: pid_t?

    init(pid: pid_t, processGroup: pid_t?, session: pid_t?) {
        self.pid = pid
        self.processGroup = processGroup
        self.session = session
    }

    /// Looks `pid` up now.
    static func lookUp(_ pid: pid_t) -> NotifySender {
        guard pid > 0 else { return NotifySender(pid: pid, processGroup: nil, session: nil) }
        let group = getpgid(pid)
        let session = getsid(pid)
        return NotifySender(pid: pid, processGroup: group > 0 ? group : nil, session: session > 0 ? session : nil)
    }

    /// Whether the sender was part of the service whose main process is `leader`. runnerd starts
    /// every service in a session of its own, so the leader's pid is both the service's process
    /// group and its session: a process in either belongs. That takes in the service's children
    /// and their own process groups (a shell's pipelines and jobs, a `setpgid` helper), but not a
    /// process that left with `setsid`, which is as detached from the service as any stranger.
    func belongs(toServiceLedBy leader: pid_t) -> Bool {
        guard leader > 0 else { return false }
        return processGroup == leader || session == leader
    }
}
