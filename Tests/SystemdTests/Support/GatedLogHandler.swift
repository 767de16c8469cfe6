import Glibc
import Logging
import Synchronization

/// A log handler standing in for a destination that stalls when the test says so: before writing
/// an event it says that it has started (a byte on `Gate`'s entered socket), then waits at the
/// gate (a blocking read of one byte from a socket the test holds the other end of), then records
/// the event as `level message key=value…`, with its own metadata merged under the event's.
struct GatedLogHandler: LogHandler {
    /// The shared gate and record. Closed until ``open()``; opening is for good.
    final class Gate: Sendable {
        private let passReadEnd: Int32
        private let passWriteEnd: Atomic<Int32>
        private let enteredReadEnd: Int32
        private let enteredWriteEnd: Int32
        private let written = Mutex<[String]>([])

        init(open: Bool = false) {
            var pass: [Int32] = [-1, -1]
            var entered: [Int32] = [-1, -1]
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            precondition(socketpair(AF_UNIX, type, 0, &pass) == 0, "socketpair failed")
            precondition(socketpair(AF_UNIX, type | Int32(SOCK_NONBLOCK.rawValue), 0, &entered) == 0, "socketpair failed")
            passReadEnd = pass[0]
            passWriteEnd = Atomic(pass[1])
            enteredReadEnd = entered[0]
            enteredWriteEnd = entered[1]
            if open { self.open() }
        }

        deinit {
            open()
            close(passReadEnd)
            close(enteredReadEnd)
            close(enteredWriteEnd)
        }

        /// Lets every waiting and later write through: the gate socket reads end of file from now on.
        func open() {
            let fd = passWriteEnd.exchange(-1, ordering: .relaxed)
            if fd >= 0 { close(fd) }
        }

        /// Waits (bounded) until a write has started; true if one did.
        func waitUntilEntered(timeout: Duration = .seconds(5)) -> Bool {
            var descriptor = pollfd(fd: enteredReadEnd, events: Int16(POLLIN), revents: 0)
            let (seconds, attoseconds) = timeout.components
            let milliseconds = Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
            guard poll(&descriptor, 1, milliseconds) == 1 else { return false }
            var byte: UInt8 = 0
            return read(enteredReadEnd, &byte, 1) == 1
        }

        /// Every event written so far, in order.
        var records: [String] { written.withLock { $0 } }

        fileprivate func enter() {
            var byte: UInt8 = 1
            _ = write(enteredWriteEnd, &byte, 1)
        }

        fileprivate func pass() {
            var byte: UInt8 = 0
            while read(passReadEnd, &byte, 1) < 0 && errno == EINTR {}
        }

        fileprivate func record(_ line: String) {
            written.withLock { $0.append(line) }
        }
    }

    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    var metadataProvider: Logger.MetadataProvider?
    let label: String
    let gate: Gate

    init(label: String, gate: Gate, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.gate = gate
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        gate.enter()
        gate.pass()
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = event.metadata {
            merged.merge(explicit) { _, new in new }
        }
        var line = "\(event.level) \(event.message)"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(value)"
        }
        gate.record(line)
    }
}
