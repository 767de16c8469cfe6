import Glibc
import RunnerdTestSupport
import Testing

/// What a real `runnerd` costs while nothing happens.
@Suite("An idle runnerd")
struct RunnerdIdleTests {
    /// How many times the threads of `pid` have been scheduled onto a CPU (the third field of
    /// each thread's `schedstat`, summed), and each thread's name with its own count.
    private func schedulings(of pid: pid_t) -> (count: Int, threads: [String]) {
        var count = 0
        var threads: [String] = []
        guard let directory = opendir("/proc/\(pid)/task") else { return (0, []) }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard Int(name) != nil else { continue }
            let fields = readFile("/proc/\(pid)/task/\(name)/schedstat").split(separator: " ")
            if fields.count == 3, let runs = Int(fields[2].filter(\.isNumber)) { count += runs }
            threads.append(readFile("/proc/\(pid)/task/\(name)/comm").filter { $0 != "\n" } + " \(fields.count == 3 ? String(fields[2].filter(\.isNumber)) : "?")")
        }
        return (count, threads.sorted())
    }

    @Test func withoutAWatchdogNothingWakesTheDaemon() async throws {
        let receiver = try NotifyReceiver(.path)
        let path = temporaryConfig("groups:\n  g: { services: { s: { command: [sleep, \"1000\"] } } }\n")
        let daemon = try RunnerdProcess(["run", "--config", path], environment: ["NOTIFY_SOCKET": receiver.address])
        let deadline = Deadline(after: .seconds(15))
        while !deadline.hasPassed, try await receiver.receiveAsync(timeout: .seconds(15)).text.contains("READY=1") == false {}
        // Let the start settle: the status line's refresh, which ticks every second while a
        // service starts, runs once more after READY=1. Then watch for 2.5 s: libdispatch's
        // pool monitor alone would wake the process twice in that time.
        try await Task.sleep(for: .milliseconds(1_300))
        let before = schedulings(of: daemon.pid)
        var sent: [String] = []
        let window = Deadline(after: .milliseconds(2_500))
        while !window.hasPassed {
            if let datagram = try? await receiver.receiveAsync(timeout: .milliseconds(Int64(max(1, window.remainingMilliseconds)))) {
                sent.append(datagram.text)
            }
        }
        let after = schedulings(of: daemon.pid)
        #expect(sent.isEmpty, "sent \(sent)")
        #expect(after.count - before.count == 0, "woken \(after.count - before.count) times in 2.5 s; threads \(before.threads) -> \(after.threads)")
        // libdispatch names its pool's threads after their queues' QoS classes.
        #expect(after.threads.allSatisfy { !$0.contains("qos") }, "libdispatch threads: \(after.threads)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }
}
