/// Why the socket-activation descriptors could not be taken over.
public struct ListenFDError: Error, Hashable, CustomStringConvertible {
    /// The `errno` value libsystemd reported, such as `EINVAL` for malformed variables.
    public let code: Int32

    /// The `LISTEN_FDS` value found, or `nil` when unset.
    public let listenFDs: String?

    /// The `LISTEN_PID` value found, or `nil` when unset.
    public let listenPID: String?

    /// The `LISTEN_FDNAMES` value found, or `nil` when unset.
    public let listenFDNames: String?

    /// An error with the given code and variable values.
    public init(code: Int32, listenFDs: String?, listenPID: String?, listenFDNames: String?) {
        self.code = code
        self.listenFDs = listenFDs
        self.listenPID = listenPID
        self.listenFDNames = listenFDNames
    }

    /// A one-line explanation naming what to fix.
    public var description: String {
        func show(_ value: String?) -> String {
            value.map { String(reflecting: $0) } ?? "unset"
        }
        return "cannot take socket-activation descriptors (LISTEN_FDS=\(show(listenFDs)) LISTEN_PID=\(show(listenPID)) "
            + "LISTEN_FDNAMES=\(show(listenFDNames))): \(SystemErrno.describe(code)); LISTEN_FDS and LISTEN_PID must be "
            + "positive numbers and LISTEN_FDNAMES must have one colon-separated name per descriptor"
    }
}
