import Glibc

/// A unix socket's address as `bind` and `connect` take it: a path, or, written with a leading
/// `@`, a name in the abstract namespace. Shared by the notify relay and the control socket.
enum UnixSocketAddress {
    /// The longest path a `sockaddr_un` holds with its terminating NUL.
    static let maximumPathLength = 107
    /// The longest abstract address, written with its leading `@` (which becomes the NUL).
    static let maximumAbstractLength = 108

    /// Whether `address` fits a `sockaddr_un`.
    static func fits(_ address: String) -> Bool {
        address.utf8.count <= (address.hasPrefix("@") ? maximumAbstractLength : maximumPathLength)
    }

    /// Calls `body` with `address` as a `sockaddr_un` and its length; nil when it does not fit.
    static func with<R>(_ address: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R? {
        guard fits(address) else { return nil }
        let bytes = Array(address.utf8)
        let abstract = address.hasPrefix("@")
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { path in
            path.copyBytes(from: bytes)
            // An abstract name starts with a NUL and is exactly as long as the address says; a
            // path ends with the NUL that sockaddr_un() already holds.
            if abstract { path[0] = 0 }
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}
