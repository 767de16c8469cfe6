import Glibc

/// One `sd_notify(3)` datagram from a service, parsed: what a program written for systemd's
/// `Type=notify` tells its manager.
///
/// The wire format is newline-separated `KEY=VALUE` lines in one datagram, as systemd 252 reads
/// it. The fields below are the ones runnerd acts on; every other line is kept, in order, in
/// ``otherFields``. When a key appears twice, the first line wins, as in systemd.
///
/// Parsing is strict where the meaning would otherwise be a guess: a datagram that is empty, not
/// UTF-8, contains a NUL byte, has a line without `=` or with an empty key, or gives an understood
/// key a value outside its grammar (`READY=2`, `MAINPID=abc`) is refused whole with a
/// ``Malformed`` that says why, so that nothing of a half-understood message takes effect.
struct NotifyMessage: Sendable, Equatable {
    /// What `WATCHDOG=` asks for.
    enum WatchdogRequest: Sendable, Equatable {
        /// `WATCHDOG=1`: the service is alive; restart its watchdog interval.
        case ping
        /// `WATCHDOG=trigger`: the service asks to be treated as if its watchdog had expired.
        case trigger
    }

    /// A line whose key is not one of the understood ones, kept as sent.
    struct Field: Sendable, Equatable {
        var name: String
        var value: String
    }

    /// Why a datagram was refused; `description` is the reason for the log.
    struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        let description: String
    }

    /// The process the kernel names as the sender (from `SCM_CREDENTIALS`).
    var senderPID: pid_t
    /// `READY=1`: start-up is complete.
    var ready = false
    /// `STATUS=`: a free-form line for the operator; may be empty.
    var status: String?
    /// `STOPPING=1`: the service has begun to shut down.
    var stopping = false
    /// `RELOADING=1`: the service has begun to reload its configuration.
    var reloading = false
    /// `MAINPID=`: the service's main process (a positive pid). The relay delivers it only when
    /// that process belongs to the service; otherwise it is dropped and logged.
    var mainPID: pid_t?
    /// `EXTEND_TIMEOUT_USEC=`: the service asks for this much more time for what it is doing now.
    var extendTimeout: Duration?
    /// `WATCHDOG=1` or `WATCHDOG=trigger`.
    var watchdog: WatchdogRequest?
    /// `ERRNO=`: the errno-style reason of a failure, zero or positive.
    var errorNumber: Int32?
    /// Every other line, in the order sent (`WATCHDOG_USEC=`, `FDSTORE=1`, custom keys, ...).
    var otherFields: [Field] = []

    /// A message from `senderPID` with no fields set.
    init(senderPID: pid_t) {
        self.senderPID = senderPID
    }

    /// Parses the payload of one datagram.
    ///
    /// - Throws: ``Malformed`` for a payload described in the type's contract; nothing is returned
    ///   then, not even the lines that were fine.
    init(parsing bytes: some Collection<UInt8>, senderPID: pid_t) throws(Malformed) {
        self.init(senderPID: senderPID)
        guard !bytes.isEmpty else { throw Malformed(description: "the datagram is empty") }
        guard !bytes.contains(0) else { throw Malformed(description: "the datagram contains a NUL byte") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Malformed(description: "the datagram is not UTF-8")
        }
        var seen: Set<Substring> = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            // A trailing newline, or a blank line between fields, carries nothing.
            if line.isEmpty { continue }
            guard let equals = line.firstIndex(of: "="), equals != line.startIndex else {
                throw Malformed(description: "line \(index + 1) is not KEY=VALUE: \(Self.excerpt(line))")
            }
            let key = line[..<equals]
            let value = line[line.index(after: equals)...]
            guard seen.insert(key).inserted else { continue }
            try apply(key: key, value: value)
        }
    }

    private mutating func apply(key: Substring, value: Substring) throws(Malformed) {
        func invalid(_ expected: String) -> Malformed {
            Malformed(description: "\(key)=\(Self.excerpt(value)) is not valid; \(key) takes \(expected)")
        }
        switch key {
        case "READY":
            guard value == "1" else { throw invalid("1") }
            ready = true
        case "STOPPING":
            guard value == "1" else { throw invalid("1") }
            stopping = true
        case "RELOADING":
            guard value == "1" else { throw invalid("1") }
            reloading = true
        case "STATUS":
            status = String(value)
        case "MAINPID":
            guard let pid = Self.decimal(value, as: pid_t.self), pid > 0 else { throw invalid("a positive pid") }
            mainPID = pid
        case "EXTEND_TIMEOUT_USEC":
            guard let microseconds = Self.decimal(value, as: UInt64.self) else {
                throw invalid("a number of microseconds")
            }
            // Split, because a UInt64 of microseconds can overflow Int64 but its seconds cannot.
            extendTimeout = .seconds(Int64(microseconds / 1_000_000)) + .microseconds(Int64(microseconds % 1_000_000))
        case "WATCHDOG":
            switch value {
            case "1": watchdog = .ping
            case "trigger": watchdog = .trigger
            default: throw invalid("1 or trigger")
            }
        case "ERRNO":
            guard let number = Self.decimal(value, as: Int32.self), number >= 0 else {
                throw invalid("a non-negative errno number")
            }
            errorNumber = number
        default:
            otherFields.append(Field(name: String(key), value: String(value)))
        }
    }

    /// `text` as a plain decimal number: digits only (no sign, no spaces), within `Number`'s range.
    private static func decimal<Number: FixedWidthInteger>(_ text: Substring, as _: Number.Type) -> Number? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return Number(text)
    }

    /// At most 40 characters of `text`, quoted, for a log line that a sender cannot flood.
    static func excerpt(_ text: some StringProtocol) -> String {
        let head = text.prefix(40)
        return (head.count < text.count ? String(head) + "…" : String(head)).debugDescription
    }
}
