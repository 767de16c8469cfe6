import Glibc

/// Reads whole files with plain system calls, reporting failures as `errno` and its text.
package enum FileContents {
    /// Why a file could not be read.
    package struct Failure: Error, Equatable {
        package var errno: Int32
        /// `strerror(errno)`, e.g. `No such file or directory`.
        package var reason: String { String(cString: strerror(errno)) }
    }

    /// The bytes of the file at `path`. A directory fails with EISDIR, so that it reads as
    /// "Is a directory" rather than as an empty file.
    package static func read(path: String) -> Result<[UInt8], Failure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Failure(errno: errno)) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            return .failure(Failure(errno: EISDIR))
        }
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
        }
    }
}
