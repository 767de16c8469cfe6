import Glibc

/// Reads and writes of cgroupfs files. Each is a few system calls on an in-memory filesystem,
/// cheap enough for the event loop (like the `/proc` reads it already makes).
enum CgroupFile {
    /// The file's contents, or nil if it cannot be read (gone, or no such controller file).
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return count == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
            bytes += buffer[..<count]
        }
    }

    /// Writes `text` to the file in one `write`, as cgroupfs wants it; returns the errno on failure.
    @discardableResult
    static func write(_ path: String, _ text: String) -> Int32? {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        return written == bytes.count ? nil : (written < 0 ? errno : EIO)
    }

    /// This process's cgroup in the v2 hierarchy (`/system.slice/runnerd.service`), from the `0::`
    /// line of /proc/self/cgroup; nil without one.
    static func ownCgroupPath() -> String? {
        read("/proc/self/cgroup")?.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
    }

    /// The value of `key` in a flat-keyed file such as `cgroup.events`, `memory.events` or
    /// `cpu.stat` (`key value` lines).
    static func value(_ key: String, in text: String) -> UInt64? {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == key { return UInt64(fields[1]) }
        }
        return nil
    }
}
