import Glibc

/// Sends a notify datagram to an explicit address, the way `sd_notify` does for `NOTIFY_SOCKET`.
///
/// libsystemd only reads the address from the process environment, which a threaded program
/// must not change; this is the path for an address given as a value. It mirrors sd_notify in
/// systemd 252: one new `SOCK_DGRAM` socket per message, `@` for the abstract namespace, and the
/// same address checks.
enum NotifySocket {
    static func send(_ message: String, to address: String) throws(NotifyError) {
        var storage = sockaddr_un()
        let length = try fill(&storage, with: address)

        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .sendFailed(socket: address, code: errno) }
        defer { close(fd) }

        var utf8 = message
        let sent = utf8.withUTF8 { bytes in
            withUnsafePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    var result: Int
                    repeat {
                        result = sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), address, length)
                    } while result < 0 && errno == EINTR
                    return result < 0 ? errno : 0
                }
            }
        }
        guard sent == 0 else { throw .sendFailed(socket: address, code: sent) }
    }

    /// Writes `address` into `storage` and returns the address length to pass to the kernel.
    /// ``NotifyConnection`` uses the same rules, so both paths accept exactly the same addresses.
    static func fill(_ storage: inout sockaddr_un, with address: String) throws(NotifyError) -> socklen_t {
        let bytes = Array(address.utf8)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        // Like sd_notify: only "/path" or "@name" with at least one character after the marker,
        // and room for the path's terminating NUL (the abstract name has none).
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "/") || bytes[0] == UInt8(ascii: "@"),
            bytes.count < capacity, !bytes.contains(0)
        else {
            throw .invalidSocketAddress(address)
        }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { path in
            path.copyBytes(from: bytes)
            if bytes[0] == UInt8(ascii: "@") {
                path[0] = 0
            }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        let isAbstract = bytes[0] == UInt8(ascii: "@")
        // An abstract name is exactly its bytes; a path carries its NUL, as SOCKADDR_UN_LEN does.
        return socklen_t(pathOffset + bytes.count + (isAbstract ? 0 : 1))
    }
}
