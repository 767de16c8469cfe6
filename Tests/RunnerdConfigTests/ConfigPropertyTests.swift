import Testing
import RunnerdConfig
import RunnerdTestSupport

/// SplitMix64: a tiny seeded generator, so that every run tries the same cases and a failure can
/// be replayed from its case number.
struct ConfigSeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476C_E1E5_B9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Config: mutated configs are always rejected with placed errors")
struct ConfigPropertyTests {
    /// What kind of value a line of the base config holds, and so which replacements are wrong.
    enum Slot: CaseIterable {
        case duration, positiveDuration, count, bool, restart, signal, command, environment, environmentFiles
        case directory, user, group, ready, health

        /// Values that are invalid here, whatever else is in the file.
        var wrongValues: [String] {
            switch self {
            case .duration:
                return ["10", "soon", "[1s]", "{ s: 1 }", "5parsecs", "''", "true", "~", "1m30", "--1s"]
            case .positiveDuration:
                return Slot.duration.wrongValues + ["0s", "0"]
            case .count:
                return ["-1", "2.5", "five", "[5]", "{ n: 5 }", "'5'", "~", "true", "0x10"]
            case .bool:
                return ["yes", "1", "[true]", "{}", "'true'", "maybe", "~", "off"]
            case .restart:
                return ["sometimes", "[always]", "{}", "5", "~", "on_failure", "Never"]
            case .signal:
                return ["SIGFOO", "0", "65", "[TERM]", "{}", "~", "-9", "SIG"]
            case .command:
                return ["[]", "''", "{ a: 1 }", "[missing-program-xyz]", "['']", "~", "[tool, [x]]", "tool", "[/nonexistent/x]"]
            case .environment:
                return ["[A=1]", "42", "{ 1A: x }", "{ A: [1] }", "~", "{ A-B: 1 }", "{ A: { b: 1 } }"]
            case .environmentFiles:
                return ["[/nonexistent-runnerd.env]", "{}", "42", "[\(ConfigFixture.env)/bad.env]", "[\(ConfigFixture.env)/a-directory]", "['']", "[[x]]"]
            case .directory:
                return ["relative/dir", "/nonexistent-runnerd-dir", "[a]", "~", "\(ConfigFixture.work)/run.sh", "{}"]
            case .user:
                return ["no-such-user-xyz", "[a]", "{}", "~"]
            case .group:
                return ["no-such-group-xyz", "[a]", "{}", "~"]
            case .ready:
                return [
                    "42", "{}", "{ tcp: 1 }", "{ http: ftp://x }", "{ tcp: 'a:1', http: 'http://a/' }", "{ log-line: '(' }",
                    "{ notify: false }", "{ exec: [] }", "{ tcpp: 'a:1' }", "{ tcp: 'a:1', timeout: -1s }", "[tcp]", "~",
                    "{ notify: { timeout: 0s } }", "{ http: 'http://:80/' }",
                ]
            case .health:
                return [
                    "42", "{}", "{ log-line: x }", "{ tcp: 'a:1', failures: 0 }", "{ http: 'http://a', interval: -1s }",
                    "{ notify: true }", "[http]", "~", "{ exec: [missing-program-xyz] }", "{ tcp: 'a:1', timeout: 0s }",
                ]
            }
        }
    }

    /// A valid config that uses every key, one value per line, with the kind of each value line.
    static let base: [(text: String, slot: Slot?)] = [
        ("defaults:", nil),
        ("  interrupt-timeout: 5s", .duration),
        ("  group-interrupt-timeout: 6s", .duration),
        ("groups:", nil),
        ("  web:", nil),
        ("    restart: on-failure", .restart),
        ("    restart-delay: 1s", .duration),
        ("    restart-delay-max: 20s", .duration),
        ("    max-restarts: 4", .count),
        ("    restart-window: 2m", .positiveDuration),
        ("    required: true", .bool),
        ("    group-interrupt-timeout: 7s", .duration),
        ("    services:", nil),
        ("      api:", nil),
        ("        command: [tool, --port, \"8080\"]", .command),
        ("        environment: { LOG_LEVEL: info }", .environment),
        ("        environment-files: [\(ConfigFixture.env)/first.env]", .environmentFiles),
        ("        working-directory: \(ConfigFixture.work)", .directory),
        ("        user: nobody", .user),
        ("        group: nogroup", .group),
        ("        stop-signal: SIGINT", .signal),
        ("        interrupt-timeout: 3s", .duration),
        ("        ready: { notify: { timeout: 30s } }", .ready),
        ("        watchdog: 10s", .positiveDuration),
        ("        health: { tcp: \"127.0.0.1:8080\", interval: 5s, timeout: 1s, failures: 2 }", .health),
        ("      worker:", nil),
        ("        command: [sh, -c, \"sleep 1\"]", .command),
        ("        ready: { tcp: \"127.0.0.1:9090\" }", .ready),
        ("  batch:", nil),
        ("    restart: never", .restart),
        ("    required: false", .bool),
        ("    services:", nil),
        ("      job:", nil),
        ("        command: [tool]", .command),
        ("        ready: { log-line: \"started\" }", .ready),
    ]

    static let environment = ["PATH": "\(ConfigFixture.bin):/usr/bin:/bin"]

    static func text(_ lines: [(text: String, mutated: Bool)]) -> String {
        lines.map(\.text).joined(separator: "\n") + "\n"
    }

    @Test func baseConfigIsValid() throws {
        let lines = Self.base.map { (text: $0.text, mutated: false) }
        _ = try ConfigLoader.parse(yaml: Self.text(lines), path: "runnerd.yaml", environment: Self.environment)
    }

    /// Applies one to three mutations to the base config and returns the lines, each marked when
    /// a mutation made or changed it.
    static func mutate(using generator: inout ConfigSeededGenerator) -> [(text: String, mutated: Bool)] {
        var lines = base.map { (text: $0.text, mutated: false, slot: $0.slot) }
        for _ in 0..<Int.random(in: 1...3, using: &generator) {
            let valueLines = lines.indices.filter { lines[$0].slot != nil && !lines[$0].mutated }
            guard let index = valueLines.randomElement(using: &generator) else { break }
            let line = lines[index]
            let indent = String(line.text.prefix { $0 == " " })
            let key = line.text.drop { $0 == " " }.prefix { $0 != ":" }
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<5:
                // A wrong-typed or impossible value.
                let value = line.slot!.wrongValues.randomElement(using: &generator)!
                lines[index] = ("\(indent)\(key): \(value)", true, line.slot)
            case 5, 6:
                // An unknown key next to any key, inside any block map.
                let anyKey = lines.indices.filter { lines[$0].text.hasSuffix(":") || lines[$0].slot != nil }
                let at = anyKey.randomElement(using: &generator)!
                let atIndent = String(lines[at].text.prefix { $0 == " " })
                let name = "zz-" + String((0..<5).map { _ in "abcdefghij".randomElement(using: &generator)! })
                lines.insert(("\(atIndent)\(name): 1", true, nil), at: at)
            case 7:
                // The same key again.
                lines.insert((line.text, true, nil), at: index + 1)
            default:
                // A negative duration where there is one, else a wrong value.
                if line.slot == .duration || line.slot == .positiveDuration {
                    let value = line.text.split(separator: ":", maxSplits: 1)[1].drop { $0 == " " }
                    lines[index] = ("\(indent)\(key): -\(value)", true, line.slot)
                } else {
                    lines[index] = ("\(indent)\(key): [[]]", true, line.slot)
                }
            }
        }
        return lines.map { ($0.text, $0.mutated) }
    }

    @Test func mutatedConfigsAreRejectedWithAnErrorOnEveryMutatedLine() {
        var generator = ConfigSeededGenerator(state: 0x5EED_C0F1_6000_0001)
        for caseNumber in 0..<400 {
            let lines = Self.mutate(using: &generator)
            let yaml = Self.text(lines)
            do {
                _ = try ConfigLoader.parse(yaml: yaml, path: "runnerd.yaml", environment: Self.environment)
                Issue.record("case \(caseNumber) was accepted:\n\(yaml)")
            } catch {
                for problem in error.errors {
                    #expect(problem.line > 0 && problem.column > 0, "case \(caseNumber): \(problem)\n\(yaml)")
                    #expect(!problem.keyPath.isEmpty, "case \(caseNumber): \(problem)\n\(yaml)")
                    #expect(problem.file == "runnerd.yaml")
                }
                let reportedLines = Set(error.errors.map(\.line))
                for (offset, line) in lines.enumerated() where line.mutated {
                    #expect(reportedLines.contains(offset + 1), "case \(caseNumber): nothing on line \(offset + 1)\n\(error)\n\(yaml)")
                }
            }
        }
    }

    /// libyaml ends lines at CR and CR LF as well as LF (the fuzzer found the loader counting
    /// only LF): the same mutated config gets the same errors, at the same places, either way.
    @Test func mutatedConfigsGetTheSameErrorsWhateverEndsTheirLines() {
        var generator = ConfigSeededGenerator(state: 0x5EED_C0F1_6000_0002)
        for caseNumber in 0..<150 {
            let lines = Self.mutate(using: &generator).map(\.text)
            func errors(_ lineEnd: String) -> [String] {
                do {
                    _ = try ConfigLoader.parse(yaml: lines.joined(separator: lineEnd) + lineEnd, path: "runnerd.yaml", environment: Self.environment)
                    return []
                } catch {
                    return error.errors.map(\.description)
                }
            }
            let expected = errors("\n")
            #expect(!expected.isEmpty, "case \(caseNumber) was accepted")
            for lineEnd in ["\r\n", "\r"] {
                #expect(errors(lineEnd) == expected, "case \(caseNumber) with \(lineEnd.debugDescription):\n\(lines.joined(separator: "\n"))")
            }
        }
    }

    @Test func randomYAMLNeverTrapsAndEveryErrorIsPlaced() {
        var generator = ConfigSeededGenerator(state: 42)
        let pieces = [
            "groups:", "\n", "  ", "web:", "services:", "api:", "command:", " [", "]", "{", "}", ", ", "- ", "tool",
            "\"", "'", "#", "&a ", "*a", "? ", ": ", "10s", "-1", "~", "\t", "ready:", "tcp:", "!!str ", "|", ">",
            "%", "@", "\u{0}", "é", "groups:", "notify:", "\\", "---\n", "...\n",
        ]
        for _ in 0..<300 {
            let yaml = (0..<Int.random(in: 0...40, using: &generator))
                .map { _ in pieces.randomElement(using: &generator)! }
                .joined()
            do {
                _ = try ConfigLoader.parse(yaml: yaml, path: "runnerd.yaml", environment: Self.environment)
            } catch {
                #expect(!error.errors.isEmpty)
                for problem in error.errors {
                    #expect(problem.line >= 1 || problem.line == 0 && problem.column == 0, "\(problem)\n\(yaml.debugDescription)")
                }
            }
        }
    }
}
