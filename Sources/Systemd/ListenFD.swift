/// A file descriptor passed to this process by socket activation, with its name; see
/// ``ServiceManager/listenFDs()``.
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
