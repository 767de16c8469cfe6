// The same shape with swift-service-lifecycle's ServiceGroup: N services awaiting
// gracefulShutdown(), and triggerGracefulShutdown() once all have started. Prints one line:
// impl, mode, N, seconds from `run` until it returned, and peak RSS in KiB.
//
// usage: ServiceGroupBench N
import Glibc
import Logging
import ServiceLifecycle
import Synchronization

let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 10_000

final class StartCounter: Sendable {
    let started = Atomic(0)
    let allStarted = AsyncStream<Void>.makeStream()
}

struct WaitingService: Service {
    let counter: StartCounter
    let total: Int

    func run() async throws {
        if counter.started.add(1, ordering: .relaxed).newValue == total { counter.allStarted.continuation.yield() }
        try? await gracefulShutdown()
    }
}

let counter = StartCounter()
let services = (0..<count).map { _ in WaitingService(counter: counter, total: count) }
var logger = Logger(label: "bench")
logger.logLevel = .critical
let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))

let clock = ContinuousClock()
let start = clock.now
try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await group.run() }
    tasks.addTask {
        for await _ in counter.allStarted.stream { break }
        await group.triggerGracefulShutdown()
    }
    try await tasks.waitForAll()
}
let elapsed = clock.now - start

var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("ServiceGroup default \(count) \(seconds) \(usage.ru_maxrss)")
