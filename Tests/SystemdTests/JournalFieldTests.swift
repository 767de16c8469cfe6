import Logging
import Systemd
import Testing

struct JournalFieldTests {
    @Test(arguments: [
        ("message", "MESSAGE"),
        ("request.id", "REQUEST_ID"),
        ("user-agent", "USER_AGENT"),
        ("HTTP_STATUS", "HTTP_STATUS"),
        ("MixedCase9", "MIXEDCASE9"),
        ("_private", "PRIVATE"),
        ("__double", "DOUBLE"),
        ("2fa", "FIELD_2FA"),
        ("_9lives", "FIELD_9LIVES"),
        ("", "FIELD"),
        ("___", "FIELD"),
        ("café", "CAF_"),
        ("a b=c\nd", "A_B_C_D"),
        ("日本", "FIELD"),
        ("über", "BER"),
        (String(repeating: "k", count: 70), String(repeating: "K", count: 64)),
    ])
    func sanitisesAnyKeyToAValidName(key: String, name: String) throws {
        #expect(JournalField.sanitizedName(key) == name)
        let field = JournalField(sanitizing: key, value: "v")
        #expect(field.name == name)
        // Whatever a key maps to, the strict initialiser accepts.
        #expect(throws: Never.self) { try JournalField(name: name, value: "v") }
    }

    @Test(arguments: [
        ("", "is empty"),
        ("_PID", "starts with _, which journald reserves for fields it adds itself"),
        ("1ST", "starts with a digit"),
        ("lower", "contains a character other than A-Z, 0-9 and _"),
        ("A-B", "contains a character other than A-Z, 0-9 and _"),
        ("A=B", "contains a character other than A-Z, 0-9 and _"),
        (String(repeating: "A", count: 65), "is longer than 64 characters"),
    ])
    func refusesInvalidNamesWithTheReason(name: String, problem: String) {
        #expect(throws: JournalError.invalidFieldName(name, problem: problem)) {
            try JournalField(name: name, value: "x")
        }
        #expect(throws: JournalError.invalidFieldName(name, problem: problem)) {
            try Journal.send(fields: ["MESSAGE": "x", name: "y"])
        }
    }

    @Test func acceptsValidNamesAndAnyValue() throws {
        let field = try JournalField(name: "RUNNERD_GROUP", value: "web\nline two")
        #expect(field.name == "RUNNERD_GROUP")
        #expect(field.value == Array("web\nline two".utf8))
        let bytes = try JournalField(name: "A", bytes: [0xFF, 0x00])
        #expect(bytes.value == [0xFF, 0x00])
        #expect(String(repeating: "A", count: 64) == (try JournalField(name: String(repeating: "A", count: 64), value: "")).name)
    }

    @Test func wellKnownFields() {
        #expect(JournalField.message("hi").name == "MESSAGE")
        #expect(JournalField.priority(.warning).value == Array("4".utf8))
        #expect(JournalField.syslogIdentifier("api").value == Array("api".utf8))
    }

    @Test func refusesAnEmptyEntry() {
        #expect(throws: JournalError.noFields) { try Journal.send([]) }
        #expect(throws: JournalError.noFields) { try Journal.send(fields: [:]) }
    }

    @Test func errorsSayWhatToDo() {
        let error = JournalError.invalidFieldName("a-b", problem: "contains a character other than A-Z, 0-9 and _")
        #expect("\(error)".contains("JournalField.sanitizedName maps any key to one"))
    }

    @Test func mapsEverySwiftLogLevelToASyslogPriority() {
        let mapping: [(Logger.Level, Int)] = [
            (.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
        ]
        for (level, priority) in mapping {
            #expect(SyslogPriority(level).rawValue == priority, "\(level)")
        }
        #expect(SyslogPriority(rawValue: 0) == .emergency)
        #expect(SyslogPriority(rawValue: 7) == .debug)
        #expect(SyslogPriority(rawValue: 8) == nil)
        #expect(SyslogPriority(rawValue: -1) == nil)
    }
}
