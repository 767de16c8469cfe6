/// The human-readable overview of a config that `runnerd check` prints: every group and service
/// with its effective policies and limits, defaults included, so that what will happen can be
/// read without knowing the defaults.
///
/// For example:
/// ```
/// runnerd.yaml: 2 groups, 3 services
/// group web (required; restart on-failure, 1s doubling to 30s, at most 5 restarts in 5m; group stop limit 15s)
///   api     /usr/bin/python3 -m http.server 8080  (stop SIGTERM, kill after 10s; ready tcp 127.0.0.1:8080 within 1m)
///   ticker  /usr/bin/sh -c 'while true; do echo tick; sleep 2; done'  (stop SIGTERM, kill after 10s)
/// group flaky (optional; restart on-failure, 1s doubling to 8s, at most 20 restarts in 5m; group stop limit 15s)
///   crasher  /usr/bin/sh -c 'sleep 3; exit 3'  (stop SIGTERM, kill after 5s)
/// ```
/// Commands show the resolved executable and the arguments, quoted for a POSIX shell where
/// needed. Environment values are never shown, since they may hold secrets: only their count.
public struct ConfigSummary: Sendable, CustomStringConvertible {
    /// The config being described.
    public var config: DaemonConfig

    /// A summary of `config`.
    public init(_ config: DaemonConfig) {
        self.config = config
    }

    /// The summary's lines, joined with newlines, without a trailing newline.
    public var description: String {
        lines.joined(separator: "\n")
    }

    /// One header line, then per group a line and one line per service.
    public var lines: [String] {
        let serviceCount = config.groups.reduce(0) { $0 + $1.services.count }
        var lines = ["\(config.path): \(Self.count(config.groups.count, "group")), \(Self.count(serviceCount, "service"))"]
        for group in config.groups {
            lines.append("group \(group.name) (\(Self.policy(of: group)))")
            let width = (group.services.map(\.name.count).max() ?? 0) + 2
            for service in group.services {
                let name = service.name.padding(to: width)
                lines.append("  \(name)\(Self.commandLine(service.executable, service.command.dropFirst()))  (\(Self.details(of: service)))")
            }
            if group.serviceOrder.isOrdered {
                lines.append("  start order: \(Self.waves(group.serviceOrder.waves))")
            }
        }
        if config.groupOrder.isOrdered {
            lines.append("groups start in order: \(Self.waves(config.groupOrder.waves))")
        }
        return lines
    }

    /// The start plan's numbered waves: `1. db, cache  2. api`.
    static func waves(_ waves: [[String]]) -> String {
        waves.enumerated().map { "\($0 + 1). \($1.joined(separator: ", "))" }.joined(separator: "  ")
    }

    static func policy(of group: GroupConfig) -> String {
        var parts = [group.required ? "required" : "optional"]
        if group.restart == .never {
            parts.append("never restarted")
        } else {
            let delay: String
            if group.restartDelay == .zero {
                delay = "at once"
            } else if group.restartDelay >= group.restartDelayMax {
                delay = "after \(DurationText.format(group.restartDelay))"
            } else {
                delay = "\(DurationText.format(group.restartDelay)) doubling to \(DurationText.format(group.restartDelayMax))"
            }
            let limit = "at most \(count(group.maxRestarts, "restart")) in \(DurationText.format(group.restartWindow))"
            parts.append("restart \(group.restart.rawValue), \(delay), \(limit)")
        }
        parts.append("group stop limit \(DurationText.format(group.groupInterruptTimeout))")
        if !group.after.isEmpty { parts.append("after \(group.after.joined(separator: ", "))") }
        if !group.bindsTo.isEmpty { parts.append("binds to \(group.bindsTo.joined(separator: ", "))") }
        return parts.joined(separator: "; ")
    }

    static func details(of service: ServiceConfig) -> String {
        var parts: [String] = []
        if service.type == .oneshot { parts.append("oneshot, must finish within \(DurationText.format(service.timeout))") }
        if !service.after.isEmpty { parts.append("after \(service.after.joined(separator: ", "))") }
        parts.append("stop \(SignalName.name(of: service.stopSignal)), kill after \(DurationText.format(service.interruptTimeout))")
        if let credentials = service.credentials {
            if let user = credentials.userName {
                parts.append("user \(user) (uid \(credentials.uid), gid \(credentials.gid))")
            } else {
                parts.append("group gid \(credentials.gid)")
            }
        }
        if let directory = service.workingDirectory {
            parts.append("in \(directory)")
        }
        if !service.environment.isEmpty {
            parts.append(count(service.environment.count, "env var"))
        }
        if !service.environmentFiles.isEmpty {
            parts.append("env files \(service.environmentFiles.joined(separator: ", "))")
        }
        if let ready = service.ready {
            let check: String
            switch ready.check {
            case .tcp(let host, let port): check = "tcp \(address(host, port))"
            case .http(let url): check = "http \(url)"
            case .exec(let command, let executable): check = "exec \(commandLine(executable, command.dropFirst()))"
            case .logLine(let pattern): check = "log-line \(pattern.debugDescription)"
            case .notify: check = "notify"
            }
            parts.append("ready \(check) within \(DurationText.format(ready.timeout))")
        }
        if let watchdog = service.watchdog {
            parts.append("watchdog \(DurationText.format(watchdog))")
        }
        if let health = service.health {
            let check: String
            switch health.check {
            case .tcp(let host, let port): check = "tcp \(address(host, port))"
            case .http(let url): check = "http \(url)"
            case .exec(let command, let executable): check = "exec \(commandLine(executable, command.dropFirst()))"
            }
            parts.append(
                "health \(check) every \(DurationText.format(health.interval)), timeout \(DurationText.format(health.timeout)), "
                    + "failing after \(count(health.failures, "failure"))"
            )
        }
        return parts.joined(separator: "; ")
    }

    static func address(_ host: String, _ port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The executable and arguments, each quoted for a POSIX shell when it needs it.
    static func commandLine(_ executable: String, _ arguments: ArraySlice<String>) -> String {
        ([executable] + arguments).map(shellQuoted).joined(separator: " ")
    }

    static func shellQuoted(_ word: String) -> String {
        let safe = word.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || "_-./:=@%+,".unicodeScalars.contains($0)
        }
        if safe, !word.isEmpty {
            return word
        }
        return "'" + word.replacingAll("'", with: "'\\''") + "'"
    }

    static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }
}

extension DaemonConfig {
    /// ``ConfigSummary`` of this config, as `runnerd check` prints it.
    public var summary: String {
        ConfigSummary(self).description
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self {
            if character == target {
                result += replacement
            } else {
                result.append(character)
            }
        }
        return result
    }
}
