import Glibc
import Testing
import RunnerdConfig
import RunnerdTestSupport

@Suite("Config: valid configs load with defaults, lookups and merges applied")
struct ConfigLoadingTests {
    static let bin = ConfigFixture.bin
    static let env = ConfigFixture.env
    static let work = ConfigFixture.work

    func load(_ yaml: String, environment: [String: String] = ConfigFixture.environment) throws -> DaemonConfig {
        try ConfigLoader.parse(yaml: yaml, path: "runnerd.yaml", environment: environment)
    }

    func onlyService(_ yaml: String, environment: [String: String] = ConfigFixture.environment) throws -> ServiceConfig {
        try #require(try load(yaml, environment: environment).groups.first?.services.first)
    }

    static func serviceYAML(_ lines: [String]) -> String {
        ConfigErrorCase.serviceYAML(lines)
    }

    @Test func nullsAndBooleansAreReadAsYAML11WritesThemAndExplicitTagsWin() throws {
        let yaml = """
            groups:
              a: { required: True, services: { s: { command: [tool], environment: { X: !!str null, Y: "~" } } } }
              b: { required: !!bool false, services: { s: { command: [tool] } } }

            """
        let config = try load(yaml)
        #expect(config.groups.map(\.required) == [true, false])
        #expect(config.groups[0].services[0].environment.map { "\($0.name)=\($0.value)" } == ["X=null", "Y=~"])
        let nulls = ConfigFixture.errors("groups:\n  a: { required: ~, services: { s: { command: [tool], working-directory: Null } } }\n")
        #expect(nulls.count == 2, "\(nulls)")
        #expect(nulls.allSatisfy { $0.contains("has no value") }, "\(nulls)")
        #expect(ConfigFixture.errors("groups:\n  a: { required: \"true\", services: { s: { command: [tool] } } }\n").first?
            .contains("is quoted, so it is text; write true without quotes") == true)
        #expect(ConfigFixture.errors("groups:\n  a: { required: yes, services: { s: { command: [tool] } } }\n").first?
            .contains("\"yes\" is not true or false; write true or false") == true)
    }

    @Test func minimalConfigGetsEveryDefault() throws {
        let config = try load("groups:\n  web:\n    services:\n      api:\n        command: [tool, --port, \"8080\"]\n")
        #expect(config == DaemonConfig(
            path: "runnerd.yaml",
            defaults: DaemonConfig.Defaults(interruptTimeout: .seconds(10), groupInterruptTimeout: .seconds(15)),
            groups: [
                GroupConfig(
                    name: "web", restart: .onFailure, restartDelay: .seconds(1), restartDelayMax: .seconds(30),
                    maxRestarts: 5, restartWindow: .seconds(300), required: true, groupInterruptTimeout: .seconds(15),
                    services: [
                        ServiceConfig(
                            name: "api", command: ["tool", "--port", "8080"], executable: "\(Self.bin)/tool",
                            environment: [], environmentFiles: [], workingDirectory: nil, credentials: nil,
                            stopSignal: SIGTERM, interruptTimeout: .seconds(10), ready: nil, health: nil, watchdog: nil
                        )
                    ]
                )
            ]
        ))
    }

    @Test func defaultsSectionSetsTheLimitsGroupsAndServicesDoNotSet() throws {
        let config = try load("""
            defaults: { interrupt-timeout: 3s, group-interrupt-timeout: 4s }
            groups:
              a:
                services:
                  inherits: { command: [tool] }
                  own: { command: [tool], interrupt-timeout: 0s }
              b:
                group-interrupt-timeout: 1m30s
                services:
                  s: { command: [tool] }

            """)
        #expect(config.defaults == DaemonConfig.Defaults(interruptTimeout: .seconds(3), groupInterruptTimeout: .seconds(4)))
        #expect(config.groups.map(\.groupInterruptTimeout) == [.seconds(4), .seconds(90)])
        #expect(config.groups[0].services.map(\.interruptTimeout) == [.seconds(3), .zero])
        #expect(config.groups[1].services[0].interruptTimeout == .seconds(3))
    }

    @Test func logKeysAreReadWithTheirDefaults() throws {
        let config = try load("""
            defaults: { log-rate-limit: { burst: 100, interval: 10s } }
            groups:
              web:
                services:
                  plain: { command: [tool] }
                  access: { command: [tool], stderr-priority: info, level-prefix: false }
                  numbered: { command: [tool], stderr-priority: 3, log-rate-limit: { interval: 0s } }
            """)
        let services = config.groups[0].services
        #expect(services.map(\.stderrPriority) == [4, 6, 3])
        #expect(services.map(\.levelPrefix) == [true, false, true])
        #expect(services.map(\.logRateLimit) == [
            LogRateLimit(burst: 100, interval: .seconds(10)), LogRateLimit(burst: 100, interval: .seconds(10)),
            LogRateLimit(burst: 10_000, interval: .zero),
        ])
        let standard = try onlyService(Self.serviceYAML([]))
        #expect(standard.logRateLimit == LogRateLimit(burst: 10_000, interval: .seconds(30)))
    }

    @Test func everyGroupKeyIsRead() throws {
        let config = try load("""
            groups:
              web:
                restart: always
                restart-delay: 250ms
                restart-delay-max: 2m
                max-restarts: 0
                restart-window: 1h
                required: false
                group-interrupt-timeout: 20s
                services:
                  api: { command: [tool] }

            """)
        let group = try #require(config.groups.first)
        #expect(group.restart == .always)
        #expect(group.restartDelay == .milliseconds(250))
        #expect(group.restartDelayMax == .seconds(120))
        #expect(group.maxRestarts == 0)
        #expect(group.restartWindow == .seconds(3600))
        #expect(group.required == false)
        #expect(group.groupInterruptTimeout == .seconds(20))
    }

    @Test func restartDelayLongerThanTheDefaultMaximumRaisesTheMaximum() throws {
        let config = try load("groups:\n  web:\n    restart-delay: 1m\n    services:\n      api: { command: [tool] }\n")
        #expect(config.groups[0].restartDelayMax == .seconds(60))
    }

    @Test func groupsAndServicesKeepFileOrder() throws {
        let config = try load("""
            groups:
              zeta: { services: { b: { command: [tool] }, a: { command: [tool] } } }
              alpha: { services: { only: { command: [tool] } } }

            """)
        #expect(config.groups.map(\.name) == ["zeta", "alpha"])
        #expect(config.groups[0].services.map(\.name) == ["b", "a"])
    }

    // MARK: Commands

    @Test func bareNameIsFoundInTheInjectedPath() throws {
        let service = try onlyService(Self.serviceYAML([]).replacingFirst("[tool]", with: "[sh, -c, \"exit 0\"]"),
                                      environment: ["PATH": "/nonexistent:/usr/bin:/bin"])
        #expect(service.executable == "/usr/bin/sh")
        #expect(service.command == ["sh", "-c", "exit 0"])
    }

    @Test func realPython3IsFoundInUsrBin() throws {
        let service = try onlyService(Self.serviceYAML([]).replacingFirst("[tool]", with: "[python3, -V]"),
                                      environment: ["PATH": "/usr/bin"])
        #expect(service.executable == "/usr/bin/python3")
    }

    @Test func pathSearchSkipsAFileThatIsNotExecutable() throws {
        let service = try onlyService(Self.serviceYAML([]).replacingFirst("[tool]", with: "[python3]"),
                                      environment: ["PATH": "\(Self.bin):\(ConfigFixture.bin2)"])
        #expect(service.executable == "\(ConfigFixture.bin2)/python3")
    }

    @Test func withoutPathSystemdsDefaultSearchPathIsUsed() throws {
        let service = try onlyService(Self.serviceYAML([]).replacingFirst("[tool]", with: "[sh]"), environment: [:])
        #expect(service.executable == "/usr/bin/sh")
    }

    @Test func relativeProgramPathStartsFromTheWorkingDirectory() throws {
        let service = try onlyService(Self.serviceYAML(["working-directory: \(Self.work)"])
            .replacingFirst("[tool]", with: "[./run.sh, --once]"))
        #expect(service.executable == "\(Self.work)/run.sh")
        #expect(service.command == ["./run.sh", "--once"])
        #expect(service.workingDirectory == Self.work)
    }

    @Test func numbersAndBooleansInACommandAreKeptAsWritten() throws {
        let service = try onlyService(Self.serviceYAML([]).replacingFirst("[tool]", with: "[tool, 8080, true, 0x10, 1.50]"))
        #expect(service.command == ["tool", "8080", "true", "0x10", "1.50"])
    }

    // MARK: Environment

    @Test func environmentFilesThenEnvironmentKeysWithLaterValuesWinning() throws {
        let service = try onlyService(Self.serviceYAML([
            "environment-files: [\(Self.env)/first.env, \(Self.env)/second.env]",
            "environment: { C: 5, D: six, A: \"\" }",
        ]))
        #expect(service.environment == [
            EnvironmentVariable(name: "A", value: ""),
            EnvironmentVariable(name: "B", value: "3"),
            EnvironmentVariable(name: "C", value: "5"),
            EnvironmentVariable(name: "D", value: "six"),
        ])
        #expect(service.environmentFiles == ["\(Self.env)/first.env", "\(Self.env)/second.env"])
    }

    @Test func optionalEnvironmentFileThatIsMissingIsSkipped() throws {
        let service = try onlyService(Self.serviceYAML([
            "environment-files: [-\(Self.env)/missing.env, -\(Self.env)/second.env]",
        ]))
        #expect(service.environment == [EnvironmentVariable(name: "B", value: "3"), EnvironmentVariable(name: "C", value: "4")])
        #expect(service.environmentFiles == ["-\(Self.env)/missing.env", "-\(Self.env)/second.env"])
    }

    @Test func relativeEnvironmentFileStartsFromTheConfigFilesDirectory() throws {
        let path = "\(ConfigFixture.directory)/relative.yaml"
        ConfigFixture.write(path, Self.serviceYAML(["environment-files: [env/second.env]"]), mode: 0o644)
        let config = try ConfigLoader.load(path: path, environment: ConfigFixture.environment)
        #expect(config.groups[0].services[0].environment.map(\.name) == ["B", "C"])
        #expect(config.path == path)
    }

    // MARK: Identity and signals

    @Test func userNobodyResolvesToItsIdsHomeAndGroups() throws {
        let service = try onlyService(Self.serviceYAML(["user: nobody"]))
        #expect(service.credentials == Credentials(
            userName: "nobody", uid: 65534, gid: 65534, supplementaryGroups: [65534], home: "/nonexistent", shell: "/usr/sbin/nologin"
        ))
    }

    /// The same program and directory that `user: nobody` is refused (see the error table) load
    /// for the daemon's own user, and for a user whose group opens them.
    @Test func programsAndDirectoriesAreJudgedAsTheServicesOwnUser() throws {
        let privateDirectory = ConfigFixture.privateDirectory
        let asLoader = try onlyService("""
            groups:
              web:
                services:
                  api: { command: [\(privateDirectory)/tool], working-directory: \(privateDirectory) }
            """)
        #expect(asLoader.executable == "\(privateDirectory)/tool")
        #expect(asLoader.workingDirectory == privateDirectory)
        // rootonly is 0744, owned by root: only its owner may run it. Group root does not
        // open it to nobody; user root may run it.
        let rootonly = "groups:\n  web:\n    services:\n      api:\n        command: [rootonly]\n"
        #expect(ConfigFixture.errors(rootonly + "        user: nobody\n        group: root\n").count == 1)
        let ownerRun = try onlyService(rootonly + "        user: root\n")
        #expect(ownerRun.executable == "\(Self.bin)/rootonly")
    }

    @Test func numericUserResolvesLikeItsName() throws {
        let service = try onlyService(Self.serviceYAML(["user: 65534"]))
        #expect(service.credentials?.userName == "nobody")
        #expect(service.credentials?.uid == 65534)
    }

    @Test func groupOverridesTheUsersPrimaryGroup() throws {
        let service = try onlyService(Self.serviceYAML(["user: nobody", "group: root"]))
        #expect(service.credentials == Credentials(
            userName: "nobody", uid: 65534, gid: 0, supplementaryGroups: [0], home: "/nonexistent", shell: "/usr/sbin/nologin"
        ))
    }

    @Test func groupAloneKeepsTheLoadersOwnUser() throws {
        let service = try onlyService(Self.serviceYAML(["group: nogroup"]))
        #expect(service.credentials == Credentials(
            userName: nil, uid: getuid(), gid: 65534, supplementaryGroups: [65534], home: nil
        ))
    }

    @Test(arguments: [("SIGTERM", SIGTERM), ("TERM", SIGTERM), ("sigint", SIGINT), ("hup", SIGHUP), ("9", SIGKILL), ("64", 64)])
    func stopSignalIsReadByNameOrNumber(_ written: String, _ number: Int32) throws {
        let service = try onlyService(Self.serviceYAML(["stop-signal: \(written)"]))
        #expect(service.stopSignal == number)
    }

    // MARK: Probes

    @Test func everyReadinessProbeKindIsRead() throws {
        let config = try load("""
            groups:
              web:
                services:
                  tcp: { command: [tool], ready: { tcp: "127.0.0.1:8080", timeout: 30s } }
                  tcp6: { command: [tool], ready: { tcp: "[::1]:8080" } }
                  http: { command: [tool], ready: { http: "http://localhost:8080/healthz?x=1" } }
                  exec: { command: [tool], ready: { exec: [tool, --check, 3] } }
                  log: { command: [tool], ready: { log-line: "listening on [0-9]+" } }
                  notify: { command: [tool], ready: { notify: { timeout: 30s } }, watchdog: 10s }
                  notify-true: { command: [tool], ready: { notify: true } }
                  notify-empty: { command: [tool], ready: { notify: {} } }
                  notify-null: { command: [tool], ready: { notify: , timeout: 5s } }
                  notify-word: { command: [tool], ready: notify }
                  none: { command: [tool], ready: none }

            """)
        let ready = config.groups[0].services.map(\.ready)
        #expect(ready == [
            ReadyProbe(check: .tcp(host: "127.0.0.1", port: 8080), timeout: .seconds(30)),
            ReadyProbe(check: .tcp(host: "::1", port: 8080), timeout: .seconds(60)),
            ReadyProbe(check: .http(url: "http://localhost:8080/healthz?x=1"), timeout: .seconds(60)),
            ReadyProbe(check: .exec(command: ["tool", "--check", "3"], executable: "\(Self.bin)/tool"), timeout: .seconds(60)),
            ReadyProbe(check: .logLine(pattern: "listening on [0-9]+"), timeout: .seconds(60)),
            ReadyProbe(check: .notify, timeout: .seconds(30)),
            ReadyProbe(check: .notify, timeout: .seconds(60)),
            ReadyProbe(check: .notify, timeout: .seconds(60)),
            ReadyProbe(check: .notify, timeout: .seconds(5)),
            ReadyProbe(check: .notify, timeout: .seconds(60)),
            nil,
        ])
        #expect(config.groups[0].services.map(\.watchdog) == [nil, nil, nil, nil, nil, .seconds(10), nil, nil, nil, nil, nil])
    }

    @Test func everyHealthProbeKindIsRead() throws {
        let config = try load("""
            groups:
              web:
                services:
                  tcp: { command: [tool], health: { tcp: "127.0.0.1:8080" } }
                  http: { command: [tool], health: { http: "http://127.0.0.1:8080/healthz", interval: 5s, timeout: 1s, failures: 2 } }
                  exec: { command: [tool], health: { exec: [tool, probe], failures: 1 } }

            """)
        #expect(config.groups[0].services.map(\.health) == [
            HealthProbe(check: .tcp(host: "127.0.0.1", port: 8080), interval: .seconds(10), timeout: .seconds(2), failures: 3),
            HealthProbe(check: .http(url: "http://127.0.0.1:8080/healthz"), interval: .seconds(5), timeout: .seconds(1), failures: 2),
            HealthProbe(check: .exec(command: ["tool", "probe"], executable: "\(Self.bin)/tool"), interval: .seconds(10), timeout: .seconds(2), failures: 1),
        ])
    }
}

extension String {
    /// This text with the first occurrence of `target` replaced.
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        var result = self
        result.replaceSubrange(range, with: replacement)
        return result
    }
}
