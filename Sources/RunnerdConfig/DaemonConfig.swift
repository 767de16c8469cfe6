/// A validated runnerd configuration: what `ConfigLoader` produces and the daemon runs.
///
/// Every value here is final: durations are parsed, defaults applied, commands resolved to an
/// executable path, users resolved to ids, environment files read. Groups and services keep the
/// order in which the file lists them.
public struct DaemonConfig: Sendable, Equatable {
    /// The file this was read from, as given (used in messages).
    public var path: String
    /// The top-level `defaults:`.
    public var defaults: Defaults
    /// The groups, in file order.
    public var groups: [GroupConfig]

    /// A config as given; nothing is validated (that is `ConfigLoader`'s job).
    public init(path: String, defaults: Defaults, groups: [GroupConfig]) {
        self.path = path
        self.defaults = defaults
        self.groups = groups
    }

    /// The top-level `defaults:` section.
    public struct Defaults: Sendable, Equatable {
        /// `interrupt-timeout`: how long a service gets to stop after its stop signal (default 10s).
        public var interruptTimeout: Duration
        /// `group-interrupt-timeout`: how long a group waits for all its services (default 15s).
        public var groupInterruptTimeout: Duration
        /// `log-rate-limit`: each service's share of journald's budget, unless it sets its own.
        public var logRateLimit: LogRateLimit = .standard
        /// `control-group`: the system group whose members may read the daemon's status over its
        /// control socket (`runnerd status`); only root may act (start, stop, restart, reload).
        public var controlGroup: ControlGroup?

        /// The defaults of a file without `defaults:`: 10s and 15s.
        public static let standard = Defaults(interruptTimeout: .seconds(10), groupInterruptTimeout: .seconds(15))

        /// Defaults with the given limits.
        public init(interruptTimeout: Duration, groupInterruptTimeout: Duration) {
            self.interruptTimeout = interruptTimeout
            self.groupInterruptTimeout = groupInterruptTimeout
        }
    }
}

extension DaemonConfig {
    /// A system group, resolved when the config was loaded.
    public struct ControlGroup: Sendable, Equatable {
        public var name: String
        public var gid: UInt32

        public init(name: String, gid: UInt32) {
            self.name = name
            self.gid = gid
        }
    }
}

/// One group: services that run all together or not at all, with a restart policy.
public struct GroupConfig: Sendable, Equatable {
    /// The group's name, unique in the config: letters, digits, `.`, `_` and `-`.
    public var name: String
    /// When the group is restarted after it stopped (default `on-failure`).
    public var restart: RestartMode
    /// The wait before the first restart; it doubles on each further restart.
    public var restartDelay: Duration
    /// The longest wait between restarts.
    public var restartDelayMax: Duration
    /// How many restarts are allowed within `restartWindow` (N restarts means N+1 starts).
    public var maxRestarts: Int
    /// The sliding window in which `maxRestarts` is counted (default 5m).
    public var restartWindow: Duration
    /// Whether the daemon stops (exit 1) when this group gives up.
    public var required: Bool
    /// How long stopping the whole group may take (default: `defaults.group-interrupt-timeout`).
    public var groupInterruptTimeout: Duration
    /// The services, in file order.
    public var services: [ServiceConfig]
    /// `after:`: groups this one starts after (once they are ready, or down for good), and stops
    /// before at the daemon's stop. Ordering only.
    public var after: [String] = []
    /// `binds-to:`: groups this one starts after and lives within: when one of them stops or
    /// restarts, this group is stopped first and started again once it is ready.
    public var bindsTo: [String] = []

    /// A group as given; nothing is validated.
    public init(
        name: String, restart: RestartMode, restartDelay: Duration, restartDelayMax: Duration,
        maxRestarts: Int, restartWindow: Duration, required: Bool, groupInterruptTimeout: Duration,
        services: [ServiceConfig]
    ) {
        self.name = name
        self.restart = restart
        self.restartDelay = restartDelay
        self.restartDelayMax = restartDelayMax
        self.maxRestarts = maxRestarts
        self.restartWindow = restartWindow
        self.required = required
        self.groupInterruptTimeout = groupInterruptTimeout
        self.services = services
    }
}

/// When a group is restarted after it stopped: `never`, `on-failure` or `always`.
public enum RestartMode: String, Sendable, Equatable, CaseIterable {
    /// The group stays down once it stopped.
    case never
    /// Restart when a member failed: a non-zero exit, a signal, a spawn failure, a failed probe.
    case onFailure = "on-failure"
    /// Restart whenever a member stopped, even with status 0.
    case always
}

/// One service: a child process.
public struct ServiceConfig: Sendable, Equatable {
    /// The service's name, unique within its group; used as its journal identifier.
    public var name: String
    /// The argv as written in the config; `command[0]` may be a bare name.
    public var command: [String]
    /// The absolute path that `command[0]` resolved to (through `PATH` for a bare name).
    public var executable: String
    /// The environment the service adds to the daemon's scrubbed one: the environment files'
    /// variables in file order, then the `environment:` keys, later ones overriding earlier ones.
    public var environment: [EnvironmentVariable]
    /// The `environment-files:` as written, for the summary.
    public var environmentFiles: [String]
    /// The absolute directory to run in; nil means the daemon's own.
    public var workingDirectory: String?
    /// The identity to run as, when `user:` or `group:` is set.
    public var credentials: Credentials?
    /// The signal that asks the service to stop (default SIGTERM).
    public var stopSignal: Int32
    /// How long the service gets after its stop signal before its process group gets SIGKILL.
    public var interruptTimeout: Duration
    /// When the service counts as ready; nil means as soon as it has been spawned.
    public var ready: ReadyProbe?
    /// A periodic health check, if any.
    public var health: HealthProbe?
    /// `watchdog:`: the longest the service may go without sending `WATCHDOG=1` through its
    /// notify relay before it counts as failed. Only set together with a `notify` readiness probe
    /// (the loader rejects it otherwise); nil means no watchdog.
    public var watchdog: Duration?
    /// `stderr-priority`: the syslog priority (0 emerg ... 7 debug) of its stderr lines; stdout's
    /// are 6 (info).
    public var stderrPriority: Int = 4
    /// `level-prefix`: whether a line starting with `<N>` (N from 0 to 7) takes priority N, with
    /// the prefix removed, as systemd's `SyslogLevelPrefix=` does.
    public var levelPrefix = true
    /// `log-rate-limit`: how many lines it may send to the journal in a window; past that they
    /// are dropped and counted.
    public var logRateLimit: LogRateLimit = .standard
    /// Its resource limits, its group's where it sets none of its own (see ``ResourceLimits``).
    public var limits = ResourceLimits()
    /// `type:`: a long-running service (`simple`, the default) or setup work that runs to
    /// completion once per start of its group (`oneshot`).
    public var type: ServiceType = .simple
    /// `timeout:`: how long a `oneshot` may run before it counts as failed (default 5m); unused
    /// for a `simple` service.
    public var timeout: Duration = ServiceConfig.defaultOneshotTimeout
    /// `after:`: services of the same group this one starts after: once they are ready, or for a
    /// `oneshot`, done. When the group stops, this one gets its stop signal before them.
    public var after: [String] = []

    /// A oneshot's `timeout:` when the file does not set one.
    public static let defaultOneshotTimeout = Duration.seconds(300)

    /// A service as given; nothing is validated.
    public init(
        name: String, command: [String], executable: String, environment: [EnvironmentVariable] = [],
        environmentFiles: [String] = [], workingDirectory: String? = nil, credentials: Credentials? = nil,
        stopSignal: Int32 = 15, interruptTimeout: Duration = .seconds(10), ready: ReadyProbe? = nil,
        health: HealthProbe? = nil, watchdog: Duration? = nil
    ) {
        self.name = name
        self.command = command
        self.executable = executable
        self.environment = environment
        self.environmentFiles = environmentFiles
        self.workingDirectory = workingDirectory
        self.credentials = credentials
        self.stopSignal = stopSignal
        self.interruptTimeout = interruptTimeout
        self.ready = ready
        self.health = health
        self.watchdog = watchdog
    }
}

/// A service's share of journald's budget: at most `burst` lines in each `interval`; past that,
/// its lines are dropped and counted, and the count is logged once the window ends. An
/// `interval` of zero means no limit.
public struct LogRateLimit: Sendable, Equatable {
    /// Lines allowed per window.
    public var burst: Int
    /// The window's length; zero turns the limit off.
    public var interval: Duration

    /// journald's own default for a whole unit: 10,000 lines in 30 s.
    public static let standard = LogRateLimit(burst: 10_000, interval: .seconds(30))

    /// A limit of `burst` lines per `interval`; nothing is checked (the loader checks a config's).
    public init(burst: Int, interval: Duration) {
        self.burst = burst
        self.interval = interval
    }
}

/// One `KEY=value` pair of a service's environment.
public struct EnvironmentVariable: Sendable, Equatable {
    /// The variable's name, `[A-Za-z_][A-Za-z0-9_]*` when it comes from the loader.
    public var name: String
    /// The value, exactly as configured (no expansion).
    public var value: String

    /// The pair `name=value`.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// The resolved `user:` and `group:` of a service.
public struct Credentials: Sendable, Equatable {
    /// The user's name in the user database (as configured, unless `user:` gave a number), or
    /// nil when only `group:` is set.
    public var userName: String?
    /// The uid to run as: the user's, or the loader's own when only `group:` is set.
    public var uid: UInt32
    /// The primary gid: `group:` when set, else the user's primary group.
    public var gid: UInt32
    /// Supplementary groups: the user's groups from the group database, or just `gid`.
    public var supplementaryGroups: [UInt32]
    /// The user's home directory, for `HOME`, when a user is set.
    public var home: String?
    /// The user's login shell, for `SHELL`, when a user is set.
    public var shell: String?

    /// Credentials as given; nothing is looked up.
    public init(
        userName: String?, uid: UInt32, gid: UInt32, supplementaryGroups: [UInt32], home: String?, shell: String? = nil
    ) {
        self.userName = userName
        self.uid = uid
        self.gid = gid
        self.supplementaryGroups = supplementaryGroups
        self.home = home
        self.shell = shell
    }
}

/// How a service shows that it is ready (`ready:`).
public struct ReadyProbe: Sendable, Equatable {
    /// What the probe checks; a probe has exactly one check.
    public enum Check: Sendable, Equatable {
        /// A TCP connect to host:port succeeds.
        case tcp(host: String, port: UInt16)
        /// An HTTP GET of this URL returns 2xx.
        case http(url: String)
        /// This command exits 0 (argv; `[0]` resolved like `command`).
        case exec(command: [String], executable: String)
        /// A line of the service's output matches this regular expression.
        case logLine(pattern: String)
        /// The service sends `READY=1` over its own `NOTIFY_SOCKET`.
        case notify
    }

    /// What the probe checks.
    public var check: Check
    /// How long the service may take to become ready (default 60s).
    public var timeout: Duration

    /// A probe with the given check and time limit.
    public init(check: Check, timeout: Duration = .seconds(60)) {
        self.check = check
        self.timeout = timeout
    }
}

/// A periodic health check (`health:`).
public struct HealthProbe: Sendable, Equatable {
    /// What each health check does; a probe has exactly one.
    public enum Check: Sendable, Equatable {
        /// A TCP connect to host:port succeeds.
        case tcp(host: String, port: UInt16)
        /// An HTTP GET of this `http://` URL returns 2xx.
        case http(url: String)
        /// This command exits 0 (argv; `[0]` resolved like `command`).
        case exec(command: [String], executable: String)
    }

    /// What each check does.
    public var check: Check
    /// Time between checks (default 10s).
    public var interval: Duration
    /// How long one check may take (default 2s).
    public var timeout: Duration
    /// Failures in a row that make the service count as failed (default 3).
    public var failures: Int
    /// A probe with the given check and schedule. (A service's `watchdog:` is separate: see
    /// `ServiceConfig.watchdog`.)
    public init(check: Check, interval: Duration = .seconds(10), timeout: Duration = .seconds(2), failures: Int = 3) {
        self.check = check
        self.interval = interval
        self.timeout = timeout
        self.failures = failures
    }
}
