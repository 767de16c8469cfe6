import Glibc
import Systemd
import Testing

struct WatchdogTests {
    enum Expected: Equatable, Sendable {
        case none
        case timeout(microseconds: UInt64)
        case invalid
    }

    enum PID: String, CaseIterable, Sendable {
        case ours
        case different
        case absent
    }

    enum USEC: String, CaseIterable, Sendable {
        case unset
        case valid
        case zero
        case garbage
    }

    static let ourPID: Int32 = 4321

    static func environment(_ usec: String?, _ pid: String?) -> [String: String] {
        var environment = ["PATH": "/usr/bin"]
        environment["WATCHDOG_USEC"] = usec
        environment["WATCHDOG_PID"] = pid
        return environment
    }

    static func outcome(_ environment: [String: String], processID: Int32) -> Expected {
        do {
            guard let watchdog = try Watchdog.from(environment: environment, processID: processID) else { return .none }
            let (seconds, attoseconds) = watchdog.timeout.components
            return .timeout(microseconds: UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000))
        } catch {
            return .invalid
        }
    }

    @Test(arguments: USEC.allCases, PID.allCases)
    func environmentMatrix(usec: USEC, pid: PID) {
        let usecValue: String? = switch usec {
        case .unset: nil
        case .valid: "30000000"
        case .zero: "0"
        case .garbage: "thirty seconds"
        }
        let pidValue: String? = switch pid {
        case .ours: String(Self.ourPID)
        case .different: String(Self.ourPID + 1)
        case .absent: nil
        }
        let expected: Expected = switch (usec, pid) {
        case (.unset, _): .none
        case (.valid, .different): .none
        case (.valid, _): .timeout(microseconds: 30_000_000)
        case (.zero, _), (.garbage, _): .invalid
        }
        #expect(Self.outcome(Self.environment(usecValue, pidValue), processID: Self.ourPID) == expected)
    }

    @Test func pingIntervalIsHalfTheTimeout() throws {
        let watchdog = try #require(try Watchdog.from(environment: ["WATCHDOG_USEC": "30000000"], processID: 1))
        #expect(watchdog.timeout == .seconds(30))
        #expect(watchdog.pingInterval == .seconds(15))
        #expect(Watchdog(timeout: .milliseconds(3)).pingInterval == .microseconds(1500))
    }

    @Test func errorNamesBothVariablesAndWhatToFix() {
        #expect(throws: WatchdogError.invalidEnvironment(watchdogUSEC: "0", watchdogPID: "12")) {
            try Watchdog.from(environment: ["WATCHDOG_USEC": "0", "WATCHDOG_PID": "12"], processID: 12)
        }
        let error = WatchdogError.invalidEnvironment(watchdogUSEC: "abc", watchdogPID: nil)
        #expect("\(error)".hasPrefix("WATCHDOG_USEC=\"abc\" is not a usable watchdog setting"))
        #expect("\(error)".contains("check WatchdogSec= in the unit"))
    }

    /// Cases beyond the matrix that exercise libsystemd's number parsing: white space, signs,
    /// octal and hexadecimal, the 64-bit limits, and the pid's range.
    static let parsingCases: [(usec: String?, pid: String?, expected: Expected)] = [
        ("1", nil, .timeout(microseconds: 1)),
        (" 12", nil, .timeout(microseconds: 12)),
        ("\t\n12", nil, .timeout(microseconds: 12)),
        ("+12", nil, .timeout(microseconds: 12)),
        ("010", nil, .timeout(microseconds: 8)),
        ("0x10", nil, .timeout(microseconds: 16)),
        ("0X1f", nil, .timeout(microseconds: 31)),
        ("08", nil, .invalid),
        ("0x", nil, .invalid),
        ("-5", nil, .invalid),
        ("-0", nil, .invalid),
        ("12 ", nil, .invalid),
        ("", nil, .invalid),
        ("1e3", nil, .invalid),
        ("18446744073709551614", nil, .timeout(microseconds: 18_446_744_073_709_551_614)),
        ("18446744073709551615", nil, .invalid),
        ("18446744073709551616", nil, .invalid),
        ("99999999999999999999", nil, .invalid),
        ("100", "", .invalid),
        ("100", "abc", .invalid),
        ("100", "0", .invalid),
        ("100", "-1", .invalid),
        ("100", "4294967297", .invalid),
        ("100", "2147483648", .invalid),
        ("100", "1", .none),
        ("abc", "1", .invalid),
        (nil, "abc", .none),
    ]

    @Test func parsesNumbersAsLibsystemdDoes() {
        for (usec, pid, expected) in Self.parsingCases {
            #expect(Self.outcome(Self.environment(usec, pid), processID: Self.ourPID) == expected, "WATCHDOG_USEC=\(String(describing: usec)) WATCHDOG_PID=\(String(describing: pid))")
        }
    }

    /// The injected-environment parser against the real sd_watchdog_enabled: the fixture program
    /// sets each case in its own environment and asks libsystemd; both must agree on the whole
    /// matrix and on the parsing cases.
    @Test func agreesWithSdWatchdogEnabledOnEveryCase() throws {
        // Tokens the fixture understands: "-" unset, "self" its own pid, "x<hex>" a literal value.
        var cases: [(usec: String, pid: String)] = []
        for usec in ["-", "30000000", "0", "thirty seconds"] {
            for pid in ["self", "1", "-"] {
                cases.append((usec, pid))
            }
        }
        for (usec, pid, _) in Self.parsingCases {
            cases.append((usec ?? "-", pid ?? "-"))
        }
        func token(_ value: String) -> String {
            value == "-" || value == "self" ? value : "x" + Hex.encode(value.utf8)
        }
        let input = cases.map { "\(token($0.usec)) \(token($0.pid))\n" }.joined()
        let result = try ChildProcess.helper("watchdog", environment: ["PATH=/usr/bin:/bin"], input: input)
        try #require(result.status == 0)
        try #require(result.lines.count == cases.count + 1, "helper printed \(result.lines)")
        #expect(result.lines[0] == "pid \(result.pid)")

        for (index, testCase) in cases.enumerated() {
            let libsystemd: Expected = switch result.lines[index + 1] {
            case "none": .none
            case "error": .invalid
            case let line: .timeout(microseconds: UInt64(line.dropFirst("some ".count))!)
            }
            func value(_ token: String) -> String? {
                token == "-" ? nil : token == "self" ? String(result.pid) : token
            }
            let ours = Self.outcome(Self.environment(value(testCase.usec), value(testCase.pid)), processID: result.pid)
            #expect(ours == libsystemd, "WATCHDOG_USEC=\(testCase.usec) WATCHDOG_PID=\(testCase.pid)")
        }
    }

    @Test func currentAgreesWithTheInjectedPathForThisProcess() {
        let injected = Self.outcome(ProcessEnvironment.current().variables, processID: getpid())
        let current: Expected
        do {
            if let watchdog = try Watchdog.current() {
                let (seconds, attoseconds) = watchdog.timeout.components
                current = .timeout(microseconds: UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000))
            } else {
                current = .none
            }
        } catch {
            current = .invalid
        }
        #expect(current == injected)
    }
}
