import Systemd
import Testing

struct ProcessEnvironmentTests {
    static let inherited = [
        "PATH=/usr/bin:/bin",
        "NOTIFY_SOCKET=/run/systemd/notify",
        "HOME=/root",
        "WATCHDOG_USEC=30000000",
        "WATCHDOG_PID=12",
        "LANG=C.UTF-8",
        "LISTEN_FDS=2",
        "LISTEN_PID=12",
        "LISTEN_FDNAMES=web:admin",
        "INVOCATION_ID=0123456789abcdef",
        "JOURNAL_STREAM=8:12345",
        "EMPTY=",
        "EQUALS=a=b=c",
        "NOTIFY_SOCKETX=kept",
        "notify_socket=kept",
        "NO_EQUALS_SIGN",
        "PATH=/second/path",
        "UNICODE=é\u{301}=x",
    ]

    static let scrubbed = [
        "PATH=/usr/bin:/bin",
        "HOME=/root",
        "LANG=C.UTF-8",
        "INVOCATION_ID=0123456789abcdef",
        "JOURNAL_STREAM=8:12345",
        "EMPTY=",
        "EQUALS=a=b=c",
        "NOTIFY_SOCKETX=kept",
        "notify_socket=kept",
        "NO_EQUALS_SIGN",
        "PATH=/second/path",
        "UNICODE=é\u{301}=x",
    ]

    @Test func removesExactlyTheServiceManagerVariablesAndKeepsTheRestInOrder() {
        let environment = ProcessEnvironment(entries: Self.inherited)
        #expect(environment.removingServiceManagerVariables().entries == Self.scrubbed)
    }

    @Test func namesTheSixVariables() {
        #expect(ProcessEnvironment.serviceManagerVariables == [
            "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
        ])
    }

    @Test func looksUpLikeGetenv() {
        let environment = ProcessEnvironment(entries: Self.inherited)
        #expect(environment["PATH"] == "/usr/bin:/bin")
        #expect(environment["EQUALS"] == "a=b=c")
        #expect(environment["EMPTY"] == "")
        #expect(environment["NO_EQUALS_SIGN"] == nil)
        #expect(environment["MISSING"] == nil)
        #expect(environment["UNICODE"] == "é\u{301}=x")
        #expect(environment.variables["PATH"] == "/usr/bin:/bin")
        #expect(environment.variables["NO_EQUALS_SIGN"] == nil)
        #expect(environment.variables.count == 16)
    }

    @Test func buildsSortedEntriesFromADictionary() {
        let environment = ProcessEnvironment(["B": "2", "A": "1", "C": "x=y"])
        #expect(environment.entries == ["A=1", "B=2", "C=x=y"])
    }

    /// `current()` and `forChildren()` read the real environ, so they are checked in a child
    /// started with a known environment.
    @Test func forChildrenScrubsTheRealEnvironmentAndKeepsEverythingElse() throws {
        // No entry without "=" here: posix_spawn passes it on, but the environment is for a real
        // program, and glibc's own lookups skip such entries.
        let environment = Self.inherited.filter { $0.contains("=") }
        let result = try ChildProcess.helper("environment", environment: environment)
        try #require(result.status == 0)
        let current = result.lines.filter { $0.hasPrefix("current ") }.map {
            String(decoding: Hex.decode($0.dropFirst("current ".count)), as: UTF8.self)
        }
        let child = result.lines.filter { $0.hasPrefix("child ") }.map {
            String(decoding: Hex.decode($0.dropFirst("child ".count)), as: UTF8.self)
        }
        #expect(current == environment)
        #expect(child == Self.scrubbed.filter { $0.contains("=") })
    }
}
