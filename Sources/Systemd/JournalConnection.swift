import Glibc
import Synchronization

/// A datagram socket connected once to journald's native socket, for a program that writes
/// many entries: each entry is one `send` on it.
///
/// ``Journal/send(_:)`` goes through `sd_journal_sendv`, whose socket is never connected, so
/// the kernel resolves `/run/systemd/journal/socket` by path for every entry: a fifth of the
/// sending thread's time when runnerd forwards a flood of output lines. An entry is written
/// here exactly as `sd_journal_sendv` writes it (`NAME=value` lines, the binary form for a value
/// with a newline). An entry too large for one datagram goes through ``Journal/send(_:)``,
/// which hands it over in a sealed memory file instead.
///
/// Thread-safe; entries sent from one thread arrive in order. Blocking: a send waits while
/// journald's receive queue is full, as `sd_journal_sendv` does, but in a way that lets journald
/// work through a batch (see `send(_:on:)`).
public final class JournalConnection: Sendable {
    /// journald's socket for native entries.
    public static let systemSocketPath = "/run/systemd/journal/socket"

    private let path: String
    /// The connected socket, or -1 until a send connects it (again, after journald's socket was
    /// replaced).
    private let socket = Mutex<Int32>(-1)

    /// A connection to `path` (journald's own socket by default), made on the first send.
    public init(path: String = JournalConnection.systemSocketPath) {
        self.path = path
    }

    deinit {
        let fd = socket.withLock { $0 }
        if fd >= 0 { close(fd) }
    }

    /// Writes one entry with `fields` in order; the contract of ``Journal/send(_:)``.
    ///
    /// When no journald listens at the path (the socket does not exist, or nobody reads it),
    /// the entry is dropped and the call succeeds, as with libsystemd, and returns false, so that
    /// a caller can count what was lost.
    ///
    /// - Returns: true when journald's socket took the entry; false when no journald listens.
    /// - Throws: ``JournalError/noFields`` for an empty array; ``JournalError/sendFailed(code:)``
    ///   when the kernel refuses the entry.
    @discardableResult
    public func send(_ fields: [JournalField]) throws(JournalError) -> Bool {
        guard !fields.isEmpty else { throw .noFields }
        var datagram = Self.encode(fields)
        if let identifier = Self.implicitIdentifier, !fields.contains(where: { $0.name == "SYSLOG_IDENTIFIER" }) {
            datagram += identifier
        }
        // A stale connection (journald's socket was replaced) fails with ECONNREFUSED: connect
        // again once and retry.
        for attempt in 0..<2 {
            let error = socket.withLock { (fd: inout Int32) -> Int32 in
                if fd < 0 {
                    fd = connectSocket()
                    if fd < 0 { return -fd }
                }
                let code = Self.send(datagram, on: fd)
                if code == ECONNREFUSED || code == ENOTCONN {
                    close(fd)
                    fd = -1
                }
                return code
            }
            switch error {
            case 0:
                return true
            case ENOENT:
                return false  // no journald
            case ECONNREFUSED where attempt == 0, ENOTCONN where attempt == 0:
                continue
            case ECONNREFUSED:
                return false  // nobody reads the socket: no journald
            case EMSGSIZE, ENOBUFS:
                try Journal.send(fields)
                return true
            default:
                throw .sendFailed(code: error)
            }
        }
        return false
    }

    /// What libsystemd adds to an entry without a `SYSLOG_IDENTIFIER`: the program's name, if it
    /// is safe to show (no control characters, quotes or backslashes).
    private static let implicitIdentifier: [UInt8]? = {
        let name = Journal.defaultIdentifier
        let unsafe = name.utf8.contains { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "'") || $0 == UInt8(ascii: "\\") }
        return unsafe ? nil : encode([JournalField(sanitizing: "SYSLOG_IDENTIFIER", value: name)])
    }()

    /// The native protocol's form of `fields`: `NAME=value\n` per field, or for a value with a
    /// newline `NAME\n`, its length as 64-bit little endian, the value and `\n`.
    static func encode(_ fields: [JournalField]) -> [UInt8] {
        var datagram: [UInt8] = []
        datagram.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.count + 10 })
        for field in fields {
            datagram.append(contentsOf: field.name.utf8)
            if field.value.contains(UInt8(ascii: "\n")) {
                datagram.append(UInt8(ascii: "\n"))
                withUnsafeBytes(of: UInt64(field.value.count).littleEndian) { datagram.append(contentsOf: $0) }
            } else {
                datagram.append(UInt8(ascii: "="))
            }
            datagram.append(contentsOf: field.value)
            datagram.append(UInt8(ascii: "\n"))
        }
        return datagram
    }

    /// A new socket connected to `path`, or minus the errno of what failed.
    private func connectSocket() -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return -ENAMETOOLONG }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -errno }
        // As libsystemd does: room for many entries in flight before a send has to wait.
        var size: Int32 = 8 * 1024 * 1024
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        guard connected == 0 else {
            let error = errno
            close(fd)
            return -error
        }
        return fd
    }

    /// How long a sender whose entry finds journald's queue full steps aside before it waits
    /// in the kernel. systemd raises `net.unix.max_dgram_qlen` to 512 when it boots, before
    /// journald's socket exists, so a full queue is several milliseconds of journald's work
    /// (about 13 µs an entry on the benchmark machine): a millisecond's pause never lets it run
    /// dry, and lets it take in dozens of entries without waking the sender for each.
    private static let fullQueuePause = timespec(tv_sec: 0, tv_nsec: 1_000_000)

    /// Sends `datagram` on the connected `fd`; 0 or the errno.
    ///
    /// A blocking send to a full queue is woken by every entry journald takes out, sends one, and
    /// finds the queue full again: a flood then goes over one entry and two context switches at a
    /// time, and journald idles while the sender is being scheduled. So the first attempt does not
    /// block; when the queue is full the sender pauses for a millisecond, in which journald takes
    /// in a batch, and only then blocks (for as long as journald takes, as before).
    private static func send(_ datagram: [UInt8], on fd: Int32) -> Int32 {
        datagram.withUnsafeBytes { bytes in
            var flags = Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)
            while true {
                if Glibc.send(fd, bytes.baseAddress, bytes.count, flags) >= 0 { return 0 }
                let error = errno
                switch error {
                case EINTR:
                    continue
                case EAGAIN where flags & Int32(MSG_DONTWAIT) != 0:
                    var pause = fullQueuePause
                    var left = timespec()
                    while nanosleep(&pause, &left) != 0 && errno == EINTR { pause = left }
                    flags = Int32(MSG_NOSIGNAL)
                default:
                    return error
                }
            }
        }
    }
}
