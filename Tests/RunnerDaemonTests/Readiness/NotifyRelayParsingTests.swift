import Glibc
@testable import RunnerDaemon
import Testing

/// The relay's pure parts: parsing a datagram, attributing a sender, and the log rate limit.
@Suite("NotifyRelay parsing and rate limit")
struct NotifyRelayParsingTests {
    private func parse(_ text: String) throws(NotifyMessage.Malformed) -> NotifyMessage {
        try NotifyMessage(parsing: Array(text.utf8), senderPID: 42)
    }

    private func problem(_ bytes: [UInt8]) -> String? {
        do {
            _ = try NotifyMessage(parsing: bytes, senderPID: 42)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func everyUnderstoodFieldIsParsed() throws {
        let message = try parse(
            "READY=1\nSTATUS=up: 3/3\nSTOPPING=1\nRELOADING=1\nMAINPID=1234\nEXTEND_TIMEOUT_USEC=2500001\nWATCHDOG=trigger\nERRNO=5\nWATCHDOG_USEC=100\nX=\n"
        )
        var expected = NotifyMessage(senderPID: 42)
        expected.ready = true
        expected.status = "up: 3/3"
        expected.stopping = true
        expected.reloading = true
        expected.mainPID = 1234
        expected.extendTimeout = .microseconds(2_500_001)
        expected.watchdog = .trigger
        expected.errorNumber = 5
        expected.otherFields = [.init(name: "WATCHDOG_USEC", value: "100"), .init(name: "X", value: "")]
        #expect(message == expected)
    }

    @Test func theFirstOfARepeatedKeyWinsAsInSystemd() throws {
        let message = try parse("STATUS=first\nSTATUS=second\nWATCHDOG=1\nWATCHDOG=trigger")
        #expect(message.status == "first")
        #expect(message.watchdog == .ping)
    }

    @Test func anEmptyStatusIsAStatus() throws {
        #expect(try parse("STATUS=").status == "")
    }

    @Test func theLargestExtendTimeoutDoesNotOverflow() throws {
        let message = try parse("EXTEND_TIMEOUT_USEC=18446744073709551615")
        #expect(message.extendTimeout == .seconds(18_446_744_073_709) + .microseconds(551_615))
    }

    @Test(arguments: [
        ("", "the datagram is empty"),
        ("READY=1\0", "the datagram contains a NUL byte"),
        ("READY=1\nhello", #"line 2 is not KEY=VALUE: "hello""#),
        ("=1", #"line 1 is not KEY=VALUE: "=1""#),
        ("READY=0", #"READY="0" is not valid; READY takes 1"#),
        ("STOPPING=yes", #"STOPPING="yes" is not valid; STOPPING takes 1"#),
        ("MAINPID=0", #"MAINPID="0" is not valid; MAINPID takes a positive pid"#),
        ("MAINPID=-5", #"MAINPID="-5" is not valid; MAINPID takes a positive pid"#),
        ("MAINPID= 5", #"MAINPID=" 5" is not valid; MAINPID takes a positive pid"#),
        ("MAINPID=99999999999", #"MAINPID="99999999999" is not valid; MAINPID takes a positive pid"#),
        ("EXTEND_TIMEOUT_USEC=1s", #"EXTEND_TIMEOUT_USEC="1s" is not valid; EXTEND_TIMEOUT_USEC takes a number of microseconds"#),
        ("WATCHDOG=2", #"WATCHDOG="2" is not valid; WATCHDOG takes 1 or trigger"#),
        ("ERRNO=-1", #"ERRNO="-1" is not valid; ERRNO takes a non-negative errno number"#),
    ])
    func malformedDatagramsAreRefusedWhole(text: String, reason: String) {
        #expect(problem(Array(text.utf8)) == reason)
    }

    @Test func invalidUTF8IsRefused() {
        #expect(problem([0x52, 0x45, 0x41, 0x44, 0x59, 0x3D, 0xFF]) == "the datagram is not UTF-8")
    }

    @Test func aLongLineIsQuotedShortInTheReason() {
        let reason = problem(Array(("x" + String(repeating: "y", count: 100)).utf8))
        #expect(reason == "line 1 is not KEY=VALUE: \"x\(String(repeating: "y", count: 39))…\"")
    }

    @Test func aSenderBelongsThroughItsProcessGroupOrItsSession() {
        #expect(NotifySender(pid: 10, processGroup: 7, session: 99).belongs(toServiceLedBy: 7))
        #expect(NotifySender(pid: 10, processGroup: 10, session: 7).belongs(toServiceLedBy: 7))
        #expect(!NotifySender(pid: 10, processGroup: 10, session: 10).belongs(toServiceLedBy: 7))
        #expect(!NotifySender(pid: 10, processGroup: nil, session: nil).belongs(toServiceLedBy: 7))
        #expect(NotifySender(pid: 10, processGroup: 7, session: nil).belongs(toServiceLedBy: 7))
        #expect(!NotifySender(pid: 0, processGroup: nil, session: nil).belongs(toServiceLedBy: 0))
    }

    @Test func aReapedOrUnknownSenderHasNoProcessGroup() {
        #expect(NotifySender.lookUp(0) == NotifySender(pid: 0, processGroup: nil, session: nil))
        // A session led from outside our pid namespace reads as 0 (as under a CI runner that
        // started us in a container); it is unknown, and the process group still counts.
        let ourSession = getsid(0)
        #expect(NotifySender.lookUp(getpid()) == NotifySender(pid: getpid(), processGroup: getpgrp(), session: ourSession > 0 ? ourSession : nil))
        // pid_max is at most 2^22, so this pid cannot exist.
        #expect(NotifySender.lookUp(1 << 23).processGroup == nil)
    }

    @Test func theThrottleLogsTheFirstAtOnceThenOneSummaryPerIntervalThenFallsQuiet() {
        var throttle = NotifyLogThrottle()
        #expect(throttle.record(pid: 5) == .init(count: 1, pids: [5]))
        #expect(throttle.isWindowOpen)
        for _ in 0..<99 { #expect(throttle.record(pid: 5) == nil) }
        #expect(throttle.windowEnded() == .init(count: 99, pids: [5]))
        // A window with nothing in it closes the throttle: the next one is logged at once.
        #expect(throttle.windowEnded() == nil)
        #expect(!throttle.isWindowOpen)
        #expect(throttle.record(pid: 6, detail: "why") == .init(count: 1, pids: [6], detail: "why"))
    }

    @Test func theThrottleNamesThreeSendersAndCountsTheRest() {
        var throttle = NotifyLogThrottle()
        _ = throttle.record(pid: 1)
        for pid: pid_t in [2, 3, 2, 4, 5] { _ = throttle.record(pid: pid, detail: "d\(pid)") }
        #expect(throttle.drain() == .init(count: 5, pids: [2, 3, 4], morePIDs: true, detail: "d5"))
        #expect(throttle.drain() == nil)
        #expect(!throttle.isWindowOpen)
    }
}
