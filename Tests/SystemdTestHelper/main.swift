// A fixture program for SystemdTests. The tests run it as a child process whenever the code
// under test reads the real process environment or a fixed path, which the threaded test process
// must not change: sd_notify's NOTIFY_SOCKET, sd_watchdog_enabled's WATCHDOG_*, socket
// activation's LISTEN_*, the environ snapshot, and journald's /run/systemd/journal/socket.
//
// Every mode prints plain lines on stdout for the test to parse; see each function.

import Glibc
import Logging
import Systemd

func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
}

func unhex(_ text: Substring) -> [UInt8] {
    func nibble(_ c: UInt8) -> UInt8 {
        c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : c - UInt8(ascii: "a") + 10
    }
    let chars = Array(text.utf8)
    return stride(from: 0, to: chars.count - 1, by: 2).map { nibble(chars[$0]) << 4 | nibble(chars[$0 + 1]) }
}

func fail(_ message: String) -> Never {
    let line = "SystemdTestHelper: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

/// `notify SPEC...`: sends the states through `Notifier()` (sd_notify, reading NOTIFY_SOCKET
/// from this process's environment). Prints `pid N`, then `sent`, `noop`, or the error as
/// `invalid-socket-address`, `send-failed ERRNO` or `refused DESCRIPTION`.
func notify(_ specs: ArraySlice<String>) {
    print("pid \(getpid())")
    var states: [NotifyState] = []
    for spec in specs {
        let parts = spec.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let value = parts.count > 1 ? String(parts[1]) : ""
        switch parts[0] {
        case "ready": states.append(.ready)
        case "reloading": states.append(.reloading)
        case "stopping": states.append(.stopping)
        case "watchdog": states.append(.watchdog)
        case "watchdog-trigger": states.append(.watchdogTrigger)
        case "status": states.append(.status(value))
        case "errno": states.append(.errno(Int32(value)!))
        case "bus-error": states.append(.busError(value))
        case "main-pid": states.append(.mainPID(Int32(value)!))
        case "watchdog-usec": states.append(.watchdogTimeout(.microseconds(Int64(value)!)))
        case "extend-usec": states.append(.extendTimeout(.microseconds(Int64(value)!)))
        case "custom":
            let pair = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            states.append(.custom(String(pair[0]), String(pair[1])))
        default: fail("unknown notify spec \(spec)")
        }
    }
    do {
        print(try Notifier().send(states) ? "sent" : "noop")
    } catch .invalidSocketAddress {
        print("invalid-socket-address")
    } catch .sendFailed(_, let code) {
        print("send-failed \(code)")
    } catch {
        print("refused \(error)")
    }
}

/// `watchdog`: reads cases from stdin, one per line, `USEC PID` where each token is `-` for
/// unset, `self` for this process's pid, or `x` followed by the value in hex. For each, sets the
/// variables and calls `Watchdog.current()` (sd_watchdog_enabled). Prints `pid N`, then per case
/// `some MICROSECONDS`, `none` or `error`.
func watchdog() {
    print("pid \(getpid())")
    func apply(_ token: Substring, to name: String) {
        // Safe here, unlike in the daemon: this helper is single-threaded.
        switch token {
        case "-": unsetenv(name)
        case "self": setenv(name, String(getpid()), 1)
        default: setenv(name, String(decoding: unhex(token.dropFirst()), as: UTF8.self), 1)
        }
    }
    while let line = readLine() {
        let tokens = line.split(separator: " ")
        apply(tokens[0], to: "WATCHDOG_USEC")
        apply(tokens[1], to: "WATCHDOG_PID")
        do {
            if let settings = try Watchdog.current() {
                let (seconds, attoseconds) = settings.timeout.components
                print("some \(UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000))")
            } else {
                print("none")
            }
        } catch {
            print("error")
        }
    }
}

/// `listen-fds`: prints `fd N NAME cloexec` for each descriptor from `ServiceManager.listenFDs()`
/// (cloexec is `1` when FD_CLOEXEC is set), or `error ERRNO`.
func listenFDs() {
    do {
        for passed in try ServiceManager.listenFDs() {
            let cloexec = fcntl(passed.fileDescriptor, F_GETFD) & FD_CLOEXEC != 0 ? 1 : 0
            print("fd \(passed.fileDescriptor) \(passed.name) \(cloexec)")
        }
        print("done")
    } catch {
        print("error \(error.code)")
    }
}

/// `environment`: prints each entry of `ProcessEnvironment.current()` then of
/// `ProcessEnvironment.forChildren()`, hex-encoded, as `current HEX` and `child HEX` lines.
func environment() {
    for entry in ProcessEnvironment.current().entries {
        print("current \(hex(entry.utf8))")
    }
    for entry in ProcessEnvironment.forChildren().entries {
        print("child \(hex(entry.utf8))")
    }
}

/// Binds a datagram socket at /run/systemd/journal/socket, where libsystemd sends entries; only
/// inside a private mount namespace with a tmpfs on /run, never in the host's /run.
func bindPrivateJournalSocket() -> (fd: Int32, address: sockaddr_un) {
    // Refuse to bind anything in the host's /run: the mount namespace must differ from the
    // parent's (the test process, which started `unshare ... exec` this program).
    func namespace(of pid: String) -> String? {
        var target = [UInt8](repeating: 0, count: 256)
        let count = readlink("/proc/\(pid)/ns/mnt", &target, target.count)
        return count > 0 ? String(decoding: target[..<count], as: UTF8.self) : nil
    }
    guard let ours = namespace(of: "self"), let parents = namespace(of: String(getppid())), ours != parents else {
        fail("not in a private mount namespace; run me under unshare --mount with a tmpfs on /run")
    }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array("/run/systemd/journal/socket".utf8)) }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard fd >= 0, bound == 0 else { fail("cannot bind the journal socket: errno \(errno)") }
    return (fd, address)
}

/// `journal`: must run in a private mount namespace with a tmpfs at /run/systemd/journal. Binds
/// the journal socket there, logs a fixed scenario, and after each step prints `case NAME`
/// followed by one `datagram HEX` line per datagram the step produced.
func journal() {
    var (fd, address) = bindPrivateJournalSocket()

    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    func step(_ name: String, _ body: () throws -> Void) {
        do {
            try body()
        } catch {
            fail("step \(name) threw \(error)")
        }
        print("case \(name)")
        // sendmsg on a Unix datagram socket has queued the datagram by the time it returns, so
        // draining without waiting sees everything this step sent.
        while true {
            let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count < 0 { break }
            print("datagram \(hex(buffer[..<count]))")
        }
    }

    var logger = Logger(label: "fixture.label") { label in
        JournalLogHandler(label: label, identifier: "fixture")
    }
    logger.logLevel = .trace
    let levels: [Logger.Level] = [.trace, .debug, .info, .notice, .warning, .error, .critical]
    for level in levels {
        step("level-\(level)") { logger.log(level: level, "at \(level)") }
    }
    step("location") {
        logger.log(level: .info, "located", file: "Fixture/Where.swift", function: "place(_:)", line: 42)
    }
    step("multiline") { logger.info("first line\nsecond line\n\nfourth line") }
    step("metadata") {
        var tagged = logger
        tagged[metadataKey: "handler-key"] = "from handler"
        tagged.info(
            "with metadata",
            metadata: [
                "request.id": "42", "_private": "p", "2fa": "on", "message": "shadow", "café": "crème",
                "multi": "a\nb",
            ])
    }
    step("send-fields") {
        try Journal.send(fields: ["MESSAGE": "child line", "SYSLOG_IDENTIFIER": "api", "RUNNERD_GROUP": "web", "PRIORITY": "3"])
    }
    step("send-bytes") {
        try Journal.send([.message(bytes: [0x66, 0xFF, 0x00, 0x67]), .priority(.notice)])
    }
    step("default-identifier") { try Journal.send([.message("no identifier given")]) }

    // The same entries through a connected socket, for a byte-for-byte comparison with
    // libsystemd's; plus a multi-line value, which both must send in the binary form.
    let connection = JournalConnection()
    let fieldSets: [(String, [JournalField])] = [
        ("fields", try! [
            .message("child line"), .syslogIdentifier("api"), JournalField(name: "RUNNERD_GROUP", value: "web"), .priority(.error),
        ]),
        ("bytes", [.message(bytes: [0x66, 0xFF, 0x00, 0x67]), .priority(.notice)]),
        ("multiline", [.message("first\nsecond\n"), .syslogIdentifier("api")]),
    ]
    for (name, fields) in fieldSets {
        step("libsystemd-\(name)") { try Journal.send(fields) }
        step("connected-\(name)") { try connection.send(fields) }
    }
    // journald's socket replaced (journald restarted with a new socket): the connection notices
    // and connects again.
    close(fd)
    unlink("/run/systemd/journal/socket")
    let replacement = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    let rebound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(replacement, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard replacement >= 0, rebound == 0 else { fail("cannot bind the journal socket again: errno \(errno)") }
    fd = replacement
    step("connected-after-replacement") { try connection.send([.message("after a new socket")]) }
    // No journald at all: the entry is dropped without an error, as libsystemd does.
    close(fd)
    unlink("/run/systemd/journal/socket")
    step("connected-without-journald") { try connection.send([.message("nobody listens")]) }
}

/// `stalled-journal`: like `journal`, in a private mount namespace. A journald that does not read:
/// the socket is bound, and nothing is received until 2,000 lines (`line 0` to `line 1999`) have
/// been logged through `Journal.handlerFactory(... queue:)` with a queue of 20 (libsystemd's
/// `sendmsg` blocks once the socket's queue holds `net.unix.max_dgram_qlen` datagrams). Prints
/// `calls-ns N` (the 2,000 log calls), `flushed-while-stalled true|false` (a 200 ms flush),
/// `dropped N`; then reads the socket until the queue is flushed, and prints every datagram in
/// order: `line I` for line I, `other HEX` for anything else.
func stalledJournal() {
    let (fd, _) = bindPrivateJournalSocket()
    let queue = LogQueue(capacity: 20, destination: .journal)
    var logger = Logger(label: "fixture.stall", factory: Journal.handlerFactory(identifier: "fixture", destination: .journal, queue: queue))
    logger.logLevel = .info
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    for index in 0..<2000 {
        logger.info("line \(index)")
    }
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &end)
    print("calls-ns \((end.tv_sec - start.tv_sec) * 1_000_000_000 + (end.tv_nsec - start.tv_nsec))")
    print("flushed-while-stalled \(queue.flush(timeout: .milliseconds(200)))")
    print("dropped \(queue.droppedCount)")

    // journald reads again.
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    let linePrefix = Array("MESSAGE=line ".utf8)
    var received: [String] = []
    func receiveEverything() {
        while true {
            let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count < 0 { break }
            let datagram = buffer[..<count]
            if datagram.starts(with: linePrefix) {
                let digits = datagram.dropFirst(linePrefix.count).prefix { $0 != UInt8(ascii: "\n") }
                received.append("line \(String(decoding: digits, as: UTF8.self))")
            } else {
                received.append("other \(hex(datagram))")
            }
        }
    }
    var flushed = false
    for _ in 0..<1000 where !flushed {
        receiveEverything()
        flushed = queue.flush(timeout: .milliseconds(10))
    }
    receiveEverything()
    guard flushed else { fail("the queue did not flush within 10 s of journald reading again") }
    for line in received { print(line) }
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail("usage: SystemdTestHelper notify|watchdog|listen-fds|environment|journal|stalled-journal ...") }
switch arguments[1] {
case "notify": notify(arguments.dropFirst(2))
case "watchdog": watchdog()
case "listen-fds": listenFDs()
case "environment": environment()
case "journal": journal()
case "stalled-journal": stalledJournal()
default: fail("unknown mode \(arguments[1])")
}
