import Glibc
import Testing
import RunnerdConfig
import RunnerdTestSupport

@Suite("Config: durations and signals as configs write them")
struct ConfigValueTests {
    func duration(_ text: String) throws -> Duration {
        let yaml = ConfigErrorCase.serviceYAML(["interrupt-timeout: \(text)"])
        let config = try ConfigLoader.parse(yaml: yaml, path: "runnerd.yaml", environment: ConfigFixture.environment)
        return config.groups[0].services[0].interruptTimeout
    }

    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("10s", .seconds(10)), ("2m", .seconds(120)), ("1h", .seconds(3600)),
        ("1m30s", .seconds(90)), ("1h30m", .seconds(5400)), ("1.5s", .milliseconds(1500)), ("0.25h", .seconds(900)),
        ("500us", .microseconds(500)), ("500µs", .microseconds(500)), ("0", .zero), ("0s", .zero), (".5s", .milliseconds(500)),
        ("30s1m", .seconds(90)),
    ])
    func durationsWithUnitsAreRead(_ text: String, _ expected: Duration) throws {
        #expect(try duration(text) == expected)
    }

    @Test(arguments: [
        (Duration.seconds(10), "10s"), (.milliseconds(250), "250ms"), (.seconds(90), "1m30s"), (.seconds(3600), "1h"),
        (.zero, "0s"), (.milliseconds(1500), "1s500ms"), (.microseconds(1), "1us"), (.seconds(3661), "1h1m1s"),
        (.seconds(-5), "-5s"), (.nanoseconds(999), "0s"),
    ])
    func durationsAreFormattedWithTheLargestUnitsFirst(_ duration: Duration, _ expected: String) {
        #expect(DurationText.format(duration) == expected)
    }

    @Test func formattedDurationsReadBack() throws {
        for duration in [Duration.seconds(7), .milliseconds(1234), .seconds(86_400 * 3 + 61), .microseconds(1_000_001)] {
            #expect(try self.duration(DurationText.format(duration)) == duration)
        }
    }

    @Test func aDurationTooLongForNanosecondsIsAnError() {
        let errors = ConfigFixture.errors(ConfigErrorCase.serviceYAML(["interrupt-timeout: 99999999999h"]))
        #expect(errors == [#"runnerd.yaml:6:28: groups.web.services.api.interrupt-timeout: "99999999999h" is too long; write at most a few years, e.g. 10s"#])
    }

    @Test func signalsAreReadByNameWithOrWithoutSIGAndByNumber() {
        #expect(SignalName.number("SIGTERM") == SIGTERM)
        #expect(SignalName.number("term") == SIGTERM)
        #expect(SignalName.number("SigUsr1") == SIGUSR1)
        #expect(SignalName.number("1") == SIGHUP)
        #expect(SignalName.number("64") == 64)
        #expect(SignalName.number("0") == nil)
        #expect(SignalName.number("65") == nil)
        #expect(SignalName.number("SIGRTMIN") == nil)
        #expect(SignalName.number("") == nil)
    }

    @Test func signalsAreNamedForMessages() {
        #expect(SignalName.name(of: SIGTERM) == "SIGTERM")
        #expect(SignalName.name(of: SIGKILL) == "SIGKILL")
        #expect(SignalName.name(of: SIGIO) == "SIGIO")
        #expect(SignalName.name(of: SIGABRT) == "SIGABRT")
        #expect(SignalName.name(of: 40) == "signal 40")
    }
}
