// One measurement of GroupRunner: N runners whose tasks wait for their stoppers. The token is
// cancelled by the last task to start. Prints one line: impl, mode, N, seconds from `run` until
// all N results, and peak RSS in KiB.
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

let token = CancellationToken()
let counter = StartCounter()
let group = GroupRunner(interruptDuration: .seconds(60))
for index in 0..<count {
    let stop = CancellationToken()
    try group.add(Runner(id: "runner-\(index)", interruptDuration: .seconds(60), placement: placement, task: {
        if counter.started.add(1, ordering: .relaxed).newValue == count { token.cancel() }
        await stop.wait()
    }, stopper: { stop.cancel() }))
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
