import RunnerdConfig
/// One check that a probe repeats: the part of `ReadyProbe.Check` and `HealthProbe.Check` that
/// is polled. `Prober` runs one attempt of it; `ReadinessWaiter` and `HealthMonitor` schedule the
/// attempts.
///
/// `log-line` and `notify` readiness are not polled, so they have no case here: the daemon
/// learns of them from the service's output (`LogLineMatcher`) and from its notify relay.
enum ProbeCheck: Sendable, Equatable, CustomStringConvertible {
    /// A TCP connect to `host:port` succeeds. `host` is an IPv4 or IPv6 literal (without
    /// brackets) or a name that getaddrinfo resolves, such as `localhost`; every address it
    /// resolves to is tried in order.
    case tcp(host: String, port: UInt16)
    /// `GET` of this `http://host[:port][/path]` URL returns a 2xx status.
    case http(url: String)
    /// The program `executable` run with argv `command` exits with status 0.
    case exec(command: [String], executable: String)

    /// The polled check of a readiness probe; nil for `log-line` and `notify`, which are not polled.
    init?(_ check: ReadyProbe.Check) {
        switch check {
        case .tcp(let host, let port): self = .tcp(host: host, port: port)
        case .http(let url): self = .http(url: url)
        case .exec(let command, let executable): self = .exec(command: command, executable: executable)
        case .logLine, .notify: return nil
        }
    }

    /// The check of a health probe.
    init(_ check: HealthProbe.Check) {
        switch check {
        case .tcp(let host, let port): self = .tcp(host: host, port: port)
        case .http(let url): self = .http(url: url)
        case .exec(let command, let executable): self = .exec(command: command, executable: executable)
        }
    }

    /// What one attempt does, as messages name it: `connect to 127.0.0.1:8080`,
    /// `connect to [::1]:8080`, `GET http://127.0.0.1:8080/healthz`, `/usr/bin/check`.
    var action: String {
        switch self {
        case .tcp(let host, let port): "connect to \(Self.address(host: host, port: port))"
        case .http(let url): "GET \(url)"
        case .exec(_, let executable): executable
        }
    }

    /// `tcp 127.0.0.1:8080`, `http http://127.0.0.1:8080/healthz`, `exec /usr/bin/check --quick`:
    /// the check as the config spells it.
    var description: String {
        switch self {
        case .tcp(let host, let port): "tcp \(Self.address(host: host, port: port))"
        case .http(let url): "http \(url)"
        case .exec(let command, _): "exec \(command.joined(separator: " "))"
        }
    }

    /// `host:port`, with an IPv6 host in brackets.
    static func address(host: String, port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
