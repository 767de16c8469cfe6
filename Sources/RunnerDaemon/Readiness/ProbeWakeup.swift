import CLinuxSupport
import Glibc

/// An eventfd that ends a probe attempt's blocking `poll`: the attempt's deadline or its caller's
/// cancellation signals it, and `ProbeSocket` watches it beside the socket. So a socket attempt
/// never needs a poll timeout of its own, and never outlives its deadline by more than a wake-up.
///
/// A class, so that the descriptor stays open as long as anyone may still signal it: the
/// cancellation handler that signals can run on another thread after the attempt has finished.
final class ProbeWakeup: Sendable {
    /// The eventfd, readable once signalled. Closed when the last reference goes.
    let fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    /// A fresh, unsignalled wake-up, or `.system` when the process is out of descriptors.
    static func make() -> Result<ProbeWakeup, ProbeFailure> {
        let fd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard fd >= 0 else { return .failure(.system(call: "eventfd", errno: errno)) }
        return .success(ProbeWakeup(fd: fd))
    }

    deinit {
        close(fd)
    }

    /// Makes `fd` readable for good (nothing reads it back). Safe from any thread, any number of times.
    func signal() {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }
}
