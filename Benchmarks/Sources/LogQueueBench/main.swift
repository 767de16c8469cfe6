// What one log call costs the caller through a LogQueue, against the same handler called
// directly, so that runnerd can queue every one of its own lines (issue 13, bug 5).
//
// The handler is the TerminalLogHandler runnerd uses off journald (with timestamps), writing to
// /dev/null: the destination costs one write(2) and never stalls, the floor for the direct call.
// Three shapes, interleaved over several rounds so that both ways see the same machine state:
//   burst:    `iterations` calls back to back (queue large enough to keep them all), ns per call
//             as the caller sees it; for the queue also until the writer has written them all;
//   isolated: 2,000 calls, each after a 200 µs pause, so that the queue's writer is asleep and
//             every call has to wake it: the latency of a lone log line, median and 99th percentile;
//   stalled:  `iterations` calls into a full queue whose writer is stuck in a destination that
//             never returns: each call is dropped and counted (a direct call would block for good).
//
//   LogQueueBench [iterations=100000] [rounds=5]

import Glibc
import Logging
import Synchronization
import Systemd

/// A destination that never takes its first line: the write blocks for good in read(2) on a
/// socket nobody writes to, as a write to a journald that was SIGSTOPped would.
struct StuckHandler: LogHandler {
    final class Gate: Sendable {
        let entered = Atomic(false)
        let fd: Int32

        init() {
            var ends: [Int32] = [-1, -1]
            precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0)
            fd = ends[0]
        }
    }

    let gate: Gate
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        gate.entered.store(true, ordering: .releasing)
        var byte: UInt8 = 0
        _ = read(gate.fd, &byte, 1)
    }
}

let arguments = CommandLine.arguments
let iterations = arguments.count > 1 ? Int(arguments[1]) ?? 100_000 : 100_000
let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
precondition(devNull >= 0, "cannot open /dev/null")

func now() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

func direct(fd: Int32) -> Logger {
    Logger(label: "bench") { TerminalLogHandler(label: $0, fileDescriptor: fd) }
}

func queued(fd: Int32, queue: LogQueue) -> Logger {
    Logger(label: "bench") { QueuedLogHandler(wrapping: TerminalLogHandler(label: $0, fileDescriptor: fd), queue: queue) }
}

/// ns per call for `count` calls back to back.
func burst(_ logger: Logger, count: Int) -> Double {
    let start = now()
    for index in 0..<count {
        logger.info("group web: service api started (pid \(index))")
    }
    return Double(now() - start) / Double(count)
}

/// Each call's latency in ns, 200 µs apart.
func isolated(_ logger: Logger, count: Int) -> [UInt64] {
    var latencies: [UInt64] = []
    latencies.reserveCapacity(count)
    for index in 0..<count {
        usleep(200)
        let start = now()
        logger.info("group web: service api started (pid \(index))")
        latencies.append(now() - start)
    }
    return latencies.sorted()
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

var burstDirect: [Double] = []
var burstQueued: [Double] = []
var burstQueuedWritten: [Double] = []
var isolatedDirect: [UInt64] = []
var isolatedQueued: [UInt64] = []
var stalledQueued: [Double] = []

for _ in 0..<rounds {
    burstDirect.append(burst(direct(fd: devNull), count: iterations))

    do {
        let queue = LogQueue(capacity: iterations, stallDescription: "bench")
        let start = now()
        burstQueued.append(burst(queued(fd: devNull, queue: queue), count: iterations))
        precondition(queue.flush(timeout: .seconds(60)) && queue.droppedCount == 0)
        burstQueuedWritten.append(Double(now() - start) / Double(iterations))
    }

    isolatedDirect += isolated(direct(fd: devNull), count: 2000)
    do {
        let queue = LogQueue(capacity: 1000, stallDescription: "bench")
        isolatedQueued += isolated(queued(fd: devNull, queue: queue), count: 2000)
        precondition(queue.flush(timeout: .seconds(60)))
    }
}

for _ in 0..<rounds {
    let stuck = StuckHandler.Gate()
    let queue = LogQueue(capacity: 1000, stallDescription: "bench")
    let logger = Logger(label: "bench") { _ in QueuedLogHandler(wrapping: StuckHandler(gate: stuck), queue: queue) }
    // The writer takes the first line and gets stuck; 999 more fill the queue. Every measured
    // call after that is dropped.
    logger.info("the line the writer gets stuck on")
    while !stuck.entered.load(ordering: .acquiring) { sched_yield() }
    for _ in 0..<999 { logger.info("filling the queue") }
    precondition(queue.droppedCount == 0, "the queue was not filled as planned")
    stalledQueued.append(burst(logger, count: iterations))
    precondition(queue.droppedCount == iterations, "some measured calls were queued")
    // The writer stays stuck; the process exits with it.
}

isolatedDirect.sort()
isolatedQueued.sort()
func percentile(_ values: [UInt64], _ p: Double) -> Double { Double(values[Int(Double(values.count - 1) * p)]) }

let floor = median(burstDirect)
print("LogQueueBench: \(iterations) calls per burst, \(rounds) rounds; TerminalLogHandler to /dev/null")
print("| shape | way | ns per call, median of rounds | ÷ direct burst |")
print("|---|---|---|---|")
func twoDecimals(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
func row(_ shape: String, _ way: String, _ value: Double) {
    print("| \(shape) | \(way) | \(String(Int(value.rounded()))) | \(twoDecimals(value / floor))× |")
}
func rowP(_ shape: String, _ way: String, _ values: [UInt64]) {
    let p50 = percentile(values, 0.5), p99 = percentile(values, 0.99)
    print("| \(shape) | \(way) | \(Int(p50)) (p99 \(Int(p99))) | \(twoDecimals(p50 / floor))× |")
}
row("burst", "direct", floor)
row("burst", "queued (caller)", median(burstQueued))
row("burst", "queued (until written)", median(burstQueuedWritten))
rowP("isolated, 200 µs apart", "direct", isolatedDirect)
rowP("isolated, 200 µs apart", "queued (caller, wakes the writer)", isolatedQueued)
row("stalled destination", "queued (dropped and counted)", median(stalledQueued))
print("| stalled destination | direct | blocks for good | – |")
