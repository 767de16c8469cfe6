import Glibc
import RunnerdTestSupport
import Synchronization
import Systemd
import Testing

struct JournalConnectionTests {
    /// journald's receive queue full: more entries than the socket can queue, sent while nothing
    /// reads them. The sender cannot finish while the queue is full; once the receiver reads,
    /// every entry arrives, in order, and no send has failed.
    @Test func entriesBeyondAFullQueueWaitAndArriveInOrder() async throws {
        let receiver = try NotifyReceiver(.path)
        // A datagram socket queues at most this many (one more, in the kernel's counting).
        let capacity = try Self.datagramQueueLength()
        let count = capacity + 40
        let connection = JournalConnection(path: receiver.address)
        let sent = Atomic<Int>(0)
        let sender = Task {
            try await onOwnThread {
                for index in 0..<count {
                    try connection.send([.message("entry \(index)"), .syslogIdentifier("test")])
                    sent.add(1, ordering: .relaxed)
                }
            }
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while sent.load(ordering: .relaxed) < capacity, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(sent.load(ordering: .relaxed) >= capacity)
        // Nothing has been read: the queue cannot hold them all, so the sender is still waiting.
        try await Task.sleep(for: .milliseconds(200))
        #expect(sent.load(ordering: .relaxed) < count)

        for index in 0..<count {
            let fields = try NativeJournalProtocol.decode(receiver.receive(timeout: .seconds(5)).bytes)
            #expect(fields.first == .init(name: "MESSAGE", value: Array("entry \(index)".utf8), binary: false))
        }
        try await sender.value
        #expect(sent.load(ordering: .relaxed) == count)
    }

    /// `net.unix.max_dgram_qlen` of this network namespace: 10 by the kernel's default, 512 where
    /// systemd's sysctl defaults apply.
    static func datagramQueueLength() throws -> Int {
        let path = "/proc/sys/net/unix/max_dgram_qlen"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NativeJournalProtocol.Failure(description: "cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = read(fd, &buffer, buffer.count)
        let text = String(decoding: buffer[..<max(count, 0)], as: UTF8.self)
        guard let length = Int(text.filter { !$0.isWhitespace }) else {
            throw NativeJournalProtocol.Failure(description: "\(path) holds \(String(reflecting: text)), not a number")
        }
        return length
    }
}
