import Glibc
import RunnerdTestSupport
import Systemd
import Testing

/// NotifyConnection against real Unix datagram sockets: a `NotifyReceiver` stands in for the
/// manager, and a receiver that is never read stands in for a manager that does not keep up.
struct NotifyConnectionTests {
    @Test(arguments: NotifyReceiver.Kind.allCases)
    func sendsOneDatagramToTheAddress(kind: NotifyReceiver.Kind) throws {
        let receiver = try NotifyReceiver(kind)
        let connection = try NotifyConnection(socket: receiver.address)

        #expect(try connection.trySend([.ready, .status("up")]) == .sent)
        #expect(try connection.trySend("STATUS=second") == .sent)

        let first = try receiver.receive(timeout: .seconds(5))
        #expect(first.text == "READY=1\nSTATUS=up")
        #expect(first.senderPID == getpid())
        #expect(try receiver.receive(timeout: .seconds(5)).text == "STATUS=second")
    }

    @Test
    func readsTheAddressFromTheEnvironment() throws {
        let receiver = try NotifyReceiver(.abstract)
        let connection = try #require(try NotifyConnection(environment: ["NOTIFY_SOCKET": receiver.address]))
        #expect(connection.address == receiver.address)
        #expect(try connection.trySend([.stopping]) == .sent)
        #expect(try receiver.receive(timeout: .seconds(5)).text == "STOPPING=1")
    }

    @Test
    func isNilWithoutNotifySocket() throws {
        #expect(try NotifyConnection(environment: ["HOME": "/root"]) == nil)
    }

    @Test(arguments: ["relative/notify", "@", "", String(repeating: "/x", count: 60)])
    func refusesAnAddressSdNotifyWouldRefuse(address: String) {
        #expect(throws: NotifyError.invalidSocketAddress(address)) {
            try NotifyConnection(socket: address)
        }
    }

    @Test
    func reportsTheErrnoWhenNothingIsBoundAtThePath() throws {
        let address = "/tmp/runnerd-tests-absent-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let connection = try NotifyConnection(socket: address)
        #expect(throws: NotifyError.sendFailed(socket: address, code: ENOENT)) {
            try connection.trySend("READY=1")
        }
    }

    @Test
    func reportsWouldBlockAtOnceWhenTheReceiverQueueIsFull() throws {
        let receiver = try NotifyReceiver(.path)
        let connection = try NotifyConnection(socket: receiver.address)
        // Should a send ever block, it then fails after 500 ms (and the timing below with it)
        // instead of hanging the suite.
        var limit = timeval(tv_sec: 0, tv_usec: 500_000)
        try #require(setsockopt(connection.fileDescriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size)) == 0)

        let (queued, slowest) = try fillUntilWouldBlock(connection)

        #expect(queued > 0)
        // A blocking send would wait here until the test read; this one returns at once.
        #expect(slowest < .milliseconds(100), "the slowest send took \(slowest)")
        #expect(try connection.trySend("STATUS=still full") == .wouldBlock)
        #expect(try receiver.receive(timeout: .seconds(5)).text == "STATUS=0")
    }

    @Test
    func becomesWritableAndSendsOnceTheReceiverReads() throws {
        let receiver = try NotifyReceiver(.abstract)
        let connection = try NotifyConnection(socket: receiver.address)
        let (queued, _) = try fillUntilWouldBlock(connection)

        // Full: the kernel does not call the socket writable, so an event loop would sleep.
        #expect(waitWritable(connection.fileDescriptor, milliseconds: 0) == false)

        #expect(try receiver.receive(timeout: .seconds(5)).text == "STATUS=0")
        // Taking datagrams out wakes the sender; the kernel may wait for the queue to drain
        // further before it calls the socket writable, so read until it does, within bounds.
        var read = 1
        while !waitWritable(connection.fileDescriptor, milliseconds: 50) {
            try #require(read < queued, "never writable after reading all \(queued) datagrams")
            _ = try receiver.receive(timeout: .seconds(5))
            read += 1
        }
        #expect(try connection.trySend("STATUS=after") == .sent)
        for _ in read..<queued {
            _ = try receiver.receive(timeout: .seconds(5))
        }
        #expect(try receiver.receive(timeout: .seconds(5)).text == "STATUS=after")
    }

    @Test
    func reconnectsWhenTheManagerSocketIsReplaced() throws {
        var first: NotifyReceiver? = try NotifyReceiver(.abstract)
        let address = first!.address
        let connection = try NotifyConnection(socket: address)
        let descriptor = connection.fileDescriptor
        #expect(try connection.trySend("STATUS=old") == .sent)
        #expect(try first!.receive(timeout: .seconds(5)).text == "STATUS=old")
        first = nil  // the manager's socket goes away, and a new one is bound at the same name

        let second = try NotifyReceiver(address: address)
        #expect(try connection.trySend("STATUS=new") == .sent)
        #expect(try second.receive(timeout: .seconds(5)).text == "STATUS=new")
        #expect(connection.fileDescriptor == descriptor)
    }

    /// Sends `STATUS=0`, `STATUS=1`, … until the receiver's queue is full; returns how many went
    /// out and the longest a single send took.
    private func fillUntilWouldBlock(_ connection: NotifyConnection) throws -> (queued: Int, slowest: Duration) {
        let clock = ContinuousClock()
        var slowest = Duration.zero
        for index in 0..<100_000 {
            let started = clock.now
            let result = try connection.trySend("STATUS=\(index)")
            slowest = max(slowest, clock.now - started)
            if result == .wouldBlock {
                return (index, slowest)
            }
        }
        Issue.record("the receiver's queue never filled")
        return (100_000, slowest)
    }

    /// Whether `fd` is writable within `milliseconds`.
    private func waitWritable(_ fd: Int32, milliseconds: Int32) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while true {
            let ready = poll(&poller, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            return ready > 0 && poller.revents & Int16(POLLOUT) != 0
        }
    }
}
