import Testing
import RunnerdConfig
import RunnerdTestSupport

@Suite("Config: every error in a file is reported, in order")
struct ConfigMultipleErrorsTests {
    @Test func everyErrorIsReportedSortedByPosition() {
        let yaml = """
            defaults:
              interrupt-timeout: 10
            groups:
              web:
                restart: sometimes
                restart-dealy: 1s
                services:
                  api:
                    command: [pytohn3]
                    stop-signal: SIGTREM
                    ready: { tcp: "127.0.0.1" }
                  api:
                    command: [tool]
              batch:
                required: yes
                services: {}

            """
        #expect(ConfigFixture.errors(yaml) == [
            #"runnerd.yaml:2:22: defaults.interrupt-timeout: "10" has no unit; write e.g. 10s"#,
            #"runnerd.yaml:5:14: groups.web.restart: "sometimes" is not a restart mode; write never, on-failure or always"#,
            "runnerd.yaml:6:5: groups.web.restart-dealy: unknown key; did you mean restart-delay?",
            #"runnerd.yaml:9:19: groups.web.services.api.command[0]: "pytohn3" was not found in PATH (\#(ConfigFixture.bin)); install it or write its full path"#,
            #"runnerd.yaml:10:22: groups.web.services.api.stop-signal: "SIGTREM" is not a signal; did you mean SIGTERM?"#,
            #"runnerd.yaml:11:23: groups.web.services.api.ready.tcp: "127.0.0.1" has no port; write host:port, e.g. 127.0.0.1:8080"#,
            "runnerd.yaml:12:7: groups.web.services.api: a service of this name is already in this group; the first is on line 8; rename or remove one",
            #"runnerd.yaml:15:15: groups.batch.required: "yes" is not true or false; write true or false"#,
            "runnerd.yaml:16:15: groups.batch.services: has no services; add at least one service with its command",
        ])
    }

    @Test func servicesSharingACommandEachGetItsOwnResult() {
        // A command is looked up once per load, but a relative path still depends on the
        // service's working directory, and every service running a missing program is named.
        let yaml = """
            groups:
              web:
                services:
                  a: { command: [pytohn3] }
                  b: { command: [pytohn3] }
                  c: { command: [./run.sh], working-directory: \(ConfigFixture.work) }
                  d: { command: [./run.sh], working-directory: \(ConfigFixture.bin) }

            """
        #expect(ConfigFixture.errors(yaml) == [
            #"runnerd.yaml:4:22: groups.web.services.a.command[0]: "pytohn3" was not found in PATH (\#(ConfigFixture.bin)); install it or write its full path"#,
            #"runnerd.yaml:5:22: groups.web.services.b.command[0]: "pytohn3" was not found in PATH (\#(ConfigFixture.bin)); install it or write its full path"#,
            #"runnerd.yaml:7:22: groups.web.services.d.command[0]: \#(ConfigFixture.bin)/run.sh does not exist; install it or fix the path"#,
        ])
    }

    @Test func errorsDescriptionHasOneLinePerError() throws {
        let yaml = "groups:\n  web:\n    services:\n      api: { command: [tool], user: no-such-user-x, group: no-such-group-x }\n"
        let error = try #require(throws: ConfigErrors.self) {
            try ConfigLoader.parse(yaml: yaml, path: "/etc/runnerd/runnerd.yaml", environment: ConfigFixture.environment)
        }
        #expect(error.description == """
            /etc/runnerd/runnerd.yaml:4:37: groups.web.services.api.user: "no-such-user-x" is not a user on this host; create it (useradd) or fix the name
            /etc/runnerd/runnerd.yaml:4:60: groups.web.services.api.group: "no-such-group-x" is not a group on this host; create it (groupadd) or fix the name
            """)
    }

    @Test func repeatedDuplicatesAreEachReportedWithTheFirstLine() {
        let yaml = """
            groups:
              web:
                services:
                  api: { command: [tool] }
                  api: { command: [tool] }
                  api: { command: [tool] }
                required: true
                required: false

            """
        #expect(ConfigFixture.errors(yaml) == [
            "runnerd.yaml:5:7: groups.web.services.api: a service of this name is already in this group; the first is on line 4; rename or remove one",
            "runnerd.yaml:6:7: groups.web.services.api: a service of this name is already in this group; the first is on line 4; rename or remove one",
            "runnerd.yaml:8:5: groups.web.required: is set twice; the first is on line 7; remove one",
        ])
    }

    @Test func aThousandRepeatedKeysAreReportedUpToTheBoundAndQuickly() {
        // Each duplicate costs a compose of the whole file; a fuzzer-sized file of 1,365 `a:`
        // lines took 6.8 s in a release build before the bound.
        let yaml = String(repeating: "a:\n", count: 1_365)
        let start = ContinuousClock.now
        let errors = ConfigFixture.errors(yaml)
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(3), "took \(elapsed)")
        // Twenty are renamed so that the decoder could see them; the next one is where the
        // composer stops, which leaves nothing to decode: that one error is the report.
        #expect(errors == ["runnerd.yaml:21:1: the key \"a\" appears twice in this map; remove or rename one"])
    }

    @Test func duplicateQuotedKeyIsFoundToo() {
        let yaml = "groups:\n  web:\n    services:\n      \"api\": { command: [tool] }\n      api: { command: [nope-x] }\n"
        #expect(ConfigFixture.errors(yaml) == [
            "runnerd.yaml:5:7: groups.web.services.api: a service of this name is already in this group; the first is on line 4; rename or remove one",
        ])
    }

    @Test func errorWithoutPositionOrKeyPathLeavesThemOut() {
        #expect(ConfigError(file: "a.yaml", line: 0, column: 0, keyPath: "", message: "m").description == "a.yaml: m")
        #expect(ConfigError(file: "a.yaml", line: 3, column: 1, keyPath: "", message: "m").description == "a.yaml:3:1: m")
        #expect(ConfigError(file: "a.yaml", line: 3, column: 1, keyPath: "groups", message: "m").description == "a.yaml:3:1: groups: m")
    }

    @Test func errorsAreSortedStablyByLineThenColumn() {
        let errors = ConfigErrors([
            ConfigError(file: "f", line: 2, column: 5, keyPath: "b", message: "1"),
            ConfigError(file: "f", line: 2, column: 1, keyPath: "a", message: "2"),
            ConfigError(file: "f", line: 0, column: 0, keyPath: "", message: "3"),
            ConfigError(file: "f", line: 2, column: 1, keyPath: "a", message: "4"),
        ])
        #expect(errors.errors.map(\.message) == ["3", "2", "4", "1"])
    }
}
