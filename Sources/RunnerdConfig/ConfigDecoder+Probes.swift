import Yams

/// `ready:`, `health:` and their checks.
extension ConfigDecoder {
    static let readyKinds = ["tcp", "http", "exec", "log-line", "notify"]
    static let readyKeys = readyKinds + ["timeout"]
    static let healthKinds = ["tcp", "http", "exec"]
    static let healthKeys = healthKinds + ["interval", "timeout", "failures"]
    static let readyExample = "ready: { tcp: \"127.0.0.1:8080\" }"
    static let healthExample = "health: { http: \"http://127.0.0.1:8080/healthz\" }"

    /// A `ready:` map, or the words `none` (no probe, as if absent) and `notify`.
    mutating func decodeReady(_ entry: Entry, workingDirectory: String?) -> ReadyProbe? {
        if case .scalar(let scalar) = entry.value, !isNull(entry.value) {
            switch scalar.string {
            case "none": return nil
            case "notify": return ReadyProbe(check: .notify)
            default:
                report(entry, "\(scalar.string.debugDescription) is not a readiness probe; write none, notify, or a map such as \(Self.readyExample)")
                return nil
            }
        }
        guard let fields = fields(
            of: entry.value, path: entry.path, keyMark: entry.keyMark, allowed: Self.readyKeys,
            hint: "write none, notify, or a map such as \(Self.readyExample)",
            misplaced: { key in
                ["interval", "failures"].contains(key) ? "\(key) belongs to health:, which checks a running service" : nil
            }
        ) else { return nil }
        let kinds = probeKinds(fields, kinds: Self.readyKinds, example: Self.readyExample)
        var timeout = Duration.seconds(60)
        var timeoutValid = true
        if let value = fields["timeout"] {
            if let parsed = duration(value, allowZero: false, example: .seconds(60)) {
                timeout = parsed
            } else {
                timeoutValid = false
            }
        }
        // Every named check is validated, even when there are too many, so that all errors show.
        var checks: [ReadyProbe.Check?] = []
        for kind in kinds {
            switch kind.name {
            case "tcp":
                checks.append(decodeTCPAddress(kind).map { .tcp(host: $0.host, port: $0.port) })
            case "http":
                checks.append(decodeHTTPURL(kind).map { .http(url: $0) })
            case "exec":
                checks.append(decodeCommand(kind, workingDirectory: workingDirectory).map {
                    .exec(command: $0.0, executable: $0.1)
                })
            case "log-line":
                checks.append(decodeLogLine(kind).map { .logLine(pattern: $0) })
            default:
                guard let nestedTimeout = decodeNotify(kind) else {
                    checks.append(nil)
                    continue
                }
                if case .some(let nested) = nestedTimeout {
                    if let outer = fields["timeout"] {
                        report(
                            outer.keyMark, outer.path,
                            "is also set inside notify: on line \(line(of: kind.keyMark)); keep one of them"
                        )
                    }
                    timeout = nested
                }
                checks.append(.notify)
            }
        }
        guard checks.count == 1, let check = checks[0], timeoutValid else { return nil }
        return ReadyProbe(check: check, timeout: timeout)
    }

    /// `notify: true`, `notify:` (no value), `notify: {}` or `notify: { timeout: 30s }`. Returns
    /// nil on an error, `.some(nil)` without a timeout, `.some(duration)` with one.
    mutating func decodeNotify(_ entry: Entry) -> Duration?? {
        if isNull(entry.value) {
            return .some(nil)
        }
        if case .scalar = entry.value {
            guard let enabled = bool(entry) else { return nil }
            guard enabled else {
                report(entry, "\"false\" turns no probe on; write notify: true, or remove ready:")
                return nil
            }
            return .some(nil)
        }
        guard let fields = fields(
            of: entry.value, path: entry.path, keyMark: entry.keyMark, allowed: ["timeout"],
            hint: "write notify: true or notify: { timeout: 30s }"
        ) else { return nil }
        guard let value = fields["timeout"] else { return .some(nil) }
        guard let timeout = duration(value, allowZero: false, example: .seconds(60)) else { return nil }
        return .some(timeout)
    }

    mutating func decodeHealth(_ entry: Entry, workingDirectory: String?) -> HealthProbe? {
        guard let fields = fields(
            of: entry.value, path: entry.path, keyMark: entry.keyMark, allowed: Self.healthKeys,
            hint: "write a map such as \(Self.healthExample)",
            misplaced: { key in
                ["log-line", "notify"].contains(key)
                    ? "\(key) only tells when a service is ready; health: checks with tcp, http or exec"
                    : nil
            }
        ) else { return nil }
        let kinds = probeKinds(fields, kinds: Self.healthKinds, example: Self.healthExample)
        var probe = HealthProbe(check: .tcp(host: "", port: 0))
        var valid = true
        if let value = fields["interval"] {
            if let interval = duration(value, allowZero: false, example: .seconds(10)) {
                probe.interval = interval
            } else {
                valid = false
            }
        }
        if let value = fields["timeout"] {
            if let timeout = duration(value, allowZero: false, example: .seconds(2)) {
                probe.timeout = timeout
            } else {
                valid = false
            }
        }
        if let value = fields["failures"] {
            if let failures = count(value, minimum: 1, example: 3) {
                probe.failures = failures
            } else {
                valid = false
            }
        }
        var checks: [HealthProbe.Check?] = []
        for kind in kinds {
            switch kind.name {
            case "tcp":
                checks.append(decodeTCPAddress(kind).map { .tcp(host: $0.host, port: $0.port) })
            case "http":
                checks.append(decodeHTTPURL(kind).map { .http(url: $0) })
            default:
                checks.append(decodeCommand(kind, workingDirectory: workingDirectory).map {
                    .exec(command: $0.0, executable: $0.1)
                })
            }
        }
        guard checks.count == 1, let check = checks[0], valid else { return nil }
        probe.check = check
        return probe
    }

    /// The checks a probe map names, in file order. None is an error at the map, and every one
    /// after the first is an error at its key: a probe has exactly one check.
    mutating func probeKinds(_ fields: Fields, kinds: [String], example: String) -> [Entry] {
        let present = fields.entries.values
            .filter { kinds.contains($0.name) }
            .sorted { lhs, rhs in
                let (left, right) = (document.position(of: lhs.keyMark), document.position(of: rhs.keyMark))
                return (left.line, left.column) < (right.line, right.column)
            }
        guard let first = present.first else {
            report(fields.mark, fields.path, "names no check; add one of \(Self.list(kinds, conjunction: "or")), e.g. \(example)")
            return []
        }
        for extra in present.dropFirst() {
            report(
                extra.keyMark, extra.path,
                "a probe has one check, and \(first.name) is already set on line \(line(of: first.keyMark)); remove one"
            )
        }
        return present
    }

    // MARK: Checks

    static let tcpExample = "127.0.0.1:8080"

    /// `host:port`, with an IPv6 host in brackets (`[::1]:8080`).
    mutating func decodeTCPAddress(_ entry: Entry) -> (host: String, port: UInt16)? {
        let hint = "write host:port, e.g. \(Self.tcpExample)"
        guard let text = string(entry, hint: hint) else { return nil }
        switch Self.hostAndPort(text, portRequired: true) {
        case .success(let address):
            return (address.host, address.port ?? 0)
        case .failure(let problem):
            report(entry, "\(text.debugDescription) \(problem); \(hint)")
            return nil
        }
    }

    /// An `http://host[:port][/path]` URL.
    mutating func decodeHTTPURL(_ entry: Entry) -> String? {
        let example = "http://127.0.0.1:8080/healthz"
        guard let text = string(entry, hint: "write a URL, e.g. \(example)") else { return nil }
        let lowered = text.lowercased()
        if lowered.hasPrefix("https://") {
            report(entry, "\(text.debugDescription) uses https, which the probe does not speak; probe a plain http:// address, e.g. \(example)")
            return nil
        }
        guard lowered.hasPrefix("http://") else {
            report(entry, "\(text.debugDescription) is not an http:// URL; write e.g. \(example)")
            return nil
        }
        let rest = text.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        switch Self.hostAndPort(String(authority), portRequired: false) {
        case .success:
            return text
        case .failure(let problem):
            report(entry, "\(text.debugDescription) names no valid host: \(String(authority).debugDescription) \(problem); write e.g. \(example)")
            return nil
        }
    }

    /// Splits `host:port`; the failure text completes a sentence that starts with the quoted input.
    package static func hostAndPort(_ text: String, portRequired: Bool) -> Result<(host: String, port: UInt16?), HostProblem> {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(HostProblem("has an unclosed [")) }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                return .failure(HostProblem("has text after ]"))
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                return .failure(HostProblem("has an IPv6 address without brackets; write it as [::1]:8080"))
            }
        } else {
            host = Substring(text)
        }
        guard !host.isEmpty else { return .failure(HostProblem("has no host")) }
        guard !host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }) else {
            return .failure(HostProblem("has an invalid host"))
        }
        guard let portText else {
            return portRequired ? .failure(HostProblem("has no port")) : .success((String(host), nil))
        }
        guard let port = UInt16(portText), port > 0 else {
            return .failure(HostProblem("has an invalid port; use 1 to 65535"))
        }
        return .success((String(host), port))
    }

    package struct HostProblem: Error, CustomStringConvertible {
        package var description: String
        init(_ description: String) { self.description = description }
    }

    /// A regular expression that `LogLinePattern` can run: in time linear in a line's length, so
    /// that no line of output can stall the daemon's event loop. A construct that needs
    /// backtracking is reported with what to write instead.
    mutating func decodeLogLine(_ entry: Entry) -> String? {
        guard let pattern = string(entry, hint: "write a regular expression, e.g. \"listening on\"") else { return nil }
        guard !pattern.isEmpty else {
            report(entry, "is empty, so every line would match; write the text that means ready, e.g. \"listening on\"")
            return nil
        }
        do {
            _ = try LogLinePattern(pattern)
            return pattern
        } catch {
            report(entry, "\(pattern.debugDescription) \(error)")
            return nil
        }
    }
}
