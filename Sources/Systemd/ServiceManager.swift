import CSystemd
import Glibc

/// Questions about the service manager this process runs under. Every answer is read fresh;
/// nothing is cached and nothing in the environment is changed.
public enum ServiceManager {
    /// Whether this process was started by a service manager: `NOTIFY_SOCKET` or `INVOCATION_ID`
    /// is set and non-empty in the process environment.
    ///
    /// systemd sets `INVOCATION_ID` for every service and `NOTIFY_SOCKET` for `Type=notify`; a
    /// relay such as runnerd sets `NOTIFY_SOCKET` for its children.
    public static var isSupervised: Bool {
        isSupervised(environment: [
            "NOTIFY_SOCKET": getenv("NOTIFY_SOCKET").map { String(cString: $0) },
            "INVOCATION_ID": getenv("INVOCATION_ID").map { String(cString: $0) },
        ].compactMapValues { $0 })
    }

    /// Whether `environment` carries a service manager's marks, by the rule of ``isSupervised``.
    public static func isSupervised(environment: [String: String]) -> Bool {
        !(environment["NOTIFY_SOCKET"] ?? "").isEmpty || !(environment["INVOCATION_ID"] ?? "").isEmpty
    }

    /// Whether the system was booted with systemd as its init (`sd_booted(3)`: the directory
    /// `/run/systemd/system/` exists). False inside most containers.
    public static var isBooted: Bool {
        sd_booted() > 0
    }

    /// Whether standard error is connected to journald as a stream: `JOURNAL_STREAM` is set and its
    /// `device:inode` pair names the file that descriptor 2 refers to.
    ///
    /// The comparison matters because children inherit `JOURNAL_STREAM` even when their stderr
    /// has been redirected elsewhere.
    public static var isStandardErrorJournalStream: Bool {
        isJournalStream(
            fileDescriptor: STDERR_FILENO,
            journalStream: getenv("JOURNAL_STREAM").map { String(cString: $0) })
    }

    /// Whether `fileDescriptor` is the stream that `journalStream` (a `JOURNAL_STREAM` value,
    /// `device:inode` in decimal) names. False when `journalStream` is nil or malformed, or the
    /// descriptor is not open.
    public static func isJournalStream(fileDescriptor: Int32, journalStream: String?) -> Bool {
        guard let journalStream, let colon = journalStream.utf8.firstIndex(of: UInt8(ascii: ":")),
            let device = decimal(journalStream.utf8[..<colon]),
            let inode = decimal(journalStream.utf8[journalStream.utf8.index(after: colon)...])
        else {
            return false
        }
        var status = stat()
        guard fstat(fileDescriptor, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

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

    private static func decimal(_ digits: Substring.UTF8View) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = product.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow, !carry else { return nil }
            value = sum
        }
        return value
    }
}
