import RunnerdConfig

/// One invalid config and exactly what the loader must say about it.
public struct ConfigErrorCase: Sendable, CustomStringConvertible {
    public let name: String
    public let yaml: String
    public let expected: [String]

    public init(name: String, yaml: String, expected: [String]) {
        self.name = name
        self.yaml = yaml
        self.expected = expected
    }

    public var description: String { name }

    /// A valid one-service config (`groups.web.services.api` running `tool` from the fixture's
    /// PATH) with `lines` added to the service, starting at line 6, column 9.
    public static func service(_ name: String, _ lines: [String], _ expected: [String]) -> ConfigErrorCase {
        ConfigErrorCase(name: name, yaml: serviceYAML(lines), expected: expected)
    }

    public static func serviceYAML(_ lines: [String]) -> String {
        (["groups:", "  web:", "    services:", "      api:", "        command: [tool]"] + lines.map { "        " + $0 })
            .joined(separator: "\n") + "\n"
    }

    /// A valid group `web` (its service on lines 2-5) with `lines` added to the group from line 6, column 5.
    public static func group(_ name: String, _ lines: [String], _ expected: [String]) -> ConfigErrorCase {
        let yaml = (["groups:", "  web:", "    services:", "      api:", "        command: [tool]"] + lines.map { "    " + $0 })
            .joined(separator: "\n") + "\n"
        return ConfigErrorCase(name: name, yaml: yaml, expected: expected)
    }
}

extension ConfigErrorCase {
    static let api = "groups.web.services.api"
    static let bin = ConfigFixture.bin
    static let env = ConfigFixture.env
    static let work = ConfigFixture.work
    static let privateDirectory = ConfigFixture.privateDirectory

    /// Every bad config the loader must reject, with its exact messages; shared by the loader's
    /// tests and by `runnerd check`'s, which run the binary on each.
    public static let table: [ConfigErrorCase] = [
        // The file as a whole.
        ConfigErrorCase(
            name: "YAML syntax error at libyaml's position", yaml: "groups:\n  web: [1, 2\n",
            expected: ["runnerd.yaml:3:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence from line 2, column 8); check the indentation, quotes and brackets here"]
        ),
        ConfigErrorCase(
            name: "a bad indentation", yaml: "groups:\n  web:\n    services: {}\n   oops: 1\n",
            expected: ["runnerd.yaml:4:4: invalid YAML: did not find expected key (while parsing a block mapping from line 2, column 3); check the indentation, quotes and brackets here"]
        ),
        ConfigErrorCase(
            name: "an empty file", yaml: "",
            expected: ["runnerd.yaml:1:1: groups: is missing: the file is empty; add groups: with at least one group"]
        ),
        ConfigErrorCase(
            name: "a list at the top", yaml: "- web\n",
            expected: ["runnerd.yaml:1:1: is a list; a config is a map with groups: (and optionally defaults:)"]
        ),
        ConfigErrorCase(
            name: "no groups", yaml: "defaults: { interrupt-timeout: 5s }\n",
            expected: ["runnerd.yaml:1:1: groups: is missing; add groups: with at least one group"]
        ),
        ConfigErrorCase(
            name: "an empty groups map", yaml: "groups: {}\n",
            expected: ["runnerd.yaml:1:9: groups: has no groups; add at least one group with its services"]
        ),
        ConfigErrorCase(
            name: "groups without a value", yaml: "groups:\n",
            expected: ["runnerd.yaml:1:8: groups: has no value; write a map of group names to groups, e.g. groups: { web: { services: ... } }"]
        ),
        ConfigErrorCase(
            name: "a misspelt top-level key", yaml: "group:\n  web: {}\n",
            expected: [
                "runnerd.yaml:1:1: group: unknown key; did you mean groups?",
                "runnerd.yaml:1:1: groups: is missing; add groups: with at least one group",
            ]
        ),
        ConfigErrorCase(
            name: "an unknown key in defaults", yaml: "defaults: { restart: never }\ngroups:\n  web: { services: { api: { command: [tool] } } }\n",
            expected: ["runnerd.yaml:1:13: defaults.restart: unknown key; defaults: holds only interrupt-timeout, group-interrupt-timeout, log-rate-limit and control-group; set restart on each group or service"]
        ),
        ConfigErrorCase(
            name: "a control group that does not exist", yaml: "defaults: { control-group: no-such-group-here }\ngroups:\n  web: { services: { api: { command: [tool] } } }\n",
            expected: ["runnerd.yaml:1:28: defaults.control-group: \"no-such-group-here\" is not a group on this host; create it (groupadd no-such-group-here) or fix the name"]
        ),
        // Groups.
        ConfigErrorCase(
            name: "a group without services", yaml: "groups:\n  web:\n    restart: always\n",
            expected: ["runnerd.yaml:2:3: groups.web.services: is missing; add services: with at least one service"]
        ),
        ConfigErrorCase(
            name: "a group with an empty services map", yaml: "groups:\n  web:\n    services: {}\n",
            expected: ["runnerd.yaml:3:15: groups.web.services: has no services; add at least one service with its command"]
        ),
        ConfigErrorCase(
            name: "services written as a list", yaml: "groups:\n  web:\n    services:\n      - api\n",
            expected: ["runnerd.yaml:4:7: groups.web.services: is a list; write a map of service names to services, e.g. services: { api: { command: [...] } }"]
        ),
        ConfigErrorCase(
            name: "a service written as a word", yaml: "groups:\n  web:\n    services:\n      api: tool\n",
            expected: [#"runnerd.yaml:4:12: groups.web.services.api: "tool" is not a map; write a map with command: and the service's settings"#]
        ),
        ConfigErrorCase(
            name: "a duplicate group name", yaml: "groups:\n  web: { services: { api: { command: [tool] } } }\n  web: { services: { api: { command: [tool] } } }\n",
            expected: ["runnerd.yaml:3:3: groups.web: a group of this name is already defined; the first is on line 2; rename or remove one"]
        ),
        ConfigErrorCase(
            name: "an invalid group name", yaml: "groups:\n  \"my web\": { services: { api: { command: [tool] } } }\n",
            expected: [#"runnerd.yaml:2:3: groups.my web: "my web" is not a valid group name; use up to 64 letters, digits, ".", "_" and "-", starting with a letter, digit or "_""#]
        ),
        .group(
            "a misspelt group key", ["restart-dealy: 2s"],
            ["runnerd.yaml:6:5: groups.web.restart-dealy: unknown key; did you mean restart-delay?"]
        ),
        .group(
            "a service key on a group", ["user: nobody"],
            ["runnerd.yaml:6:5: groups.web.user: unknown key; user is a service setting, so put it under groups.web.services.NAME"]
        ),
        .group(
            "an unknown group key", ["colour: blue"],
            ["runnerd.yaml:6:5: groups.web.colour: unknown key; valid keys here are restart, restart-delay, restart-delay-max, max-restarts, restart-window, required, group-interrupt-timeout, services, after, binds-to, memory-max, memory-high, cpu-weight, cpu-max, tasks-max and io-weight"]
        ),
        .group(
            "an unknown restart mode", ["restart: on_failure"],
            [#"runnerd.yaml:6:14: groups.web.restart: "on_failure" is not a restart mode; did you mean on-failure?"#]
        ),
        .group(
            "a restart mode far from any", ["restart: sometimes"],
            [#"runnerd.yaml:6:14: groups.web.restart: "sometimes" is not a restart mode; write never, on-failure or always"#]
        ),
        .group(
            "max-restarts as a fraction", ["max-restarts: 2.5"],
            [#"runnerd.yaml:6:19: groups.web.max-restarts: "2.5" is not a whole number; write a number such as 5"#]
        ),
        .group(
            "negative max-restarts", ["max-restarts: -1"],
            [#"runnerd.yaml:6:19: groups.web.max-restarts: "-1" is negative; write 0 or more, e.g. 5"#]
        ),
        .group(
            "max-restarts as a list", ["max-restarts: [5]"],
            ["runnerd.yaml:6:19: groups.web.max-restarts: is a list; write a whole number such as 5"]
        ),
        .group(
            "required as yes", ["required: yes"],
            [#"runnerd.yaml:6:15: groups.web.required: "yes" is not true or false; write true or false"#]
        ),
        .group(
            "required quoted", [#"required: "false""#],
            [#"runnerd.yaml:6:15: groups.web.required: "false" is quoted, so it is text; write false without quotes"#]
        ),
        .group(
            "restart-delay-max shorter than restart-delay", ["restart-delay: 10s", "restart-delay-max: 500ms"],
            ["runnerd.yaml:7:24: groups.web.restart-delay-max: 500ms is shorter than restart-delay 10s; make it at least 10s"]
        ),
        .group(
            "a zero restart window", ["restart-window: 0s"],
            [#"runnerd.yaml:6:21: groups.web.restart-window: "0s" must be longer than 0; write e.g. 5m"#]
        ),
        .group(
            "a key set twice", ["required: true", "required: false"],
            ["runnerd.yaml:7:5: groups.web.required: is set twice; the first is on line 6; remove one"]
        ),
        // Durations.
        .service(
            "a duration without a unit", ["interrupt-timeout: 10"],
            [#"runnerd.yaml:6:28: groups.web.services.api.interrupt-timeout: "10" has no unit; write e.g. 10s"#]
        ),
        .service(
            "a quoted duration without a unit", [#"interrupt-timeout: "10""#],
            [#"runnerd.yaml:6:28: groups.web.services.api.interrupt-timeout: "10" has no unit; write e.g. 10s"#]
        ),
        .service(
            "a negative duration", ["interrupt-timeout: -5s"],
            [#"runnerd.yaml:6:28: groups.web.services.api.interrupt-timeout: "-5s" is negative; write 0 or more, e.g. 10s"#]
        ),
        .service(
            "a duration with an unknown unit", ["interrupt-timeout: 10sec"],
            [#"runnerd.yaml:6:28: groups.web.services.api.interrupt-timeout: "10sec" has an unknown unit "sec"; use ms, s, m or h, e.g. 10s"#]
        ),
        .service(
            "a word for a duration", ["interrupt-timeout: soon"],
            [#"runnerd.yaml:6:28: groups.web.services.api.interrupt-timeout: "soon" is not a duration; write e.g. 10s, 250ms or 1m30s"#]
        ),
        .service(
            "a map for a duration", ["interrupt-timeout: { seconds: 10 }"],
            ["runnerd.yaml:6:28: groups.web.services.api.interrupt-timeout: is a map; write a duration, e.g. 10s"]
        ),
        // Commands.
        ConfigErrorCase(
            name: "a service without a command", yaml: "groups:\n  web:\n    services:\n      api:\n        user: nobody\n",
            expected: [#"runnerd.yaml:4:7: groups.web.services.api.command: is missing; write the program and its arguments as a list, e.g. command: ["/usr/bin/api", "--port", "8080"]"#]
        ),
        ConfigErrorCase(
            name: "an empty command", yaml: "groups:\n  web:\n    services:\n      api:\n        command: []\n",
            expected: [#"runnerd.yaml:5:18: groups.web.services.api.command: is empty; name the program to run and its arguments, e.g. ["/usr/bin/api", "--port", "8080"]"#]
        ),
        ConfigErrorCase(
            name: "a command written as a string", yaml: "groups:\n  web:\n    services:\n      api:\n        command: tool --fast\n",
            expected: [#"runnerd.yaml:5:18: groups.web.services.api.command: is a string, not a list; write the program and its arguments as a list, e.g. ["tool", "--fast"]"#]
        ),
        ConfigErrorCase(
            name: "an empty program name", yaml: "groups:\n  web:\n    services:\n      api:\n        command: [\"\", x]\n",
            expected: ["runnerd.yaml:5:19: groups.web.services.api.command[0]: is empty; name the program to run, e.g. /usr/bin/api"]
        ),
        ConfigErrorCase(
            name: "a map inside a command", yaml: "groups:\n  web:\n    services:\n      api:\n        command: [tool, {a: 1}]\n",
            expected: ["runnerd.yaml:5:25: groups.web.services.api.command[1]: is a map; write a string (quote it if it looks like a number or ~)"]
        ),
        ConfigErrorCase(
            name: "a program not in PATH", yaml: "groups:\n  web:\n    services:\n      api:\n        command: [pytohn3, -V]\n",
            expected: [#"runnerd.yaml:5:19: groups.web.services.api.command[0]: "pytohn3" was not found in PATH (\#(bin)); install it or write its full path"#]
        ),
        ConfigErrorCase(
            name: "a program found in PATH but not executable", yaml: "groups:\n  web:\n    services:\n      api:\n        command: [plain]\n",
            expected: [#"runnerd.yaml:5:19: groups.web.services.api.command[0]: "plain" was found at \#(bin)/plain, which is not executable; chmod +x it or write another path"#]
        ),
        ConfigErrorCase(
            name: "a program path that does not exist", yaml: "groups:\n  web:\n    services:\n      api:\n        command: [\(bin)/missing]\n",
            expected: ["runnerd.yaml:5:19: groups.web.services.api.command[0]: \(bin)/missing does not exist; install it or fix the path"]
        ),
        ConfigErrorCase(
            name: "a program path that is not executable", yaml: "groups:\n  web:\n    services:\n      api:\n        command: [\(bin)/plain]\n",
            expected: ["runnerd.yaml:5:19: groups.web.services.api.command[0]: \(bin)/plain is not executable; chmod +x it or name another program"]
        ),
        ConfigErrorCase(
            name: "a program path that is a directory", yaml: "groups:\n  web:\n    services:\n      api:\n        command: [\(work)]\n",
            expected: ["runnerd.yaml:5:19: groups.web.services.api.command[0]: \(work) is a directory; name the program inside it"]
        ),
        // Judged as the service's user, not as the root that loads the config.
        ConfigErrorCase(
            name: "a program the service's user cannot execute",
            yaml: "groups:\n  web:\n    services:\n      api:\n        command: [\(bin)/rootonly]\n        user: nobody\n",
            expected: ["runnerd.yaml:5:19: groups.web.services.api.command[0]: \(bin)/rootonly is not executable by nobody, the service's user; chmod it (o+x, or g+x for a group of nobody) or name another program"]
        ),
        ConfigErrorCase(
            name: "a program in PATH the service's user cannot execute",
            yaml: "groups:\n  web:\n    services:\n      api:\n        command: [rootonly]\n        user: nobody\n",
            expected: ["runnerd.yaml:5:19: groups.web.services.api.command[0]: \(bin)/rootonly is not executable by nobody, the service's user; chmod it (o+x, or g+x for a group of nobody) or name another program"]
        ),
        ConfigErrorCase(
            name: "a program in a directory the service's user cannot search",
            yaml: "groups:\n  web:\n    services:\n      api:\n        command: [\(privateDirectory)/tool]\n        user: nobody\n",
            expected: ["runnerd.yaml:5:19: groups.web.services.api.command[0]: \(privateDirectory)/tool is out of reach of nobody, the service's user: \(privateDirectory) is not searchable for it; chmod o+x \(privateDirectory) or move the program"]
        ),
        .service(
            "a working directory the service's user cannot enter", ["working-directory: \(privateDirectory)", "user: nobody"],
            ["runnerd.yaml:6:28: groups.web.services.api.working-directory: \(privateDirectory) cannot be entered by nobody, the service's user: \(privateDirectory) is not searchable for it; chmod o+x \(privateDirectory) or fix the path"]
        ),
        // Working directory, identity, signal.
        .service(
            "a relative working directory", ["working-directory: srv/api"],
            [#"runnerd.yaml:6:28: groups.web.services.api.working-directory: "srv/api" is not an absolute path; write it from /, e.g. /srv/srv/api"#]
        ),
        .service(
            "a working directory that does not exist", ["working-directory: \(work)/missing"],
            ["runnerd.yaml:6:28: groups.web.services.api.working-directory: \(work)/missing does not exist; create it or fix the path"]
        ),
        .service(
            "a working directory that is a file", ["working-directory: \(work)/run.sh"],
            ["runnerd.yaml:6:28: groups.web.services.api.working-directory: \(work)/run.sh is not a directory; name a directory"]
        ),
        .service(
            "an unknown user", ["user: no-such-user-x"],
            [#"runnerd.yaml:6:15: groups.web.services.api.user: "no-such-user-x" is not a user on this host; create it (useradd) or fix the name"#]
        ),
        .service(
            "an unknown group", ["group: no-such-group-x"],
            [#"runnerd.yaml:6:16: groups.web.services.api.group: "no-such-group-x" is not a group on this host; create it (groupadd) or fix the name"#]
        ),
        .service(
            "a misspelt signal", ["stop-signal: SIGTREM"],
            [#"runnerd.yaml:6:22: groups.web.services.api.stop-signal: "SIGTREM" is not a signal; did you mean SIGTERM?"#]
        ),
        .service(
            "a signal number out of range", ["stop-signal: 65"],
            [#"runnerd.yaml:6:22: groups.web.services.api.stop-signal: "65" is not a signal; write a name like SIGTERM or TERM, or a number from 1 to 64"#]
        ),
        .service(
            "a group key on a service", ["restart: always"],
            ["runnerd.yaml:6:9: groups.web.services.api.restart: unknown key; restart is a group setting, so put it directly under groups.web"]
        ),
        ConfigErrorCase(
            name: "a duplicate service name",
            yaml: "groups:\n  web:\n    services:\n      api: { command: [tool] }\n      api: { command: [tool] }\n",
            expected: ["runnerd.yaml:5:7: groups.web.services.api: a service of this name is already in this group; the first is on line 4; rename or remove one"]
        ),
        // Environment.
        .service(
            "an environment file that does not exist", ["environment-files: [\(env)/missing.env]"],
            ["runnerd.yaml:6:29: groups.web.services.api.environment-files[0]: cannot read \(env)/missing.env: No such file or directory; create it, or write -\(env)/missing.env to make it optional"]
        ),
        // Names and numbers written oddly.
        ConfigErrorCase(
            name: "a service name with a newline", yaml: "groups:\n  web:\n    services:\n      \"a\\nb\": { command: [tool] }\n",
            expected: [#"runnerd.yaml:4:7: groups.web.services."a\nb": "a\nb" is not a valid service name; use up to 64 letters, digits, ".", "_" and "-", starting with a letter, digit or "_""#]
        ),
        ConfigErrorCase(
            name: "a group name with an escape character", yaml: "groups:\n  \"web\\e[31m\":\n    services:\n      api: { command: [tool] }\n",
            expected: [#"runnerd.yaml:2:3: groups."web\u{1B}[31m": "web\u{1B}[31m" is not a valid group name; use up to 64 letters, digits, ".", "_" and "-", starting with a letter, digit or "_""#]
        ),
        .group(
            "max-restarts with a plus sign", ["max-restarts: +5"],
            [#"runnerd.yaml:6:19: groups.web.max-restarts: "+5" is not written in decimal digits; write e.g. 5"#]
        ),
        // NUL bytes: a C string would end there, silently.
        ConfigErrorCase(
            name: "a NUL byte in a command word", yaml: "groups:\n  web:\n    services:\n      api:\n        command: [tool, \"a\\0b\"]\n",
            expected: [#"runnerd.yaml:5:25: groups.web.services.api.command[1]: "a\0b" contains a NUL byte, which no argument, path, name or variable can hold; remove it"#]
        ),
        .service(
            "a NUL byte in an environment value", [#"environment: { A: "x\0y" }"#],
            [#"runnerd.yaml:6:27: groups.web.services.api.environment.A: "x\0y" contains a NUL byte, which no argument, path, name or variable can hold; remove it"#]
        ),
        .service(
            "a NUL byte in a working directory", [#"working-directory: "/tmp\0/x""#],
            [#"runnerd.yaml:6:28: groups.web.services.api.working-directory: "/tmp\0/x" contains a NUL byte, which no argument, path, name or variable can hold; remove it"#]
        ),
        .service(
            "a NUL byte in a user", [#"user: "nobody\0x""#],
            [#"runnerd.yaml:6:15: groups.web.services.api.user: "nobody\0x" contains a NUL byte, which no argument, path, name or variable can hold; remove it"#]
        ),
        .service(
            "a NUL byte in an environment file's value", ["environment-files: [\(env)/nul.env]"],
            ["runnerd.yaml:6:29: groups.web.services.api.environment-files[0]: \(env)/nul.env:1: the value of A contains a NUL byte, which no environment variable can hold; remove it"]
        ),
        .service(
            "a FIFO as an environment file", ["environment-files: [\(env)/fifo]"],
            ["runnerd.yaml:6:29: groups.web.services.api.environment-files[0]: cannot read \(env)/fifo: it is a FIFO, not a regular file; name a regular file"]
        ),
        .service(
            "a device as an environment file", ["environment-files: [/dev/zero]"],
            ["runnerd.yaml:6:29: groups.web.services.api.environment-files[0]: cannot read /dev/zero: it is a character device, not a regular file; name a regular file"]
        ),
        .service(
            "an environment file past 1 MiB", ["environment-files: [\(env)/large.env]"],
            ["runnerd.yaml:6:29: groups.web.services.api.environment-files[0]: cannot read \(env)/large.env: it is larger than 1 MiB; that is the limit for an environment file, so trim it"]
        ),
        .service(
            "an environment file that cannot be read", ["environment-files: [\(env)/a-directory]"],
            ["runnerd.yaml:6:29: groups.web.services.api.environment-files[0]: cannot read \(env)/a-directory: Is a directory; make it a file that root can read"]
        ),
        .service(
            "invalid lines in an environment file", ["environment-files: [\(env)/bad.env]"],
            [
                #"runnerd.yaml:6:29: groups.web.services.api.environment-files[0]: \#(env)/bad.env:2: "1BAD" is not a valid variable name; use letters, digits and _, not starting with a digit"#,
                #"runnerd.yaml:6:29: groups.web.services.api.environment-files[0]: \#(env)/bad.env:3: "NOEQUALS" has no "="; write NOEQUALS=value"#,
                #"runnerd.yaml:6:29: groups.web.services.api.environment-files[0]: \#(env)/bad.env:4: "export E" is not a valid variable name; systemd reads no "export", so drop it"#,
            ]
        ),
        .service(
            "environment files written as one string", ["environment-files: /etc/default/api"],
            ["runnerd.yaml:6:28: groups.web.services.api.environment-files: is a string, not a list; write a list, e.g. [/etc/default/api]"]
        ),
        .service(
            "an invalid variable name", ["environment: { 2FAST: yes }"],
            [#"runnerd.yaml:6:24: groups.web.services.api.environment.2FAST: "2FAST" is not a valid variable name; use letters, digits and _, not starting with a digit"#]
        ),
        .service(
            "a variable set twice", ["environment:", "  LEVEL: info", "  LEVEL: debug"],
            ["runnerd.yaml:8:11: groups.web.services.api.environment.LEVEL: this variable is already set; the first is on line 7; rename or remove one"]
        ),
        .service(
            "a variable with a list value", ["environment: { PORTS: [1, 2] }"],
            [#"runnerd.yaml:6:31: groups.web.services.api.environment.PORTS: is a list; write text, e.g. PORTS: info, or PORTS: "" for an empty value"#]
        ),
        // Probes.
        .service(
            "a probe with two checks", [#"ready: { tcp: "127.0.0.1:8080", http: "http://127.0.0.1:8080/" }"#],
            ["runnerd.yaml:6:41: groups.web.services.api.ready.http: a probe has one check, and tcp is already set on line 6; remove one"]
        ),
        .service(
            "a probe with no check", ["ready: { timeout: 5s }"],
            [#"runnerd.yaml:6:9: groups.web.services.api.ready: names no check; add one of tcp, http, exec, log-line or notify, e.g. ready: { tcp: "127.0.0.1:8080" }"#]
        ),
        .service(
            "a tcp probe without a port", [#"ready: { tcp: "127.0.0.1" }"#],
            [#"runnerd.yaml:6:23: groups.web.services.api.ready.tcp: "127.0.0.1" has no port; write host:port, e.g. 127.0.0.1:8080"#]
        ),
        .service(
            "a tcp probe with a bad port", [#"ready: { tcp: "localhost:99999" }"#],
            [#"runnerd.yaml:6:23: groups.web.services.api.ready.tcp: "localhost:99999" has an invalid port; use 1 to 65535; write host:port, e.g. 127.0.0.1:8080"#]
        ),
        .service(
            "an https probe", [#"ready: { http: "https://127.0.0.1/" }"#],
            [#"runnerd.yaml:6:24: groups.web.services.api.ready.http: "https://127.0.0.1/" uses https, which the probe does not speak; probe a plain http:// address, e.g. http://127.0.0.1:8080/healthz"#]
        ),
        .service(
            "an invalid log-line pattern", [#"ready: { log-line: "listening (on" }"#],
            [#"runnerd.yaml:6:28: groups.web.services.api.ready.log-line: "listening (on" is not a valid regular expression: the ( at character 11 is not closed; close it with ), or write \( to match a ("#]
        ),
        .service(
            "a log-line pattern with a backreference", [#"ready: { log-line: '(ready) \1' }"#],
            [#"runnerd.yaml:6:28: groups.web.services.api.ready.log-line: "(ready) \\1" uses the backreference \1 at character 9, which needs backtracking; log-line patterns run in linear time, so that no line can stall the daemon: repeat the text itself instead"#]
        ),
        .service(
            "a log-line pattern with a lookahead", [#"ready: { log-line: "ready(?! not)" }"#],
            [#"runnerd.yaml:6:28: groups.web.services.api.ready.log-line: "ready(?! not)" uses a lookahead (?! at character 6, which needs backtracking; log-line patterns run in linear time, so that no line can stall the daemon: match the text after it as part of the pattern"#]
        ),
        .service(
            "a log-line pattern with a possessive quantifier", [#"ready: { log-line: "ready.*+" }"#],
            [#"runnerd.yaml:6:28: groups.web.services.api.ready.log-line: "ready.*+" uses the possessive quantifier *+ at character 7, which log-line patterns do not support; write * instead"#]
        ),
        .service(
            "a log-line pattern with an inline option", [#"ready: { log-line: "(?m)^ready" }"#],
            [#"runnerd.yaml:6:28: groups.web.services.api.ready.log-line: "(?m)^ready" uses the inline option (?m at character 1, which log-line patterns do not support; only (?i) at the very start is supported, for case-insensitive matching"#]
        ),
        .service(
            "a log-line pattern with too large a count", [#"ready: { log-line: "^a{5000}$" }"#],
            [#"runnerd.yaml:6:28: groups.web.services.api.ready.log-line: "^a{5000}$" repeats {5000} at character 3, more than the 1000 times a log-line pattern may count; use + or * for long runs"#]
        ),
        .service(
            "notify turned off", ["ready: { notify: false }"],
            [#"runnerd.yaml:6:26: groups.web.services.api.ready.notify: "false" turns no probe on; write notify: true, or remove ready:"#]
        ),
        .service(
            "an exec probe with an empty command", ["ready: { exec: [] }"],
            [#"runnerd.yaml:6:24: groups.web.services.api.ready.exec: is empty; name the program to run and its arguments, e.g. ["/usr/bin/api", "--port", "8080"]"#]
        ),
        .service(
            "a misspelt probe key", [#"ready: { tcp: "127.0.0.1:80", timout: 5s }"#],
            ["runnerd.yaml:6:39: groups.web.services.api.ready.timout: unknown key; did you mean timeout?"]
        ),
        .service(
            "log-line as a health check", [#"health: { log-line: "ok" }"#],
            [
                #"runnerd.yaml:6:9: groups.web.services.api.health: names no check; add one of tcp, http or exec, e.g. health: { http: "http://127.0.0.1:8080/healthz" }"#,
                "runnerd.yaml:6:19: groups.web.services.api.health.log-line: unknown key; log-line only tells when a service is ready; health: checks with tcp, http or exec",
            ]
        ),
        .service(
            "zero health failures", [#"health: { tcp: "127.0.0.1:80", failures: 0 }"#],
            [#"runnerd.yaml:6:50: groups.web.services.api.health.failures: "0" is too small; write at least 1, e.g. 3"#]
        ),
        .group(
            "a restart window that rounds to zero", ["restart-window: 0.0000001s"],
            [#"runnerd.yaml:6:21: groups.web.restart-window: "0.0000001s" is shorter than 1ms, the shortest runnerd waits; write e.g. 5m"#]
        ),
        .service(
            "a health interval below a millisecond", [#"health: { tcp: "127.0.0.1:80", interval: 0.0000001s }"#],
            [#"runnerd.yaml:6:50: groups.web.services.api.health.interval: "0.0000001s" is shorter than 1ms, the shortest runnerd waits; write e.g. 10s"#]
        ),
        .service(
            "a health timeout below a millisecond", [#"health: { tcp: "127.0.0.1:80", timeout: 0.5ms }"#],
            [#"runnerd.yaml:6:49: groups.web.services.api.health.timeout: "0.5ms" is shorter than 1ms, the shortest runnerd waits; write e.g. 2s"#]
        ),
        .service(
            "a ready timeout below a millisecond", [#"ready: { tcp: "127.0.0.1:80", timeout: 0.0000001s }"#],
            [#"runnerd.yaml:6:48: groups.web.services.api.ready.timeout: "0.0000001s" is shorter than 1ms, the shortest runnerd waits; write e.g. 1m"#]
        ),
        .service(
            "a watchdog below a millisecond", ["ready: { notify: true }", "watchdog: 0.0000001s"],
            [#"runnerd.yaml:7:19: groups.web.services.api.watchdog: "0.0000001s" is shorter than 1ms, the shortest runnerd waits; write e.g. 10s"#]
        ),
        .service(
            "a zero health interval", [#"health: { tcp: "127.0.0.1:80", interval: 0s }"#],
            [#"runnerd.yaml:6:50: groups.web.services.api.health.interval: "0s" must be longer than 0; write e.g. 10s"#]
        ),
        .service(
            "a watchdog without notify", ["watchdog: 10s"],
            ["runnerd.yaml:6:9: groups.web.services.api.watchdog: needs ready: notify, since the service pings it with WATCHDOG=1 on its notify socket; add ready: { notify: true } or remove watchdog"]
        ),
        ConfigErrorCase(
            name: "a YAML merge key",
            yaml: "x: &base { restart: always }\ngroups:\n  web:\n    <<: *base\n    services: { api: { command: [tool] } }\n",
            expected: [
                "runnerd.yaml:1:1: x: unknown key; valid keys here are defaults and groups",
                "runnerd.yaml:4:5: groups.web.<<: YAML merge keys (<<) are not supported; write the settings out, or put shared limits in defaults:",
            ]
        ),
        .service(
            "a duplicate key in a flow map keeps later columns right", [#"ready: { timeout: 5s, timeout: 6s, tcp: 8080 }"#],
            [
                "runnerd.yaml:6:31: groups.web.services.api.ready.timeout: is set twice; the first is on line 6; remove one",
                #"runnerd.yaml:6:49: groups.web.services.api.ready.tcp: "8080" has no port; write host:port, e.g. 127.0.0.1:8080"#,
            ]
        ),
        .service(
            "stderr-priority that is not a syslog priority", ["stderr-priority: loud"],
            [#"runnerd.yaml:6:26: groups.web.services.api.stderr-priority: "loud" is not a syslog priority; write one of emerg, alert, crit, err, warning, notice, info or debug, or a number from 0 to 7"#]
        ),
        .service(
            "level-prefix that is not a boolean", ["level-prefix: maybe"],
            [#"runnerd.yaml:6:23: groups.web.services.api.level-prefix: "maybe" is not true or false; write true or false"#]
        ),
        .service(
            "log-rate-limit with a zero burst and an interval that is not a duration", ["log-rate-limit: { burst: 0, interval: soon }"],
            [
                #"runnerd.yaml:6:34: groups.web.services.api.log-rate-limit.burst: "0" is too small; write at least 1, e.g. 10000"#,
                #"runnerd.yaml:6:47: groups.web.services.api.log-rate-limit.interval: "soon" is not a duration; write e.g. 30s, 250ms or 1m30s"#,
            ]
        ),
        // Order (issue 17): unknown names, a service after another group's service, cycles.
        ConfigErrorCase(
            name: "after: naming an unknown service",
            yaml: "groups:\n  web:\n    services:\n      api:\n        command: [tool]\n        after: [dbb]\n      db:\n        command: [tool]\n",
            expected: [#"runnerd.yaml:6:17: groups.web.services.api.after[0]: "dbb" is not a service of group web; did you mean db?"#]
        ),
        .group(
            "after: naming an unknown group", ["after: [nope]"],
            [#"runnerd.yaml:6:13: groups.web.after[0]: "nope" is not a group; the groups are web"#]
        ),
        ConfigErrorCase(
            name: "binds-to: naming a misspelt group",
            yaml: "groups:\n  data:\n    services: { db: { command: [tool] } }\n  web:\n    binds-to: [dat]\n    services: { api: { command: [tool] } }\n",
            expected: [#"runnerd.yaml:5:16: groups.web.binds-to[0]: "dat" is not a group; did you mean data?"#]
        ),
        ConfigErrorCase(
            name: "a service after a service of another group",
            yaml: "groups:\n  data:\n    services:\n      db:\n        command: [tool]\n  web:\n    services:\n      api:\n        command: [tool]\n        after: [db]\n",
            expected: [#"runnerd.yaml:10:17: groups.web.services.api.after[0]: "db" is a service of group data, not of web; a service starts only after services of its own group, so write after: [data] on group web instead"#]
        ),
        .service(
            "a cycle of length 1: a service after itself", ["after: [api]"],
            ["runnerd.yaml:6:17: groups.web.services.api.after[0]: api starts after itself: api (runnerd.yaml:4) -> api; remove api from its after:"]
        ),
        ConfigErrorCase(
            name: "a cycle of length 2 between groups, through after: and binds-to:",
            yaml: "groups:\n  a:\n    after: [b]\n    services: { s: { command: [tool] } }\n  b:\n    binds-to: [a]\n    services: { s: { command: [tool] } }\n",
            expected: ["runnerd.yaml:3:13: groups.a.after[0]: a cycle: a (runnerd.yaml:2) -> b (runnerd.yaml:5) -> a; remove one of these after: or binds-to: entries"]
        ),
        ConfigErrorCase(
            name: "a cycle of length 5 between services",
            yaml: "groups:\n  web:\n    services:\n      s1: { command: [tool], after: [s2] }\n      s2: { command: [tool], after: [s3] }\n      s3: { command: [tool], after: [s4] }\n      s4: { command: [tool], after: [s5] }\n      s5: { command: [tool], after: [s1] }\n",
            expected: ["runnerd.yaml:4:38: groups.web.services.s1.after[0]: a cycle: s1 (runnerd.yaml:4) -> s2 (runnerd.yaml:5) -> s3 (runnerd.yaml:6) -> s4 (runnerd.yaml:7) -> s5 (runnerd.yaml:8) -> s1; remove one of these after: entries"]
        ),
        .service(
            "timeout: on a service that is not a oneshot", ["timeout: 1m"],
            ["runnerd.yaml:6:9: groups.web.services.api.timeout: applies only to type: oneshot; a long-running service's start limit is ready: { timeout: ... }, so move it there or add type: oneshot"]
        ),
        .service(
            "ready: on a oneshot", ["type: oneshot", "ready: { tcp: 127.0.0.1:80 }"],
            ["runnerd.yaml:7:9: groups.web.services.api.ready: does not apply to type: oneshot, which counts as ready once it exits 0; remove ready"]
        ),
        .service(
            "a misspelt service type", ["type: oneshop"],
            [#"runnerd.yaml:6:15: groups.web.services.api.type: "oneshop" is not a service type; did you mean oneshot?"#]
        ),
        .service(
            "after: given twice the same name", ["after: [api, api]"],
            [
                "runnerd.yaml:6:17: groups.web.services.api.after[0]: api starts after itself: api (runnerd.yaml:4) -> api; remove api from its after:",
                #"runnerd.yaml:6:22: groups.web.services.api.after[1]: "api" is listed twice; remove one"#,
            ]
        ),
        ConfigErrorCase(
            name: "log-rate-limit in defaults with an unknown key",
            yaml: "defaults: { log-rate-limit: { burst: 100, interval: 10s, extra: 1 } }\ngroups:\n  web:\n    services:\n      api:\n        command: [tool]\n",
            expected: ["runnerd.yaml:1:58: defaults.log-rate-limit.extra: unknown key; valid keys here are burst and interval"]
        ),
    ]
}
