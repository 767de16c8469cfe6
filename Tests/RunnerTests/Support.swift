#if canImport(Glibc)
import Glibc
#endif
import Runner
import Synchronization
import Testing

/// A task and stopper pair that behaves like a well-mannered server: the task runs until its
/// stopper is called, then returns `error` (nil for a clean stop).
final class StoppableTask: Sendable {
    let stop = CancellationToken()
    private let stops = Atomic(0)
    private let error: (any Error & Sendable)?

    init(finishingWith error: (any Error & Sendable)? = nil) {
        self.error = error
    }

    var stopperCalls: Int { stops.load(ordering: .relaxed) }

    func run() async throws {
        await stop.wait()
        if let error { throw error }
    }

    func stopper() {
        stops.add(1, ordering: .relaxed)
        stop.cancel()
    }

    func runner(_ id: String = "task", interruptDuration: Duration = Runner.defaultInterruptDuration) -> Runner {
        Runner(id: id, interruptDuration: interruptDuration, task: { try await self.run() }, stopper: { self.stopper() })
    }
}

/// A task that ignores its stopper until the test releases it, so that nothing lingers after
/// the test. The stopper only counts calls.
final class StubbornTask: Sendable {
    let release = CancellationToken()
    private let stops = Atomic(0)

    var stopperCalls: Int { stops.load(ordering: .relaxed) }

    func runner(_ id: String = "stubborn", interruptDuration: Duration = Runner.defaultInterruptDuration) -> Runner {
        Runner(
            id: id, interruptDuration: interruptDuration,
            task: { await self.release.wait() },
            stopper: { self.stops.add(1, ordering: .relaxed) }
        )
    }
}

struct TestFailure: Error, Equatable {
    let message: String
}

/// The next element of `stream`, or nil if none arrives within `limit`.
func next<Element: Sendable>(_ stream: AsyncStream<Element>, within limit: Duration) async -> Element? {
    await withTaskGroup(of: Element?.self) { group in
        group.addTask {
            var iterator = stream.makeAsyncIterator()
            return await iterator.next()
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// Collects `count` elements from `stream`, giving up after `limit` in all.
func collect<Element: Sendable>(_ count: Int, from stream: AsyncStream<Element>, within limit: Duration) async -> [Element] {
    await withTaskGroup(of: [Element].self) { group in
        group.addTask {
            var elements: [Element] = []
            for await element in stream {
                elements.append(element)
                if elements.count == count { break }
            }
            return elements
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return []
        }
        let first = await group.next() ?? []
        group.cancelAll()
        return first
    }
}

/// Seconds elapsed since `start`, as a Double for readable bounds.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// Held by tests that change the global default durations, and by tests that read them, so
/// that parallel tests never see each other's changes.
let defaultsLock = Mutex(())

/// A thread-safe counter that closures of any kind can share.
final class Counter: Sendable {
    private let value = Atomic(0)
    func increment() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

/// The name of the calling OS thread, as `top -H` shows it (the library names its threads).
func currentThreadName() -> String {
    let fd = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: 32)
    let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return "" }
    return String(decoding: bytes[..<count], as: UTF8.self).trimmingNewline()
}

extension String {
    fileprivate func trimmingNewline() -> String {
        hasSuffix("\n") ? String(dropLast()) : self
    }
}

/// Blocks the calling thread, as a synchronous stopper of a real server might, until `release`
/// is cancelled or `limit` has passed, so that a test that fails never leaves it blocked for good.
func block(until release: CancellationToken, atMost limit: Duration) {
    let deadline = ContinuousClock.now + limit
    while !release.isCancelled && ContinuousClock.now < deadline {
        usleep(1_000)
    }
}

/// Whether `condition` turns true within `limit`, checked every millisecond.
func eventually(within limit: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}
