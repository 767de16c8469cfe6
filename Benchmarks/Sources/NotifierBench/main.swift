// How much one notification costs, so that runnerd can send one on every state change.
//
// A receiver thread drains a real abstract Unix datagram socket while the main thread sends
// `iterations` notifications five ways, interleaved over several rounds so that all four see the
// same machine state. The report is each way's median time per send and its ratio to a bare
// sendto() on a socket kept open, the floor for any datagram notifier.
//
//   NotifierBench [iterations=100000] [rounds=5]

import Glibc
import Synchronization
import Systemd

enum Drain {
    static let received = Atomic<Int>(0)
    static let stop = Array("X_BENCH=stop".utf8)

    /// Receives until the stop datagram; a Unix datagram socket queues only a few messages, so
    /// without this the sender would block.
    static func run(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count < 0 { continue }
            if count == stop.count && Array(buffer[..<count]) == stop { return }
            received.add(1, ordering: .relaxed)
        }
    }
}

func bind(abstract name: String) -> (fd: Int32, address: sockaddr_un, length: socklen_t) {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var storage = sockaddr_un()
    storage.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(name.utf8)
    withUnsafeMutableBytes(of: &storage.sun_path) {
        $0.copyBytes(from: bytes)
        $0[0] = 0
    }
    let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
    let bound = withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    precondition(fd >= 0 && bound == 0, "cannot bind \(name): errno \(errno)")
    return (fd, storage, length)
}

func benchmark(iterations: Int, rounds: Int) throws {
    let name = "@runnerd-notifier-bench-\(getpid())"
    let (receiver, address, length) = bind(abstract: name)

    // The default Notifier reads NOTIFY_SOCKET from the environment. Setting it is safe here,
    // before any other thread exists; the daemon itself never does this.
    setenv("NOTIFY_SOCKET", name, 1)

    var drainThread = pthread_t()
    pthread_create(&drainThread, nil, { argument in
        Drain.run(Int32(Int(bitPattern: argument)))
        return nil
    }, UnsafeMutableRawPointer(bitPattern: Int(receiver)))

    let defaultNotifier = Notifier()
    let explicitNotifier = Notifier(socket: name)
    let combined: [NotifyState] = [.status("3 groups, 7/7 services ready"), .watchdog]
    let sender = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    let watchdogBytes = Array("WATCHDOG=1".utf8)
    var target = address
    let connection = try NotifyConnection(socket: name)
    let watchdogDatagram = try Notifier.datagram([.watchdog])

    let variants: [(name: String, send: () throws -> Void)] = [
        ("bare sendto, socket kept open (floor)", {
            _ = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(sender, watchdogBytes, watchdogBytes.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }),
        ("Notifier() .watchdog (sd_notify)", { try defaultNotifier.send(.watchdog) }),
        ("Notifier(socket:) .watchdog", { try explicitNotifier.send(.watchdog) }),
        ("Notifier() .status + .watchdog (sd_notify)", { try defaultNotifier.send(combined) }),
        // What NotifyOutbox does per message: a non-blocking send on the socket kept open; on a
        // full queue it waits for writability (here with poll, in runnerd on its event loop).
        ("NotifyConnection.trySend .watchdog", {
            while try connection.trySend(watchdogDatagram) == .wouldBlock {
                var poller = pollfd(fd: connection.fileDescriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&poller, 1, -1)
            }
        }),
    ]

    var samples = Array(repeating: [Double](), count: variants.count)
    let clock = ContinuousClock()
    for _ in 0..<rounds {
        for (index, variant) in variants.enumerated() {
            let elapsed = try clock.measure {
                for _ in 0..<iterations {
                    try variant.send()
                }
            }
            let (seconds, attoseconds) = elapsed.components
            samples[index].append((Double(seconds) * 1e9 + Double(attoseconds) / 1e9) / Double(iterations))
        }
    }

    try explicitNotifier.send(.custom("X_BENCH", "stop"))
    pthread_join(drainThread, nil)
    let expected = rounds * iterations * variants.count
    let got = Drain.received.load(ordering: .relaxed)
    precondition(got == expected, "received \(got) of \(expected) datagrams")

    func median(_ values: [Double]) -> Double {
        values.sorted()[values.count / 2]
    }
    let floor = median(samples[0])
    print("\(iterations) sends x \(rounds) rounds; median ns per send; all \(expected) datagrams received")
    for (index, variant) in variants.enumerated() {
        let value = median(samples[index])
        let label = variant.name + String(repeating: " ", count: max(0, 44 - variant.name.count))
        print("\(label) \(Int(value.rounded())) ns  x\(Double(Int((value / floor * 10).rounded())) / 10)")
    }
}

let arguments = CommandLine.arguments
try benchmark(
    iterations: arguments.count > 1 ? Int(arguments[1])! : 100_000,
    rounds: arguments.count > 2 ? Int(arguments[2])! : 5)
