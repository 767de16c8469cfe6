import Testing
import RunnerdConfig
import RunnerdTestSupport

@Suite("Config: the summary runnerd check prints")
struct ConfigSummaryTests {
    @Test func summaryShowsEveryGroupAndServiceWithEffectivePolicies() throws {
        let bin = ConfigFixture.bin
        let env = ConfigFixture.env
        let work = ConfigFixture.work
        let yaml = """
            groups:
              web:
                services:
                  api:
                    command: [tool, --port, "8080", "hello world", "it's"]
                    ready: { tcp: "127.0.0.1:8080" }
                    health: { http: "http://127.0.0.1:8080/healthz" }
                  ticker:
                    command: [sh, -c, "while true; do echo tick; sleep 2; done"]
                    user: nobody
                    working-directory: \(work)
                    environment: { A: "1", B: "2" }
                    environment-files: [-\(env)/missing.env]
              flaky:
                restart-delay-max: 8s
                max-restarts: 1
                required: false
                services:
                  crasher:
                    command: [tool]
                    stop-signal: INT
                    interrupt-timeout: 2s
                    ready: { notify: { timeout: 30s } }
                    watchdog: 10s
              once:
                restart: never
                group-interrupt-timeout: 0s
                services:
                  job:
                    command: [tool]
                    ready: { exec: [tool, check], timeout: 1500ms }
                    health: { tcp: "[::1]:9000", interval: 1m, failures: 1 }

            """
        let config = try ConfigLoader.parse(yaml: yaml, path: "runnerd.yaml", environment: ["PATH": "\(bin):/usr/bin"])
        #expect(config.summary == """
            runnerd.yaml: 3 groups, 4 services
            group web (required; restart on-failure, 1s doubling to 30s, at most 5 restarts in 5m; group stop limit 15s)
              api     \(bin)/tool --port 8080 'hello world' 'it'\\''s'  (stop SIGTERM, kill after 10s; ready tcp 127.0.0.1:8080 within 1m; health http http://127.0.0.1:8080/healthz every 10s, timeout 2s, failing after 3 failures)
              ticker  /usr/bin/sh -c 'while true; do echo tick; sleep 2; done'  (stop SIGTERM, kill after 10s; user nobody (uid 65534, gid 65534); in \(work); 2 env vars; env files -\(env)/missing.env)
            group flaky (optional; restart on-failure, 1s doubling to 8s, at most 1 restart in 5m; group stop limit 15s)
              crasher  \(bin)/tool  (stop SIGINT, kill after 2s; ready notify within 30s; watchdog 10s)
            group once (required; never restarted; group stop limit 0s)
              job  \(bin)/tool  (stop SIGTERM, kill after 10s; ready exec \(bin)/tool check within 1s500ms; health tcp [::1]:9000 every 1m, timeout 2s, failing after 1 failure)
            """)
        #expect(ConfigSummary(config).lines.count == 8)
    }

    @Test func fixedAndImmediateRestartDelaysReadNaturally() throws {
        let yaml = """
            groups:
              fixed: { restart: always, restart-delay: 5s, restart-delay-max: 5s, services: { s: { command: [tool] } } }
              immediate: { restart-delay: 0s, services: { s: { command: [tool] } } }

            """
        let config = try ConfigLoader.parse(yaml: yaml, path: "a.yaml", environment: ConfigFixture.environment)
        let lines = ConfigSummary(config).lines
        #expect(lines[0] == "a.yaml: 2 groups, 2 services")
        #expect(lines[1] == "group fixed (required; restart always, after 5s, at most 5 restarts in 5m; group stop limit 15s)")
        #expect(lines[3] == "group immediate (required; restart on-failure, at once, at most 5 restarts in 5m; group stop limit 15s)")
    }
}
