import RunnerdTestSupport
import Glibc
import Systemd
import Testing

/// The default `Notifier()` goes through libsystemd's sd_notify, which reads NOTIFY_SOCKET from
/// the process environment. The tests run it in a child (the fixture program) with the variable
/// set, and check that it sends the same bytes, from its own pid, and fails the same ways as the
/// explicit-address path.
struct NotifierProcessEnvironmentTests {
    /// What a send did, comparable between the two paths.
    enum Outcome: Equatable, CustomStringConvertible {
        case sent
        case noop
        case invalidSocketAddress
        case sendFailed(Int32)

        init(explicit address: String?) {
            do {
                self = try Notifier(socket: address).send(.ready) ? .sent : .noop
            } catch .invalidSocketAddress {
                self = .invalidSocketAddress
            } catch .sendFailed(_, let code) {
                self = .sendFailed(code)
            } catch {
                fatalError("unexpected \(error)")
            }
        }

        init(helperLine line: String) {
            switch line {
            case "sent": self = .sent
            case "noop": self = .noop
            case "invalid-socket-address": self = .invalidSocketAddress
            default:
                precondition(line.hasPrefix("send-failed "), "unexpected helper output \(line)")
                self = .sendFailed(Int32(line.dropFirst("send-failed ".count))!)
            }
        }

        var description: String {
            switch self {
            case .sent: "sent"
            case .noop: "noop"
            case .invalidSocketAddress: "invalid socket address"
            case .sendFailed(let code): "send failed, errno \(code)"
            }
        }
    }

    static func runHelper(_ specs: [String], notifySocket: String?) throws -> (pid: Int32, outcome: Outcome) {
        let environment = ["PATH=/usr/bin:/bin"] + (notifySocket.map { ["NOTIFY_SOCKET=\($0)"] } ?? [])
        let result = try ChildProcess.helper("notify", specs, environment: environment)
        try #require(result.status == 0, "helper exited \(result.status): \(result.lines)")
        try #require(result.lines.count == 2, "helper printed \(result.lines)")
        #expect(result.lines[0] == "pid \(result.pid)")
        return (result.pid, Outcome(helperLine: result.lines[1]))
    }

    @Test(arguments: NotifyReceiver.Kind.allCases)
    func sdNotifySendsTheSameBytesFromTheSendersPID(kind: NotifyReceiver.Kind) throws {
        let receiver = try NotifyReceiver(kind)
        let cases: [([String], String)] = [
            (["ready"], "READY=1"),
            (["ready", "status=3 groups, 7/7 services ready", "main-pid=99"], "READY=1\nSTATUS=3 groups, 7/7 services ready\nMAINPID=99"),
            (["stopping", "extend-usec=2500000"], "STOPPING=1\nEXTEND_TIMEOUT_USEC=2500000"),
            (["watchdog"], "WATCHDOG=1"),
            (["watchdog-trigger", "watchdog-usec=1000"], "WATCHDOG=trigger\nWATCHDOG_USEC=1000"),
            (["errno=5", "bus-error=org.freedesktop.DBus.Error.Failed"], "ERRNO=5\nBUSERROR=org.freedesktop.DBus.Error.Failed"),
            (["custom=X_PHASE=warm", "status=naïve ✓"], "X_PHASE=warm\nSTATUS=naïve ✓"),
        ]
        for (specs, expected) in cases {
            let (pid, outcome) = try Self.runHelper(specs, notifySocket: receiver.address)
            #expect(outcome == .sent)
            let datagram = try receiver.receive()
            #expect(datagram.text == expected)
            #expect(datagram.senderPID == pid)
        }
    }

    @Test func sdNotifyReloadingCarriesTheMonotonicClock() throws {
        let receiver = try NotifyReceiver(.abstract)
        let before = NotifierTests.monotonicMicroseconds()
        let (_, outcome) = try Self.runHelper(["reloading"], notifySocket: receiver.address)
        let after = NotifierTests.monotonicMicroseconds()
        #expect(outcome == .sent)
        let text = try receiver.receive().text
        try #require(text.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
        let stamp = try #require(UInt64(text.dropFirst("RELOADING=1\nMONOTONIC_USEC=".count)))
        #expect(before <= stamp && stamp <= after)
    }

    @Test func sdNotifyPathRefusesCorruptingValuesBeforeSending() throws {
        let receiver = try NotifyReceiver(.path)
        let result = try ChildProcess.helper(
            "notify", ["ready", "status=two\nlines"], environment: ["NOTIFY_SOCKET=\(receiver.address)"])
        #expect(result.lines.count == 2)
        #expect(result.lines.dropFirst().first?.hasPrefix("refused notify field STATUS") == true)
    }

    /// Unset, invalid (relative), nonexistent and refusing addresses: libsystemd's sd_notify and
    /// the explicit-address path must agree on every one.
    @Test func sdNotifyAndTheExplicitPathAgreeOnEveryAddress() throws {
        let receiver = try NotifyReceiver(.path)
        let addresses: [String?] = [
            nil, "relative/notify", "notify", "@", "", receiver.address + "-missing", "/nonexistent-dir/notify",
            "/" + String(repeating: "a", count: 107), "@" + String(repeating: "a", count: 107),
            "@systemd-tests-nobody-\(getpid())", "/tmp",
        ]
        for address in addresses {
            let (_, fromLibsystemd) = try Self.runHelper(["ready"], notifySocket: address)
            let explicit = Outcome(explicit: address)
            #expect(fromLibsystemd == explicit, "NOTIFY_SOCKET=\(String(describing: address))")
        }
        #expect(Outcome(explicit: nil) == .noop)
        #expect(Outcome(explicit: "relative/notify") == .invalidSocketAddress)
        #expect(Outcome(explicit: "/nonexistent-dir/notify") == .sendFailed(ENOENT))
    }
}
