import Glibc

/// Reads whole files with plain system calls, reporting failures as `errno` and its text.
package enum FileContents {
    /// The most a config file may hold: far more than any config, far less than `/dev/zero`.
    package static let configLimit = 4 << 20
    /// The most an environment file may hold.
    package static let environmentFileLimit = 1 << 20

    /// Why a file could not be read.
    package struct Failure: Error, Equatable {
        /// The system call's error, or 0 when the file was refused for what it is.
        package var errno: Int32
        /// What the file is, when it is not a regular file (`a FIFO`, `a character device`).
        package var notRegular: String?
        /// The limit it exceeded, in bytes, when it is too large.
        package var tooLarge: Int?

        init(errno: Int32) {
            self.errno = errno
        }

        init(notRegular kind: String) {
            errno = 0
            notRegular = kind
        }

        init(tooLarge limit: Int) {
            errno = 0
            tooLarge = limit
        }

        /// `strerror(errno)`, e.g. `No such file or directory`, or why the file was refused:
        /// `it is a FIFO, not a regular file`, `it is larger than 4 MiB`.
        package var reason: String {
            if let notRegular { return "it is \(notRegular), not a regular file" }
            if let tooLarge { return "it is larger than \(tooLarge >> 20) MiB" }
            return String(cString: strerror(errno))
        }
    }

    /// The bytes of the regular file at `path`, at most `limit` of them. A directory fails with
    /// EISDIR, so that it reads as "Is a directory" rather than as an empty file; a FIFO, a device
    /// or a socket is refused without reading (it is opened with O_NONBLOCK, so that a FIFO without
    /// a writer cannot block the open), and so is a file larger than `limit`, however it grows.
    package static func read(path: String, limit: Int = .max) -> Result<[UInt8], Failure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { return .failure(Failure(errno: errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(Failure(errno: errno)) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .failure(Failure(errno: EISDIR))
        case S_IFIFO: return .failure(Failure(notRegular: "a FIFO"))
        case S_IFCHR: return .failure(Failure(notRegular: "a character device"))
        case S_IFBLK: return .failure(Failure(notRegular: "a block device"))
        case S_IFSOCK: return .failure(Failure(notRegular: "a socket"))
        default: return .failure(Failure(notRegular: "not a file"))
        }
        if info.st_size > limit { return .failure(Failure(tooLarge: limit)) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(Failure(errno: errno))
            }
            if count == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[..<count])
            // It grew while being read.
            if bytes.count > limit { return .failure(Failure(tooLarge: limit)) }
        }
    }
}
