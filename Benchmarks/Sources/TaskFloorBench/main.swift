// The floor under any design with one Swift task per runner: N bare unstructured tasks, each
// suspended on a continuation until the last one has started, then all resumed; measured from
// the first task's creation until all N have finished. Prints one line in the same format as
// GroupRunnerBench: impl, mode, N, seconds, peak RSS in KiB.
//
// usage: TaskFloorBench N
import Glibc
import Synchronization

let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 10_000

final class Floor: Sendable {
    let waiting = Mutex<[UnsafeContinuation<Void, Never>]>([])
    let finished = Atomic(0)
    let done = AsyncStream<Void>.makeStream()
}

let floor = Floor()
floor.waiting.withLock { $0.reserveCapacity(count) }
let clock = ContinuousClock()
let start = clock.now
for _ in 0..<count {
    Task {
        await withUnsafeContinuation { continuation in
            let all = floor.waiting.withLock { waiting -> [UnsafeContinuation<Void, Never>]? in
                waiting.append(continuation)
                return waiting.count == count ? waiting : nil
            }
            for waiter in all ?? [] { waiter.resume() }
        }
        if floor.finished.add(1, ordering: .relaxed).newValue == count { floor.done.continuation.yield() }
    }
}
for await _ in floor.done.stream { break }
let elapsed = clock.now - start

var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("SwiftTasks floor \(count) \(seconds) \(usage.ru_maxrss)")
