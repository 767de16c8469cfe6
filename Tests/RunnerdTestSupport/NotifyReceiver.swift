import Glibc

/// The service manager's side of the notify protocol, for tests of the Systemd module and of the
/// daemon: a Unix datagram socket with
/// `SO_PASSCRED`, bound either at a fresh filesystem path or at a fresh abstract name.
// @unchecked Sendable: its state is a socket fixed at init; tests receive from one task at a
// time, and the kernel serialises concurrent receives anyway.
public final class NotifyReceiver: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// One datagram and the sender's process ID, from the kernel's `SCM_CREDENTIALS`.
    public struct Datagram: Sendable {
        public let bytes: [UInt8]
        public let senderPID: Int32

        public var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    public enum Kind: String, CaseIterable, Sendable {
        case path
        case abstract
    }

    /// The address as `NOTIFY_SOCKET` spells it: `/…/notify` or `@…`.
    public let address: String
    private let fd: Int32
    private let directory: String?

    // SCM_CREDENTIALS is behind _GNU_SOURCE, which the Glibc module does not define; this is its
    // value on Linux.
    private static let scmCredentials: Int32 = 2

    public convenience init(_ kind: Kind) throws {
        switch kind {
        case .path:
            var template = Array("/tmp/runnerd-tests-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed: errno \(errno)") }
            let directory = String(cString: made)
            try self.init(address: directory + "/notify", directory: directory)
        case .abstract:
            try self.init(address: "@runnerd-tests-\(getpid())-\(UInt64.random(in: 0...UInt64.max))", directory: nil)
        }
    }

    /// A receiver bound at exactly `address` (`@name`, or a path whose directory exists and
    /// that nothing is bound at), for a test that replaces the manager's socket with a new one
    /// at the same address. A path is unlinked when the receiver goes away.
    public convenience init(address: String) throws {
        try self.init(address: address, directory: nil)
    }

    private init(address: String, directory: String?) throws {
        // The stored properties are set only once the bind succeeded: a throw after that would run
        // deinit, which must not unlink a path some other socket is bound at.
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed: errno \(errno)") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size))

        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        let bytes = Array(address.utf8)
        let isAbstract = address.hasPrefix("@")
        withUnsafeMutableBytes(of: &storage.sun_path) {
            $0.copyBytes(from: bytes)
            if isAbstract { $0[0] = 0 }
        }
        // An abstract name is exactly its bytes; a path carries its NUL.
        let length = pathOffset + bytes.count + (isAbstract ? 0 : 1)
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard bound == 0 else {
            let error = errno
            close(fd)
            throw Failure(description: "bind \(address) failed: errno \(error)")
        }
        self.fd = fd
        self.address = address
        self.directory = directory
    }

    /// A receiver bound at `path`, which the caller chose and removes.
    public init(bindingPath path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed: errno \(errno)") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size))
        directory = nil
        address = path
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard bound == 0 else { throw Failure(description: "bind \(path) failed: errno \(errno)") }
    }

    deinit {
        close(fd)
        if !address.hasPrefix("@") {
            unlink(address)
        }
        if let directory {
            rmdir(directory)
        }
    }

    /// The socket's descriptor, for a test that needs to look at the queue itself.
    public var fileDescriptor: Int32 { fd }

    /// The next datagram; throws if none arrives within `timeout`.
    public func receive(timeout: Duration = .seconds(10)) throws -> Datagram {
        let deadline = Deadline(after: timeout)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, deadline.remainingMilliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { throw Failure(description: "no datagram on \(address) within \(timeout)") }
            break
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let control = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
        defer { control.deallocate() }
        let (count, controlLength) = buffer.withUnsafeMutableBytes { bytes in
            var vector = iovec(iov_base: bytes.baseAddress, iov_len: bytes.count)
            return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                var message = msghdr()
                message.msg_iov = vectorPointer
                message.msg_iovlen = 1
                message.msg_control = control
                message.msg_controllen = 256
                let count = recvmsg(fd, &message, Int32(MSG_DONTWAIT))
                return (count, Int(message.msg_controllen))
            }
        }
        guard count >= 0 else { throw Failure(description: "recvmsg failed: errno \(errno)") }

        // Walk the control messages by hand (the CMSG_* macros are not imported): each is a
        // cmsghdr (len, level, type), then data, padded to 8 bytes.
        let headerSize = MemoryLayout<cmsghdr>.size
        var offset = 0
        var senderPID: Int32 = -1
        while offset + headerSize <= controlLength {
            let header = control.load(fromByteOffset: offset, as: cmsghdr.self)
            if header.cmsg_level == SOL_SOCKET && header.cmsg_type == Self.scmCredentials {
                // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
                senderPID = control.load(fromByteOffset: offset + headerSize, as: Int32.self)
            }
            let advance = (Int(header.cmsg_len) + 7) & ~7
            guard advance > 0 else { break }
            offset += advance
        }
        return Datagram(bytes: Array(buffer[..<count]), senderPID: senderPID)
    }
}

extension NotifyReceiver {
    /// `receive(timeout:)` for async tests: the wait happens on a thread of its own, so that it
    /// never holds one of the few threads of Swift's cooperative pool, which other tests (and
    /// the code under test) need meanwhile.
    public func receiveAsync(timeout: Duration = .seconds(10)) async throws -> Datagram {
        try await onOwnThread { try self.receive(timeout: timeout) }
    }
}

/// Runs a blocking `body` on a new OS thread and returns its result to the awaiting task.
public func onOwnThread<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        let work = Work { continuation.resume(with: Result { try body() }) }
        let box = Unmanaged.passRetained(work).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box)
        if status != 0 {
            Unmanaged<Work>.fromOpaque(box).release()
            continuation.resume(throwing: NotifyReceiver.Failure(description: "pthread_create failed: \(status)"))
        } else {
            pthread_detach(thread)
        }
    }
}

/// A closure handed to exactly one thread, which runs it once.
private final class Work: @unchecked Sendable {
    // @unchecked: only the thread it was handed to touches it.
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
