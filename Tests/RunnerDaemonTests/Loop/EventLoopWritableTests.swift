import Glibc
@testable import RunnerDaemon
import RunnerdTestSupport
import Synchronization
import Testing

/// EventLoop's writability watching, next to its reading: on a real socket pair, each handler
/// runs for its own condition, and stopping one leaves the other in place.
struct EventLoopWritableTests {
    static let loop = EventLoop(name: "test-loop-writable")

    /// Counts of handler calls, touched on the loop and read by the test.
    final class Calls: Sendable {
        let readable = Atomic(0)
        let writable = Atomic(0)
    }

    @Test
    func readingAndWritingWatchersOfOneDescriptorRunEachForItsOwnCondition() async throws {
        var pair: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        let (near, far) = (pair[0], pair[1])
        let calls = Calls()

        // Reading first, then writing: the second watch changes the registration of the same fd.
        await Self.onLoop {
            Self.loop.watch(near) {
                var byte: UInt8 = 0
                _ = read(near, &byte, 1)
                calls.readable.add(1, ordering: .relaxed)
            }
            Self.loop.watchWritable(near) {
                calls.writable.add(1, ordering: .relaxed)
                // A writer stops watching once it has nothing to write; level-triggered otherwise.
                Self.loop.unwatchWritable(near)
            }
        }
        try await Self.waitUntil { calls.writable.load(ordering: .relaxed) == 1 }
        #expect(calls.readable.load(ordering: .relaxed) == 0)

        // The reading watcher is still in place after the writing one left.
        var byte: UInt8 = 7
        #expect(write(far, &byte, 1) == 1)
        try await Self.waitUntil { calls.readable.load(ordering: .relaxed) == 1 }
        #expect(calls.writable.load(ordering: .relaxed) == 1)
        #expect(await Self.onLoop { Self.loop.isWatchedWritable(near) } == false)

        // Writing watched alone once reading stopped: the fd stays registered for it.
        await Self.onLoop {
            Self.loop.unwatch(near)
            Self.loop.watchWritable(near) {
                calls.writable.add(1, ordering: .relaxed)
                Self.loop.unwatchWritable(near)
            }
        }
        try await Self.waitUntil { calls.writable.load(ordering: .relaxed) == 2 }
        #expect(write(far, &byte, 1) == 1)
        // Nothing watches reading any more: a barrier after the loop saw the byte changes nothing.
        await Self.onLoop {}
        #expect(calls.readable.load(ordering: .relaxed) == 1)
    }

    static func onLoop<Value: Sendable>(_ body: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { (done: CheckedContinuation<Value, Never>) in
            loop.execute { done.resume(returning: body()) }
        }
    }

    /// Waits, bounded, until `condition` holds.
    static func waitUntil(timeout: Duration = .seconds(5), _ condition: @Sendable () -> Bool) async throws {
        let deadline = Deadline(after: timeout)
        while !condition() {
            try #require(!deadline.hasPassed, "condition not met within \(timeout)")
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}
