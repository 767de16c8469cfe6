import Glibc

/// One TCP connection of a tcp or http probe attempt. Every call blocks the calling thread (a
/// probe thread, never the event loop or Swift's cooperative pool) until it is done, or until the
/// attempt's `ProbeWakeup` is signalled, whichever comes first.
///
/// The socket is non-blocking and each wait is a `poll` on it and the wake-up together, so that a
/// deadline or a cancellation ends a connect, send or receive at once.
final class ProbeSocket {
    /// How a send or receive ended.
    enum IOResult: Equatable {
        /// The call moved this many bytes; 0 from `receive` means the peer closed.
        case done(Int)
        /// The wake-up was signalled first.
        case woken
        /// The call failed with this errno.
        case failed(Int32)
    }

    private let fd: Int32
    private let wakeup: ProbeWakeup

    private init(fd: Int32, wakeup: ProbeWakeup) {
        self.fd = fd
        self.wakeup = wakeup
    }

    deinit {
        close(fd)
    }

    /// Connects to `host:port`, trying each address getaddrinfo gives for `host` in its order
    /// (`localhost` usually gives `::1`, then `127.0.0.1`) until one accepts. Returns `.cancelled`
    /// when woken. When every address fails, a refusal wins over other errors, since it says that
    /// the host is there but nothing listens; otherwise the last address's error is reported.
    ///
    /// Name resolution itself cannot be woken; for a name that only DNS knows it may block, but
    /// the attempt's caller does not wait for it (see `Prober`).
    static func connect(host: String, port: UInt16, wakeup: ProbeWakeup) -> Result<ProbeSocket, ProbeFailure> {
        let address = ProbeCheck.address(host: host, port: port)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            let reason = status == EAI_SYSTEM ? ProbeFailure.reason(errno) : String(cString: gai_strerror(status))
            return .failure(.unresolved(host: host, reason: reason))
        }
        defer { freeaddrinfo(list) }
        var refused = false
        var lastErrno: Int32 = EADDRNOTAVAIL
        var entry = list
        while let info = entry?.pointee {
            entry = info.ai_next
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            let fd = socket(info.ai_family, type, info.ai_protocol)
            guard fd >= 0 else {
                lastErrno = errno
                continue
            }
            let socket = ProbeSocket(fd: fd, wakeup: wakeup)
            switch socket.connect(info.ai_addr, info.ai_addrlen) {
            case .done:
                return .success(socket)
            case .woken:
                return .failure(.cancelled)
            case .failed(let error):
                refused = refused || error == ECONNREFUSED
                lastErrno = error
            }
        }
        return .failure(refused ? .refused(address: address) : .connectFailed(address: address, errno: lastErrno))
    }

    /// Sends all of `bytes`; `.done(bytes.count)` once the kernel has taken them.
    func send(_ bytes: [UInt8]) -> IOResult {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                Glibc.send(fd, buffer.baseAddress! + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count >= 0 {
                sent += count
                continue
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                if let stop = waitFor(Int16(POLLOUT)) { return stop }
            case let error: return .failed(error)
            }
        }
        return .done(sent)
    }

    /// Receives at most `buffer.count` bytes once some are there; `.done(0)` when the peer closed.
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count >= 0 { return .done(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                if let stop = waitFor(Int16(POLLIN)) { return stop }
            case let error: return .failed(error)
            }
        }
    }

    /// Reads and drops whatever has already arrived, up to `limit` bytes, without waiting. Closing
    /// a socket with unread data makes the kernel reset the connection, which servers may log as
    /// an error on every check; a small reply that came with its status line is read this way.
    func discardAvailable(limit: Int) {
        var buffer = [UInt8](repeating: 0, count: min(limit, 4096))
        var left = limit
        while left > 0 {
            let count = recv(fd, &buffer, min(left, buffer.count), Int32(MSG_DONTWAIT))
            guard count > 0 else { return }
            left -= count
        }
    }

    private func connect(_ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t) -> IOResult {
        if Glibc.connect(fd, address, length) == 0 { return .done(0) }
        // EINTR leaves the connect running in the background, just like EINPROGRESS.
        guard errno == EINPROGRESS || errno == EINTR else { return .failed(errno) }
        if let stop = waitFor(Int16(POLLOUT)) { return stop }
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 else { return .failed(errno) }
        return error == 0 ? .done(0) : .failed(error)
    }

    /// Blocks until the socket has `events` (or an error or hang-up, which the next call reports)
    /// and returns nil; or returns `.woken` once the wake-up is signalled, or `.failed` when poll
    /// itself fails.
    private func waitFor(_ events: Int16) -> IOResult? {
        var fds = [
            pollfd(fd: fd, events: events, revents: 0),
            pollfd(fd: wakeup.fd, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let count = poll(&fds, 2, -1)
            if count < 0 {
                if errno == EINTR { continue }
                return .failed(errno)
            }
            if fds[1].revents != 0 { return .woken }
            if fds[0].revents != 0 { return nil }
        }
    }
}
