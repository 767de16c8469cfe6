// One measurement of GroupRunner: N runners whose tasks wait for their stoppers. The token is
// cancelled by the last task to start. Prints one line: impl, mode, N, seconds from `run` until
// all N results, and peak RSS in KiB.
//
// Each task suspends on one continuation that its stopper resumes: the same wait as each of
// TaskFloorBench's tasks, and what a hand-written runner needs. (Until 2026-12-08 each task
// awaited a CancellationToken of its own, which added a token, its registration list and a
// cancellation handler per runner: the benchmark's shape, not GroupRunner's cost.)
//
// usage: GroupRunnerBench N [elastic|cooperative]
import Glibc
import Runner
import Synchronization

let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 10_000
let placement: TaskPlacement = CommandLine.arguments.dropFirst(2).first == "cooperative" ? .cooperative : .elastic

final class StartCounter: Sendable {
    let started = Atomic(0)
}

/// A task's wait for its stopper: the task suspends on a continuation, the stopper resumes it.
final class StopSignal: Sendable {
    private enum State {
        case running
        case waiting(UnsafeContinuation<Void, Never>)
        case stopped
    }

    private let state = Mutex(State.running)

    func wait() async {
        await withUnsafeContinuation { continuation in
            let stopped = state.withLock { state -> Bool in
                if case .stopped = state { return true }
                state = .waiting(continuation)
                return false
            }
            if stopped { continuation.resume() }
        }
    }

    func stop() {
        let waiter = state.withLock { state -> UnsafeContinuation<Void, Never>? in
            defer { state = .stopped }
            if case .waiting(let continuation) = state { return continuation }
            return nil
        }
        waiter?.resume()
    }
}

let token = CancellationToken()
let counter = StartCounter()
let group = GroupRunner(interruptDuration: .seconds(60))
for index in 0..<count {
    let stop = StopSignal()
    try group.add(Runner(id: "runner-\(index)", interruptDuration: .seconds(60), placement: placement, task: {
        if counter.started.add(1, ordering: .relaxed).newValue == count { token.cancel() }
        await stop.wait()
    }, stopper: { stop.stop() }))
}

let clock = ContinuousClock()
let start = clock.now
let results = try await group.run(token)
let elapsed = clock.now - start
precondition(results.count == count && results.allSatisfy { $0.error == nil }, "bad results")

var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("GroupRunner \(placement) \(count) \(seconds) \(usage.ru_maxrss)")
