import Glibc

/// A fresh directory under /tmp for one probe test's scripts and marker files, removed with
/// everything in it when the test lets go of it.
final class ProbeDirectory: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The directory, e.g. `/tmp/runnerd-probe-AbC123`.
    let path: String

    init() throws {
        var template = Array("/tmp/runnerd-probe-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed: errno \(errno)") }
        path = String(cString: made)
    }

    deinit {
        if let directory = opendir(path) {
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { unlink("\(path)/\(name)") }
            }
            closedir(directory)
        }
        rmdir(path)
    }

    /// Writes an executable `/bin/sh` script `name` running `body`, and returns its path.
    func script(_ name: String, _ body: String) throws -> String {
        let file = "\(path)/\(name)"
        try write(name, "#!/bin/sh\n\(body)\n")
        guard chmod(file, 0o755) == 0 else { throw Failure(description: "chmod \(file) failed: errno \(errno)") }
        return file
    }

    /// Replaces the file `name` with `text`.
    func write(_ name: String, _ text: String) throws {
        let fd = open("\(path)/\(name)", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path)/\(name): errno \(errno)") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw Failure(description: "cannot write \(path)/\(name): errno \(errno)")
        }
    }

    /// The contents of the file `name`, or "" when it does not exist.
    func read(_ name: String) throws -> String {
        let fd = open("\(path)/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return "" }
            throw Failure(description: "cannot open \(path)/\(name): errno \(errno)")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = Glibc.read(fd, &buffer, buffer.count)
            guard count > 0 else { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The number of lines in the file `name` (0 when it does not exist).
    func lineCount(_ name: String) throws -> Int {
        try read(name).split(separator: "\n").count
    }

    /// Creates the empty file `name`.
    func touch(_ name: String) throws {
        try write(name, "")
    }
}
