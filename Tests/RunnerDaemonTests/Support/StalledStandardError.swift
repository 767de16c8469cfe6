import Glibc
import RunnerdTestSupport
import Synchronization

/// A standard error for `runnerd` that nobody reads until the test says so: one end of a unix
/// stream socket pair with the smallest send buffer the kernel allows, so that a dozen log lines
/// fill it and the next `write(2)` blocks, as a stopped journald would block `sd_journal_sendv`.
///
/// ``startReading()`` plays the destination coming back: from then on a thread of its own reads
/// everything, until the daemon (the last holder of the other end) exits.
final class StalledStandardError: Sendable {
    private final class Storage: Sendable {
        let received = Mutex<[UInt8]>([])
        let reading = Atomic(false)
        let ended = Atomic(false)
    }

    /// The end to give the daemon as its fd 2; the test closes its copy with ``daemonStarted()``.
    let daemonEnd: Int32
    private let testEnd: Int32
    private let daemonEndOpen = Atomic(true)
    private let storage = Storage()

    init() throws {
        var ends: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &ends) == 0 else {
            throw TestTimeout(description: "socketpair failed: errno \(errno)")
        }
        (testEnd, daemonEnd) = (ends[0], ends[1])
        // The kernel doubles this and keeps at least its own minimum: about 8 KiB, a dozen lines.
        var small: Int32 = 4096
        setsockopt(daemonEnd, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit {
        daemonStarted()
        // A reader still blocked in read(2) gets end of file once the daemon is gone; until then
        // the descriptor stays open for it.
        if !storage.reading.load(ordering: .acquiring) || storage.ended.load(ordering: .acquiring) {
            close(testEnd)
        }
    }

    /// Closes the test's copy of the daemon's end, so that the reader sees end of file when the
    /// daemon exits. Call it once the daemon has been spawned.
    func daemonStarted() {
        if daemonEndOpen.exchange(false, ordering: .acquiringAndReleasing) {
            close(daemonEnd)
        }
    }

    /// Starts reading everything the daemon wrote and writes from now on.
    func startReading() {
        guard !storage.reading.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let fd = testEnd
        let storage = self.storage
        Task.detached {
            _ = try? await onOwnThread {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = read(fd, &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { break }
                    storage.received.withLock { $0 += buffer[..<count] }
                }
                storage.ended.store(true, ordering: .releasing)
            }
        }
    }

    /// Everything read so far.
    var text: String { String(decoding: storage.received.withLock { $0 }, as: UTF8.self) }

    /// Whether the reader has seen end of file: the daemon and every holder of its end are gone.
    var hasEnded: Bool { storage.ended.load(ordering: .acquiring) }

    /// Whether `pid`'s own-log writer thread (`runnerd-ownlogs`) is blocked in `write(2, …)`, read
    /// from `/proc/PID/task/TID/syscall`: proof that the destination is stalled and that what
    /// runnerd logs from now on can only queue up or be dropped.
    static func writerIsBlocked(inDaemon pid: pid_t) -> Bool {
        guard let directory = opendir("/proc/\(pid)/task") else { return false }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard Int32(tid) != nil else { continue }
            let comm = String(decoding: procFile("/proc/\(pid)/task/\(tid)/comm"), as: UTF8.self)
            guard comm == "runnerd-ownlogs\n" else { continue }
            // "1 0x2 …": the write system call on fd 2, still in progress.
            let syscall = String(decoding: procFile("/proc/\(pid)/task/\(tid)/syscall"), as: UTF8.self)
            return syscall.split(separator: " ").prefix(2) == ["1", "0x2"]
        }
        return false
    }
}
