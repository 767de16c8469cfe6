import Glibc
@testable import RunnerDaemon
import RunnerdTestSupport
import Systemd
import Testing

/// NotifyOutbox with a real event loop and a real notify socket; a socket that is bound and not
/// read stands in for a systemd that does not keep up.
struct NotifyOutboxTests {
    /// One loop for the suite: a loop's thread lives as long as the process.
    static let loop = EventLoop(name: "test-notify-outbox")

    @Test
    func sendsAtOnceWhileSystemdReads() async throws {
        let receiver = try NotifyReceiver(.abstract)
        let log = CollectedLog()
        let outbox = NotifyOutbox(connection: try NotifyConnection(socket: receiver.address), loop: Self.loop, logger: log.logger)

        outbox.post(.ready, .status("up"))
        outbox.post(.status("3/3 ready"))

        #expect(try await receiver.receiveAsync(timeout: .seconds(5)).text == "READY=1\nSTATUS=up")
        #expect(try await receiver.receiveAsync(timeout: .seconds(5)).text == "STATUS=3/3 ready")
        await Self.barrier()
        #expect(outbox.snapshot == NotifyOutbox.Snapshot(pending: 0, blocked: false, dropped: 0, attempts: 2))
        #expect(log.warnings.isEmpty)
    }

    @Test
    func aPostOnTheLoopIsInSystemdsQueueBeforeItReturns() async throws {
        let receiver = try NotifyReceiver(.abstract)
        let log = CollectedLog()
        let outbox = NotifyOutbox(connection: try NotifyConnection(socket: receiver.address), loop: Self.loop, logger: log.logger)

        // What the loop does right after posting (a stop signal, say) comes after the datagram.
        let queuedAtReturn = await Self.onLoop { () -> String? in
            outbox.post(.stopping)
            return try? receiver.receive(timeout: .zero).text
        }
        #expect(queuedAtReturn == "STOPPING=1")
    }

    @Test
    func postsFromAnotherThreadStillWaitingForTheLoopGoOutBeforeALaterPostOnTheLoop() async throws {
        let receiver = try NotifyReceiver(.abstract)
        let log = CollectedLog()
        let outbox = NotifyOutbox(connection: try NotifyConnection(socket: receiver.address), loop: Self.loop, logger: log.logger)

        await Self.onLoop {
            // The loop is busy here, so this post from another thread waits for its next pass...
            Self.runOnNewThread { outbox.post(.status("posted first, elsewhere")) }
            // ...and a post on the loop made after it must not overtake it.
            outbox.post(.ready)
        }
        #expect(try await receiver.receiveAsync(timeout: .seconds(5)).text == "STATUS=posted first, elsewhere")
        #expect(try await receiver.receiveAsync(timeout: .seconds(5)).text == "READY=1")
    }

    @Test
    func aDeafSystemdBlocksNeitherThePosterNorTheLoopAndLosesOnlySupersededStatuses() async throws {
        let receiver = try NotifyReceiver(.path)
        let log = CollectedLog()
        let connection = try NotifyConnection(socket: receiver.address)
        let outbox = NotifyOutbox(connection: connection, loop: Self.loop, logger: log.logger)
        // Another sender fills systemd's queue first, so that every message of the outbox waits.
        let filled = try Self.fillQueue(of: receiver)

        let clock = ContinuousClock()
        var slowestPost = Duration.zero
        func post(_ states: NotifyState...) {
            let started = clock.now
            outbox.post(states)
            slowestPost = max(slowestPost, clock.now - started)
        }
        for index in 0..<5000 { post(.status("status \(index)")) }
        post(.ready)
        post(.watchdog)
        for index in 5000..<9999 { post(.status("status \(index)")) }
        post(.watchdog)
        post(.extendTimeout(.seconds(5)))
        post(.status("status 9999"))
        post(.stopping)

        // The loop still runs other work promptly.
        let roundTrip = try await Self.loopRoundTrip()
        #expect(roundTrip < .milliseconds(100), "the loop took \(roundTrip) to run a closure")
        #expect(slowestPost < .milliseconds(100), "the slowest post took \(slowestPost)")
        let blocked = outbox.snapshot
        #expect(blocked.blocked && blocked.pending == 5 && blocked.dropped == 0)
        #expect(await Self.onLoop { Self.loop.isWatchedWritable(connection.fileDescriptor) })
        let warnings = log.warnings
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.contains("systemd is not reading its notify socket \(receiver.address)") == true)

        // systemd reads again: first what filled its queue, then the outbox's messages, in order.
        for _ in 0..<filled {
            #expect(try await receiver.receiveAsync(timeout: .seconds(5)).text.hasPrefix("X_FILL="))
        }
        var received: [String] = []
        for _ in 0..<5 {
            received.append(try await receiver.receiveAsync(timeout: .seconds(5)).text)
        }
        #expect(received == ["READY=1", "WATCHDOG=1", "EXTEND_TIMEOUT_USEC=5000000", "STATUS=status 9999", "STOPPING=1"])
        #expect(throws: NotifyReceiver.Failure.self) { try receiver.receive(timeout: .milliseconds(200)) }

        _ = try await log.wait { $0.contains("systemd reads its notify socket again") }
        await Self.barrier()
        let drained = outbox.snapshot
        #expect(!drained.blocked && drained.pending == 0 && drained.dropped == 0)
        #expect(await Self.onLoop { Self.loop.isWatchedWritable(connection.fileDescriptor) } == false)
        #expect(log.warnings.count == 1)
    }

    @Test
    func waitsForWritabilityWithoutRetrying() async throws {
        let receiver = try NotifyReceiver(.abstract)
        let log = CollectedLog()
        let outbox = NotifyOutbox(connection: try NotifyConnection(socket: receiver.address), loop: Self.loop, logger: log.logger)
        let filled = try Self.fillQueue(of: receiver)

        outbox.post(.ready)
        await Self.barrier()
        let before = outbox.snapshot
        #expect(before.blocked && before.pending == 1)
        // Nothing changes at the socket: the loop must not try again. The loop is kept busy with
        // other work meanwhile, and any retry in this window would be a poll.
        let window = Deadline(after: .milliseconds(200))
        while !window.hasPassed {
            try await Task.sleep(for: .milliseconds(10))
            await Self.barrier()
        }
        #expect(outbox.snapshot.attempts == before.attempts)

        for _ in 0..<filled { _ = try await receiver.receiveAsync(timeout: .seconds(5)) }
        #expect(try await receiver.receiveAsync(timeout: .seconds(5)).text == "READY=1")
    }

    @Test
    func pastItsBoundTheOutboxDropsTheOldestOrderedMessagesAndSaysSo() async throws {
        let receiver = try NotifyReceiver(.abstract)
        let log = CollectedLog()
        let outbox = NotifyOutbox(
            connection: try NotifyConnection(socket: receiver.address), loop: Self.loop, logger: log.logger, capacity: 3)
        let filled = try Self.fillQueue(of: receiver)
        for index in 1...5 { outbox.post(.custom("X_N", String(index))) }
        await Self.barrier()
        #expect(outbox.snapshot.pending == 3 && outbox.snapshot.dropped == 2)

        for _ in 0..<filled { _ = try await receiver.receiveAsync(timeout: .seconds(5)) }
        var received: [String] = []
        for _ in 0..<3 { received.append(try await receiver.receiveAsync(timeout: .seconds(5)).text) }
        #expect(received == ["X_N=3", "X_N=4", "X_N=5"])
        let lines = try await log.wait { $0.contains("reads its notify socket again") }
        #expect(lines.last?.contains("sent the 3 messages that waited (2 older messages dropped past the limit of 3)") == true)
    }

    @Test
    func aBlockedOutboxDeliversToTheSocketThatReplacedTheDeafOne() async throws {
        let deaf = ReceiverBox(try NotifyReceiver(.abstract))
        let address = deaf.receiver!.address
        let log = CollectedLog()
        let outbox = NotifyOutbox(connection: try NotifyConnection(socket: address), loop: Self.loop, logger: log.logger)
        _ = try Self.fillQueue(of: deaf.receiver!)
        outbox.post(.ready)
        await Self.barrier()
        #expect(outbox.snapshot.blocked)

        // systemd's socket is closed and a new one bound at the same address. Closing wakes the
        // blocked sender, which connects again. The swap runs on the loop, so that the wake-up is
        // handled once the new socket exists: a send in between would be refused, and dropped.
        let fresh = try await Self.onLoop { () -> Result<NotifyReceiver, any Error> in
            deaf.receiver = nil
            return Result { try NotifyReceiver(address: address) }
        }.get()
        outbox.post(.status("after"))
        #expect(try await fresh.receiveAsync(timeout: .seconds(5)).text == "READY=1")
        #expect(try await fresh.receiveAsync(timeout: .seconds(5)).text == "STATUS=after")
        #expect(log.warnings.count == 1)
    }

    @Test
    func flushWaitsBoundedForSystemdToRead() async throws {
        let receiver = try NotifyReceiver(.abstract)
        let log = CollectedLog()
        let outbox = NotifyOutbox(connection: try NotifyConnection(socket: receiver.address), loop: Self.loop, logger: log.logger)
        let filled = try Self.fillQueue(of: receiver)
        outbox.post(.stopping)
        outbox.post(.status("stopped"))

        let clock = ContinuousClock()
        let started = clock.now
        #expect(await outbox.flush(timeout: .milliseconds(100)) == false)
        let waited = clock.now - started
        #expect(waited >= .milliseconds(100) && waited < .seconds(2), "flush took \(waited)")
        #expect(outbox.pendingCount == 2)
        #expect(log.warnings.contains { $0.contains("2 messages were not delivered") })

        // Reading on another thread while the flush waits: the flush ends as soon as it drained.
        async let reader: [String] = onOwnThread {
            try (0..<(filled + 2)).map { _ in try receiver.receive(timeout: .seconds(5)).text }
        }
        #expect(await outbox.flush(timeout: .seconds(10)) == true)
        #expect(try await reader.suffix(2) == ["STOPPING=1", "STATUS=stopped"])
        #expect(outbox.pendingCount == 0)
    }

    @Test
    func withoutNotifySocketEverythingIsANoOp() async throws {
        let log = CollectedLog()
        let outbox = NotifyOutbox(environment: ["HOME": "/root"], loop: Self.loop, logger: log.logger)
        #expect(!outbox.isEnabled)
        outbox.post(.ready)
        outbox.post(.status("up"))
        await Self.barrier()
        #expect(outbox.snapshot == NotifyOutbox.Snapshot(pending: 0, blocked: false, dropped: 0, attempts: 0))
        #expect(await outbox.flush(timeout: .seconds(1)) == true)
        #expect(log.lines.isEmpty)
    }

    @Test
    func aRefusedMessageIsDroppedAndLoggedOncePerInterval() async throws {
        let log = CollectedLog()
        let address = "/tmp/runnerd-tests-absent-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let outbox = NotifyOutbox(connection: try NotifyConnection(socket: address), loop: Self.loop, logger: log.logger)
        for _ in 0..<100 { outbox.post(.status("nobody listens")) }
        outbox.post(.ready)
        await Self.barrier()
        let snapshot = outbox.snapshot
        #expect(snapshot.pending == 0 && !snapshot.blocked && snapshot.attempts == 101)
        #expect(log.warnings.count == 1)
        #expect(log.warnings.first?.contains("No such file or directory") == true)
    }

    @Test
    func anUnencodableValueIsLoggedAndNothingIsQueued() async throws {
        let receiver = try NotifyReceiver(.abstract)
        let log = CollectedLog()
        let outbox = NotifyOutbox(connection: try NotifyConnection(socket: receiver.address), loop: Self.loop, logger: log.logger)
        outbox.post(.status("two\nlines"))
        outbox.post(.ready)
        #expect(try await receiver.receiveAsync(timeout: .seconds(5)).text == "READY=1")
        #expect(log.warnings.count == 1)
        #expect(log.warnings.first?.contains("contains a newline") == true)
    }

    // MARK: - Helpers

    /// A receiver that a closure on the loop can close.
    final class ReceiverBox: @unchecked Sendable {
        // @unchecked: the test hands it to the loop and touches it again only after that ran.
        var receiver: NotifyReceiver?
        init(_ receiver: NotifyReceiver) { self.receiver = receiver }
    }

    struct QueueNeverFilled: Error {
        let address: String
    }

    /// Returns once the loop has run everything handed to it before this call.
    static func barrier() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            loop.execute { done.resume() }
        }
    }

    /// Runs `body` on the loop and returns its result.
    static func onLoop<Value: Sendable>(_ body: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { (done: CheckedContinuation<Value, Never>) in
            loop.execute { done.resume(returning: body()) }
        }
    }

    /// Runs `body` on a new thread and waits for it to finish.
    static func runOnNewThread(_ body: @escaping @Sendable () -> Void) {
        final class Box: @unchecked Sendable {
            // @unchecked: handed to exactly one thread, which runs it once.
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
        precondition(status == 0, "pthread_create failed: \(status)")
        pthread_join(thread, nil)
    }

    /// How long the loop takes to run a closure handed to it now.
    static func loopRoundTrip() async throws -> Duration {
        let clock = ContinuousClock()
        let started = clock.now
        await barrier()
        return clock.now - started
    }

    /// Sends `X_FILL=n` datagrams to `receiver` from a socket of its own until the receiver's
    /// queue is full; returns how many it queued.
    static func fillQueue(of receiver: NotifyReceiver) throws -> Int {
        let filler = try NotifyConnection(socket: receiver.address)
        for index in 0..<100_000 where try filler.trySend("X_FILL=\(index)") == .wouldBlock {
            return index
        }
        throw QueueNeverFilled(address: receiver.address)
    }
}
