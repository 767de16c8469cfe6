import RunnerdTestSupport
import Glibc
import Systemd
import Testing

/// One notification and the exact datagram it must produce.
struct NotifyCase: Sendable, CustomTestStringConvertible {
    let states: [NotifyState]
    let datagram: String

    init(_ states: [NotifyState], _ datagram: String) {
        self.states = states
        self.datagram = datagram
    }

    var testDescription: String { states.map(\.description).joined(separator: " + ") }

    static let all: [NotifyCase] = [
        NotifyCase([.ready], "READY=1"),
        NotifyCase([.stopping], "STOPPING=1"),
        NotifyCase([.status("3 groups, 7/7 services ready")], "STATUS=3 groups, 7/7 services ready"),
        NotifyCase([.status("")], "STATUS="),
        NotifyCase([.status("naïve = ✓")], "STATUS=naïve = ✓"),
        NotifyCase([.errno(5)], "ERRNO=5"),
        NotifyCase([.errno(0)], "ERRNO=0"),
        NotifyCase([.busError("org.freedesktop.DBus.Error.TimedOut")], "BUSERROR=org.freedesktop.DBus.Error.TimedOut"),
        NotifyCase([.mainPID(4242)], "MAINPID=4242"),
        NotifyCase([.watchdog], "WATCHDOG=1"),
        NotifyCase([.watchdogTrigger], "WATCHDOG=trigger"),
        NotifyCase([.watchdogTimeout(.seconds(30))], "WATCHDOG_USEC=30000000"),
        NotifyCase([.watchdogTimeout(.nanoseconds(1500))], "WATCHDOG_USEC=2"),
        NotifyCase([.watchdogTimeout(.zero)], "WATCHDOG_USEC=0"),
        NotifyCase([.extendTimeout(.milliseconds(1500))], "EXTEND_TIMEOUT_USEC=1500000"),
        NotifyCase([.custom("X_PHASE", "warming up")], "X_PHASE=warming up"),
        NotifyCase([.custom("X_runnerd_group_2", "")], "X_runnerd_group_2="),
        NotifyCase([.ready, .status("ready"), .mainPID(7)], "READY=1\nSTATUS=ready\nMAINPID=7"),
        NotifyCase(
            [.stopping, .extendTimeout(.seconds(10)), .status("stopping web")],
            "STOPPING=1\nEXTEND_TIMEOUT_USEC=10000000\nSTATUS=stopping web"),
        NotifyCase([.watchdog, .status("healthy")], "WATCHDOG=1\nSTATUS=healthy"),
        NotifyCase([.status("a"), .status("b")], "STATUS=a\nSTATUS=b"),
        NotifyCase(
            [.errno(110), .busError("org.freedesktop.DBus.Error.TimedOut"), .custom("X_A", "1"), .watchdogTrigger],
            "ERRNO=110\nBUSERROR=org.freedesktop.DBus.Error.TimedOut\nX_A=1\nWATCHDOG=trigger"),
    ]
}

/// A value the notifier must refuse, and the error it must name.
struct RefusedCase: Sendable, CustomTestStringConvertible {
    let state: NotifyState
    let error: NotifyError

    var testDescription: String { state.description }

    static let all: [RefusedCase] = [
        RefusedCase(state: .status("line one\nline two"), error: .invalidValue(
            field: "STATUS", value: "line one\nline two",
            problem: "contains a newline, which would start a new field; send a single line")),
        RefusedCase(state: .status("cut\0here"), error: .invalidValue(
            field: "STATUS", value: "cut\0here",
            problem: "contains a NUL byte, which would cut the message short; remove it")),
        RefusedCase(state: .status("READY=1\nMAINPID=1"), error: .invalidValue(
            field: "STATUS", value: "READY=1\nMAINPID=1",
            problem: "contains a newline, which would start a new field; send a single line")),
        RefusedCase(state: .busError("org.Error\n"), error: .invalidValue(
            field: "BUSERROR", value: "org.Error\n",
            problem: "contains a newline, which would start a new field; send a single line")),
        RefusedCase(state: .custom("X_NOTE", "a\nb"), error: .invalidValue(
            field: "X_NOTE", value: "a\nb",
            problem: "contains a newline, which would start a new field; send a single line")),
        RefusedCase(state: .custom("PHASE", "x"), error: .invalidCustomName("PHASE")),
        RefusedCase(state: .custom("X_", "x"), error: .invalidCustomName("X_")),
        RefusedCase(state: .custom("X_BAD-NAME", "x"), error: .invalidCustomName("X_BAD-NAME")),
        RefusedCase(state: .custom("X_A=B", "x"), error: .invalidCustomName("X_A=B")),
        RefusedCase(state: .errno(-1), error: .invalidValue(
            field: "ERRNO", value: "-1", problem: "is outside 0...4095; pass a positive errno constant such as EIO")),
        RefusedCase(state: .errno(4096), error: .invalidValue(
            field: "ERRNO", value: "4096", problem: "is outside 0...4095; pass a positive errno constant such as EIO")),
        RefusedCase(state: .mainPID(0), error: .invalidValue(
            field: "MAINPID", value: "0", problem: "is not a process ID; pass the positive pid of the new main process")),
        RefusedCase(state: .watchdogTimeout(.seconds(-1)), error: .invalidValue(
            field: "WATCHDOG_USEC", value: "\(Duration.seconds(-1))",
            problem: "is negative or too long to express in microseconds; pass a duration of zero or more")),
        RefusedCase(state: .extendTimeout(.seconds(Int64.max)), error: .invalidValue(
            field: "EXTEND_TIMEOUT_USEC", value: "\(Duration.seconds(Int64.max))",
            problem: "is negative or too long to express in microseconds; pass a duration of zero or more")),
    ]
}

struct NotifierTests {
    @Test(arguments: NotifyCase.all.filter { $0.states.count == 1 })
    func fieldNamesTheFieldTheStateEncodes(_ notify: NotifyCase) throws {
        let state = try #require(notify.states.first)
        #expect(notify.datagram.prefix { $0 != "=" } == state.field)
    }

    @Test
    func fieldOfReloadingIsItsFirstLine() throws {
        #expect(NotifyState.reloading.field == "RELOADING")
        #expect(try Notifier.datagram([.reloading]).hasPrefix("RELOADING=1\n"))
    }

    @Test(arguments: NotifyReceiver.Kind.allCases, NotifyCase.all)
    func sendsExactlyTheseBytesInOneDatagram(kind: NotifyReceiver.Kind, notifyCase: NotifyCase) throws {
        let receiver = try NotifyReceiver(kind)
        let sent = try Notifier(socket: receiver.address).send(notifyCase.states)
        #expect(sent)
        let datagram = try receiver.receive()
        #expect(datagram.text == notifyCase.datagram)
        #expect(datagram.senderPID == getpid())
        #expect(try Notifier.datagram(notifyCase.states) == notifyCase.datagram)
    }

    @Test(arguments: NotifyReceiver.Kind.allCases)
    func reloadingCarriesTheMonotonicClock(kind: NotifyReceiver.Kind) throws {
        let receiver = try NotifyReceiver(kind)
        let before = Self.monotonicMicroseconds()
        try Notifier(socket: receiver.address).send(.reloading, .status("reloading config"))
        let after = Self.monotonicMicroseconds()

        let lines = try receiver.receive().text.split(separator: "\n", omittingEmptySubsequences: false)
        try #require(lines.count == 3)
        #expect(lines[0] == "RELOADING=1")
        #expect(lines[2] == "STATUS=reloading config")
        try #require(lines[1].hasPrefix("MONOTONIC_USEC="))
        let stamp = try #require(UInt64(lines[1].dropFirst("MONOTONIC_USEC=".count)))
        #expect(before <= stamp && stamp <= after)
    }

    @Test func sendsEveryCallAsItsOwnDatagramInOrder() throws {
        let receiver = try NotifyReceiver(.abstract)
        let notifier = Notifier(environment: ["NOTIFY_SOCKET": receiver.address, "OTHER": "x"])
        try notifier.send(.status("one"))
        try notifier.send(.status("two"))
        #expect(try receiver.receive().text == "STATUS=one")
        #expect(try receiver.receive().text == "STATUS=two")
    }

    @Test(arguments: RefusedCase.all)
    func refusesValuesThatWouldCorruptTheDatagramAndSendsNothing(refused: RefusedCase) throws {
        let receiver = try NotifyReceiver(.path)
        let notifier = Notifier(socket: receiver.address)
        #expect(throws: refused.error) { try notifier.send(.ready, refused.state) }
        // Nothing from the refused call reached the socket: the next datagram is the next call's.
        try notifier.send(.watchdog)
        #expect(try receiver.receive().text == "WATCHDOG=1")
    }

    @Test(arguments: RefusedCase.all)
    func refusesBadValuesEvenWithoutASocket(refused: RefusedCase) {
        #expect(throws: refused.error) { try Notifier(socket: nil).send(refused.state) }
    }

    @Test func refusesAnEmptyNotification() {
        #expect(throws: NotifyError.noStates) { try Notifier(socket: nil).send([]) }
        #expect(throws: NotifyError.noStates) { try Notifier.datagram([]) }
    }

    @Test func withoutNotifySocketSendingIsASilentNoOp() throws {
        #expect(try Notifier(environment: [:]).send(.ready) == false)
        #expect(try Notifier(environment: ["INVOCATION_ID": "abc"]).send(.ready, .status("x")) == false)
        #expect(try Notifier(socket: nil).send(.stopping) == false)
    }

    @Test(arguments: ["relative/notify", "notify", "@", "/", "", "./notify"])
    func refusesAnAddressThatIsNeitherAnAbsolutePathNorAnAbstractName(address: String) {
        #expect(throws: NotifyError.invalidSocketAddress(address)) {
            try Notifier(environment: ["NOTIFY_SOCKET": address]).send(.ready)
        }
    }

    @Test func refusesAnAddressTooLongForASocket() {
        let path = "/" + String(repeating: "a", count: 107)
        #expect(throws: NotifyError.invalidSocketAddress(path)) { try Notifier(socket: path).send(.ready) }
        let name = "@" + String(repeating: "a", count: 107)
        #expect(throws: NotifyError.invalidSocketAddress(name)) { try Notifier(socket: name).send(.ready) }
    }

    @Test func reportsAPathThatDoesNotExist() throws {
        let receiver = try NotifyReceiver(.path)
        let missing = receiver.address + "-missing"
        #expect(throws: NotifyError.sendFailed(socket: missing, code: ENOENT)) {
            try Notifier(socket: missing).send(.ready)
        }
    }

    @Test func reportsAPathWhereNothingListens() throws {
        var template = Array("/tmp/systemd-tests-XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        let stale = directory + "/stale"
        let fd = open(stale, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        close(fd)
        defer {
            unlink(stale)
            rmdir(directory)
        }
        #expect(throws: NotifyError.sendFailed(socket: stale, code: ECONNREFUSED)) {
            try Notifier(socket: stale).send(.ready)
        }
        let name = "@systemd-tests-nobody-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        #expect(throws: NotifyError.sendFailed(socket: name, code: ECONNREFUSED)) {
            try Notifier(socket: name).send(.ready)
        }
    }

    @Test func errorsSayWhatToDo() {
        let invalid = NotifyError.invalidSocketAddress("relative")
        #expect("\(invalid)".contains("must be an absolute path or an @abstract name"))
        let failed = NotifyError.sendFailed(socket: "/run/x", code: ENOENT)
        #expect("\(failed)" == "cannot send to notify socket \"/run/x\": No such file or directory (errno 2); check that the service manager is still listening there")
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}
