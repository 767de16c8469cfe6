import Glibc
import Synchronization

/// Whole-record writes to a file descriptor, shared by the text handlers.
enum StandardStream {
    // One lock for every descriptor: handlers for the same fd must not interleave partial writes
    // of long records, and logging is not hot enough for finer locks to matter.
    private static let writeLock = Mutex(())

    /// Writes all of `bytes` to `fd`, retrying on EINTR and short writes. Errors are dropped: a
    /// log line that cannot be written has nowhere else to go.
    static func write(_ bytes: [UInt8], to fd: Int32) {
        writeLock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }
}
