import Glibc

/// Waits for service cgroups to empty, on the event loop, without polling: one inotify
/// descriptor for the whole daemon, and a watch on each waited-for cgroup's `cgroup.events`,
/// which the kernel modifies when `populated` changes.
final class CgroupWatcher: @unchecked Sendable {
    // @unchecked: `waits` is touched only on the loop thread; `fd` is fixed after init.

    private let loop: EventLoop
    private let fd: Int32
    /// By inotify watch: the cgroups waited for and their waiters.
    private var waits: [Int32: (cgroup: ServiceCgroup, waiters: [CheckedContinuation<Void, Never>])] = [:]

    /// Opens the inotify descriptor and watches it on `loop`. Nil when the kernel refuses one.
    init?(loop: EventLoop) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        self.loop = loop
        self.fd = fd
        loop.execute { [self] in loop.watch(fd) { [self] in readEvents() } }
    }

    /// Suspends until `cgroup` has no process left (or is gone).
    func waitUntilEmpty(_ cgroup: ServiceCgroup) async {
        await withCheckedContinuation { continuation in
            loop.execute { [self] in
                // The watch first, then the check: a change between the two still wakes us.
                let wd = inotify_add_watch(fd, cgroup.path + "/cgroup.events", UInt32(IN_MODIFY))
                guard cgroup.isPopulated else {
                    if wd >= 0, waits[wd] == nil { inotify_rm_watch(fd, wd) }
                    continuation.resume()
                    return
                }
                guard wd >= 0 else {
                    // No watch to be had (fs.inotify.max_user_watches reached): look every 50 ms.
                    poll(cgroup, continuation)
                    return
                }
                waits[wd, default: (cgroup, [])].waiters.append(continuation)
            }
        }
    }

    private func poll(_ cgroup: ServiceCgroup, _ continuation: CheckedContinuation<Void, Never>) {
        loop.schedule(after: .milliseconds(50)) { [self] in
            if cgroup.isPopulated { poll(cgroup, continuation) } else { continuation.resume() }
        }
    }

    private func readEvents() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var changed: Set<Int32> = []
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (wd, length) = buffer.withUnsafeBytes { raw in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.wd, Int(event.len))
                }
                changed.insert(wd)
                offset += MemoryLayout<inotify_event>.size + length
            }
        }
        for wd in changed {
            guard let wait = waits[wd], !wait.cgroup.isPopulated else { continue }
            waits[wd] = nil
            inotify_rm_watch(fd, wd)
            for waiter in wait.waiters { waiter.resume() }
        }
    }
}
