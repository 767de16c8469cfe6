import CSystemd
import Glibc

/// A file descriptor passed to this process by socket activation, with its name.
public struct ListenFD: Sendable, Hashable {
    /// The descriptor number, starting at 3. It is open in this process, with `FD_CLOEXEC` set.
    public let fileDescriptor: Int32

    /// The name from `FileDescriptorName=` (via `LISTEN_FDNAMES`), or `"unknown"` when the manager
    /// gave none.
    public let name: String

    /// A descriptor and its name.
    public init(fileDescriptor: Int32, name: String) {
        self.fileDescriptor = fileDescriptor
        self.name = name
    }
}

extension ServiceManager {
    /// The sockets (or other descriptors) passed by socket activation, in order, as
    /// `sd_listen_fds_with_names(3)` reports them.
    ///
    /// - Returns: an empty array when `LISTEN_PID` is unset or names another process.
    /// - Throws: ``ListenFDError`` when `LISTEN_FDS`, `LISTEN_PID` or `LISTEN_FDNAMES` is
    ///   malformed, or a descriptor cannot be marked close-on-exec.
    /// - Note: the `LISTEN_*` variables stay in the environment (nothing is unset); children get
    ///   an environment without them from ``ProcessEnvironment/forChildren()``. Each call marks
    ///   the descriptors `FD_CLOEXEC` again, which is harmless; taking ownership of them (and
    ///   closing them) is the caller's job.
    public static func listenFDs() throws(ListenFDError) -> [ListenFD] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        let count = sd_listen_fds_with_names(0, &names)
        defer {
            if let names {
                for index in 0..<max(Int(count), 0) {
                    free(names[index])
                }
                free(names)
            }
        }
        guard count >= 0 else {
            let environment = ProcessEnvironment.current()
            throw ListenFDError(
                code: -count,
                listenFDs: environment["LISTEN_FDS"],
                listenPID: environment["LISTEN_PID"],
                listenFDNames: environment["LISTEN_FDNAMES"])
        }
        return (0..<Int(count)).map { index in
            ListenFD(
                fileDescriptor: SD_LISTEN_FDS_START + Int32(index),
                name: names?[index].map { String(cString: $0) } ?? "unknown")
        }
    }
}
