import Glibc
import Logging
import RunnerdTestSupport
import Synchronization
import Systemd
import Testing

/// `LogQueue` and `QueuedLogHandler`: log calls that never wait for a stalled destination, a
/// bounded backlog, the dropped-lines report, metadata read at the call, a bounded flush, and a
/// writer that sleeps while idle.
struct LogQueueTests {
    static let stall = "the test destination was blocked"

    static func logger(_ queue: LogQueue, _ gate: GatedLogHandler.Gate, provider: Logger.MetadataProvider? = nil) -> Logger {
        Logger(label: "test") { label in
            QueuedLogHandler(wrapping: GatedLogHandler(label: label, gate: gate, metadataProvider: provider), queue: queue)
        }
    }

    @Test func tenThousandCallsReturnAtOnceWhileTheDestinationIsBlockedAndTheOverflowIsCounted() throws {
        let gate = GatedLogHandler.Gate()
        let queue = LogQueue(capacity: 100, stallDescription: Self.stall)
        let logger = Self.logger(queue, gate)
        logger.info("first")
        // The writer holds "first" and is stuck in the destination: 99 places are left.
        #expect(gate.waitUntilEntered())

        let start = ContinuousClock.now
        for index in 0..<10_000 {
            logger.info("line \(index)")
        }
        let took = ContinuousClock.now - start
        #expect(took < .seconds(2), "10,000 log calls took \(took) with the destination blocked")
        #expect(queue.droppedCount == 10_000 - 99)
        #expect(gate.records.isEmpty)

        gate.open()
        #expect(queue.flush(timeout: .seconds(10)))
        let expected = ["info first"] + (0..<99).map { "info line \($0)" } + ["warning dropped 9901 log lines while \(Self.stall)"]
        #expect(gate.records == expected)
    }

    @Test func linesLoggedOnceTheDestinationReadsAgainFollowTheDroppedReport() {
        let gate = GatedLogHandler.Gate()
        let queue = LogQueue(capacity: 3, stallDescription: Self.stall)
        let logger = Self.logger(queue, gate)
        logger.info("first")
        #expect(gate.waitUntilEntered())
        for name in ["a", "b", "c", "d"] {
            logger.notice("\(name)")
        }
        #expect(queue.droppedCount == 2)

        gate.open()
        #expect(queue.flush(timeout: .seconds(10)))
        logger.info("after")
        logger.info("one more")
        #expect(queue.flush(timeout: .seconds(10)))
        #expect(gate.records == [
            "info first", "notice a", "notice b", "warning dropped 2 log lines while \(Self.stall)",
            "info after", "info one more",
        ])
    }

    @Test func aSingleDroppedLineIsReportedInTheSingular() {
        let gate = GatedLogHandler.Gate()
        let queue = LogQueue(capacity: 1, stallDescription: Self.stall)
        let logger = Self.logger(queue, gate)
        logger.info("first")
        #expect(gate.waitUntilEntered())
        logger.info("lost")
        gate.open()
        #expect(queue.flush(timeout: .seconds(10)))
        #expect(gate.records == ["info first", "warning dropped 1 log line while \(Self.stall)"])
    }

    @TaskLocal static var requestID: String?

    @Test func metadataProvidersAreReadAtTheCallNotOnTheWriterThread() {
        let gate = GatedLogHandler.Gate()
        let queue = LogQueue(capacity: 10, stallDescription: Self.stall)
        let provider = Logger.MetadataProvider {
            var provided: Logger.Metadata = ["source": "provider", "shared": "provider"]
            if let id = LogQueueTests.requestID { provided["request"] = .string(id) }
            return provided
        }
        var logger = Self.logger(queue, gate, provider: provider)
        logger[metadataKey: "shared"] = "handler"
        logger[metadataKey: "own"] = "handler"
        // Queued while the destination is blocked, so the writer handles it well after the call.
        Self.$requestID.withValue("r-1") {
            logger.info("in a request", metadata: ["call": "yes"])
        }
        Self.$requestID.withValue("r-2") {
            logger.info("in another", metadata: ["source": "call"])
        }
        gate.open()
        #expect(queue.flush(timeout: .seconds(10)))
        // Precedence as for the wrapped handler alone: handler, then provider, then the call.
        #expect(gate.records == [
            "info in a request call=yes own=handler request=r-1 shared=provider source=provider",
            "info in another own=handler request=r-2 shared=provider source=call",
        ])
    }

    @Test func theWrappedHandlersProviderMovesToTheQueuedHandler() {
        let provider = Logger.MetadataProvider { ["k": "v"] }
        let handler = QueuedLogHandler(
            wrapping: GatedLogHandler(label: "x", gate: GatedLogHandler.Gate(open: true), metadataProvider: provider),
            queue: LogQueue(stallDescription: Self.stall))
        #expect(handler.metadataProvider?.get() == ["k": "v"])
        #expect(handler.wrapped.metadataProvider == nil)
    }

    @Test func flushGivesUpAtItsTimeoutWhileTheDestinationStaysBlockedAndSucceedsOnceItReads() {
        let gate = GatedLogHandler.Gate()
        let queue = LogQueue(capacity: 10, stallDescription: Self.stall)
        let logger = Self.logger(queue, gate)
        for index in 0..<5 {
            logger.info("line \(index)")
        }
        let start = ContinuousClock.now
        #expect(!queue.flush(timeout: .milliseconds(200)))
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(200) && took < .seconds(2), "flush returned after \(took)")
        #expect(gate.records.isEmpty)

        gate.open()
        // Everything is written by the time flush returns: no polling needed.
        #expect(queue.flush(timeout: .seconds(10)))
        #expect(gate.records == (0..<5).map { "info line \($0)" })
    }

    @Test func flushOwesTheDroppedReportToo() {
        let gate = GatedLogHandler.Gate()
        let queue = LogQueue(capacity: 2, stallDescription: Self.stall)
        let logger = Self.logger(queue, gate)
        for index in 0..<5 {
            logger.info("line \(index)")
        }
        #expect(queue.droppedCount == 3)
        gate.open()
        #expect(queue.flush(timeout: .seconds(10)))
        #expect(gate.records == ["info line 0", "info line 1", "warning dropped 3 log lines while \(Self.stall)"])
    }

    @Test func flushWithNothingQueuedReturnsAtOnce() {
        let queue = LogQueue(capacity: 10, stallDescription: Self.stall)
        let start = ContinuousClock.now
        #expect(queue.flush(timeout: .seconds(5)))
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test func logsFromManyThreadsKeepEachThreadsOrderAndLoseNothingWithinCapacity() async throws {
        let gate = GatedLogHandler.Gate(open: true)
        let queue = LogQueue(capacity: 4000, stallDescription: Self.stall)
        let logger = Self.logger(queue, gate)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for thread in 0..<4 {
                group.addTask {
                    try await onOwnThread {
                        for index in 0..<1000 {
                            logger.info("t\(thread) \(index)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(queue.flush(timeout: .seconds(10)))
        let records = gate.records
        #expect(records.count == 4000 && queue.droppedCount == 0)
        for thread in 0..<4 {
            #expect(records.filter { $0.hasPrefix("info t\(thread) ") } == (0..<1000).map { "info t\(thread) \($0)" })
        }
    }

    @Test func anIdleWriterIsNeverWoken() throws {
        let gate = GatedLogHandler.Gate(open: true)
        let queue = LogQueue(capacity: 10, stallDescription: Self.stall, threadName: "lq-idle-test")
        let logger = Self.logger(queue, gate)
        logger.info("one line, so that the writer has run")
        #expect(queue.flush(timeout: .seconds(5)))
        let thread = try #require(threadID(named: "lq-idle-test"))
        // The writer may still be on its way back to its condition variable; once it sleeps
        // there, only new work can wake it.
        let deadline = Deadline(after: .seconds(5))
        while threadState(thread) != "S" && !deadline.hasPassed {
            usleep(1_000)
        }
        #expect(threadState(thread) == "S")
        let before = try #require(contextSwitches(ofThread: thread))
        // A measuring window, not a wait for something to happen: an idle writer that polled
        // or used timed waits would switch at least once in it.
        usleep(700_000)
        let after = try #require(contextSwitches(ofThread: thread))
        #expect(after == before, "the idle writer was switched \(after - before) times in 0.7 s")
        withExtendedLifetime(logger) {}
    }

    @Test func aReleasedQueueWritesWhatIsLeftAndEndsItsThread() throws {
        let gate = GatedLogHandler.Gate()
        do {
            let queue = LogQueue(capacity: 10, stallDescription: Self.stall, threadName: "lq-end-test")
            let logger = Self.logger(queue, gate)
            logger.info("last words")
            #expect(gate.waitUntilEntered())
            #expect(threadID(named: "lq-end-test") != nil)
        }
        gate.open()
        let deadline = Deadline(after: .seconds(5))
        while threadID(named: "lq-end-test") != nil && !deadline.hasPassed {
            usleep(5_000)
        }
        #expect(threadID(named: "lq-end-test") == nil)
        #expect(gate.records == ["info last words"])
    }

    @Test func aRealStreamNobodyReadsDoesNotBlockTheCallerAndTheCountArrivesOnceItIsRead() throws {
        var ends: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        try #require(socketpair(AF_UNIX, type, 0, &ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        var small: Int32 = 4096
        setsockopt(ends[1], SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))

        let queue = LogQueue(capacity: 50, destination: .terminal)
        let logger = Logger(label: "stall") { label in
            QueuedLogHandler(wrapping: TerminalLogHandler(label: label, fileDescriptor: ends[1], showsTimestamps: false), queue: queue)
        }
        let start = ContinuousClock.now
        for index in 0..<10_000 {
            logger.info("a line long enough that a few dozen of them fill the socket's small buffer: \(index)")
        }
        #expect(ContinuousClock.now - start < .seconds(2))
        let dropped = queue.droppedCount
        #expect(dropped > 9_000)
        #expect(!queue.flush(timeout: .milliseconds(100)))

        // Read until every dropped line has been reported; the writer gets through once the
        // socket drains. Lines were dropped in one or more runs, each reported where it ended.
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Deadline(after: .seconds(10))
        while reportedDrops(in: received) < dropped && !deadline.hasPassed {
            var descriptor = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, deadline.remainingMilliseconds) == 1 else { break }
            let count = read(ends[0], &buffer, buffer.count)
            if count <= 0 { break }
            received += buffer[..<count]
        }
        #expect(queue.flush(timeout: .seconds(5)))
        let text = String(decoding: received, as: UTF8.self)
        #expect(reportedDrops(in: received) == dropped, "\(text.suffix(500))")
        #expect(text.hasPrefix("info stall: a line long enough that a few dozen of them fill the socket's small buffer: 0\n"))
        let kept = text.split(separator: "\n").filter { $0.hasPrefix("info ") }.compactMap { Int($0.split(separator: " ").last!) }
        #expect(kept.count == 10_000 - dropped)
        #expect(kept == kept.sorted())
    }

    @Test func theStallIsNamedAfterTheDestination() {
        #expect(LogQueue(destination: .journal).stallDescription == "journald was not reading")
        #expect(LogQueue(destination: .terminal).stallDescription == "standard error was not being read")
        #expect(LogQueue(destination: .priorityPrefixedStandardError).stallDescription == "standard error was not being read")
        #expect(LogQueue().capacity == 1000)
    }

    @Test func theJournalFactoryWrapsEveryHandlerWhenGivenAQueue() {
        let queue = LogQueue(capacity: 5, destination: .terminal)
        let queued = Journal.handlerFactory(destination: .terminal, logLevel: .notice, queue: queue)("label")
        let handler = queued as? QueuedLogHandler
        #expect(handler?.queue === queue)
        #expect(handler?.wrapped is TerminalLogHandler)
        #expect(handler?.logLevel == .notice)
        #expect(Journal.handlerFactory(destination: .terminal)("label") is TerminalLogHandler)
    }
}

/// The total N of every `warning stall: dropped N log lines while standard error was not being
/// read` line in `bytes`.
private func reportedDrops(in bytes: [UInt8]) -> Int {
    var total = 0
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n")
    where line.hasPrefix("warning stall: dropped ") && line.hasSuffix(" while standard error was not being read") {
        total += Int(line.split(separator: " ")[3]) ?? 0
    }
    return total
}

/// The state letter of thread `tid` of this process (`R`, `S`, ...), from its stat file.
private func threadState(_ tid: Int32) -> Substring? {
    let stat = readSmallFile("/proc/self/task/\(tid)/stat")
    guard let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ").first
}

/// The kernel's id of this process's thread named `name`, from /proc/self/task/*/comm.
private func threadID(named name: String) -> Int32? {
    guard let directory = opendir("/proc/self/task") else { return nil }
    defer { closedir(directory) }
    while let entry = readdir(directory) {
        let id = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let tid = Int32(id) else { continue }
        if readSmallFile("/proc/self/task/\(tid)/comm") == name + "\n" { return tid }
    }
    return nil
}

/// Voluntary plus involuntary context switches of thread `tid` of this process so far.
private func contextSwitches(ofThread tid: Int32) -> Int? {
    let status = readSmallFile("/proc/self/task/\(tid)/status")
    var total = 0
    var found = 0
    for line in status.split(separator: "\n") {
        if line.hasPrefix("voluntary_ctxt_switches:") || line.hasPrefix("nonvoluntary_ctxt_switches:") {
            guard let value = Int(line.split(separator: "\t").last ?? "") else { return nil }
            total += value
            found += 1
        }
    }
    return found == 2 ? total : nil
}

private func readSmallFile(_ path: String) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
