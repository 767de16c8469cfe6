/// What the daemon is doing, group by group and service by service: the answer to
/// `io.runnerd.Manager.Status`, and what `runnerd status` prints.
///
/// The lifecycle machine fills in what it decides (states, readiness, restarts, the last exit);
/// the shell adds what only the processes know (pids).
package struct StatusReport: Sendable, Equatable {
    /// The daemon's state: `starting`, `running`, `reloading`, `stopping` or `stopped`.
    package var state: String
    /// The `STATUS=` line the daemon shows systemd.
    package var status: String
    /// The systemd unit runnerd runs as, if any; `runnerd logs` matches its journal entries.
    package var unit: String?
    /// Whether the services' output goes to journald (else to runnerd's standard output).
    package var journal: Bool
    package var groups: [Group]

    package struct Group: Sendable, Equatable {
        package var name: String
        /// `starting`, `waiting`, `running`, `restarting`, `stopping`, `stopped`, `finished` or `gave-up`.
        package var state: String
        package var required: Bool
        package var ready: Int
        package var total: Int
        /// How long the current run has been up (since its first service started).
        package var uptime: Duration?
        /// Restarts within the group's restart window, and the most the window allows.
        package var restarts: Int
        package var restartLimit: Int
        /// How the last run ended, as the log said it ("service api exited with status 3").
        package var lastExit: String?
        /// While backing off: how long until the next run starts.
        package var nextRestartIn: Duration?
        /// Stopped with `runnerd stop`; it stays down until `runnerd start`.
        package var stoppedByRequest: Bool
        /// While it waits for the groups it starts after: which, and how they stand
        /// (`db (starting, 3s)`).
        package var waitingFor: String?
        package var services: [Service]
        /// What its services' cgroups use together, when they run in cgroups of their own.
        package var memoryBytes: UInt64?
        package var cpuUsage: Duration?
        /// Which run of the group this is (the daemon's own bookkeeping; not sent to clients).
        var generation = 0

        package init(
            name: String, state: String, required: Bool = false, ready: Int = 0, total: Int = 0,
            uptime: Duration? = nil, restarts: Int = 0, restartLimit: Int = 0, lastExit: String? = nil,
            nextRestartIn: Duration? = nil, stoppedByRequest: Bool = false, services: [Service] = []
        ) {
            self.name = name
            self.state = state
            self.required = required
            self.ready = ready
            self.total = total
            self.uptime = uptime
            self.restarts = restarts
            self.restartLimit = restartLimit
            self.lastExit = lastExit
            self.nextRestartIn = nextRestartIn
            self.stoppedByRequest = stoppedByRequest
            self.services = services
        }
    }

    package struct Service: Sendable, Equatable {
        package var name: String
        /// `down`, `starting`, `ready`, or `done` (a `type: oneshot` that finished its work).
        package var state: String
        /// What decides readiness: `notify`, `tcp`, `http`, `exec`, `log-line` or `none`.
        package var readiness: String
        package var pid: Int32?
        /// The last `STATUS=` it sent through its notify socket.
        package var status: String?
        package var uptime: Duration?
        /// Its cgroup's `memory.current`, when it runs in a cgroup of its own with the memory
        /// controller.
        package var memoryBytes: UInt64?
        /// Its cgroup's `cpu.stat` `usage_usec`: the CPU time of everything it ran, this run.
        package var cpuUsage: Duration?

        package init(name: String, state: String, readiness: String, pid: Int32? = nil, status: String? = nil, uptime: Duration? = nil) {
            self.name = name
            self.state = state
            self.readiness = readiness
            self.pid = pid
            self.status = status
            self.uptime = uptime
        }
    }

    package init(state: String, status: String, unit: String? = nil, journal: Bool = false, groups: [Group]) {
        self.state = state
        self.status = status
        self.unit = unit
        self.journal = journal
        self.groups = groups
    }

    /// Only the groups named, in the order the daemon runs them.
    package func only(_ names: [String]) -> StatusReport {
        guard !names.isEmpty else { return self }
        var copy = self
        copy.groups = groups.filter { names.contains($0.name) }
        return copy
    }
}

// MARK: - JSON, as the interface describes it

extension StatusReport {
    package var json: JSONValue {
        var members: [(String, JSONValue)] = [("state", .string(state)), ("status", .string(status))]
        if let unit { members.append(("unit", .string(unit))) }
        members.append(("journal", .bool(journal)))
        members.append(("groups", .array(groups.map(\.json))))
        return .object(members)
    }

    package init(json: JSONValue) throws(ControlClientError) {
        guard let state = json["state"]?.stringValue, let status = json["status"]?.stringValue, let groups = json["groups"]?.arrayValue else {
            throw .badReply("a status without state, status or groups")
        }
        self.init(state: state, status: status, unit: json["unit"]?.stringValue, journal: json["journal"]?.boolValue ?? false, groups: [])
        for group in groups { self.groups.append(try Group(json: group)) }
    }
}

extension StatusReport.Group {
    /// The group's figures as the sums of its services' (nil when none has one).
    mutating func addUpServices() {
        let memory = services.compactMap(\.memoryBytes)
        let cpu = services.compactMap(\.cpuUsage)
        memoryBytes = memory.isEmpty ? nil : memory.reduce(0, +)
        cpuUsage = cpu.isEmpty ? nil : cpu.reduce(.zero, +)
    }

    package var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("name", .string(name)), ("state", .string(state)), ("required", .bool(required)),
            ("ready", .number(Double(ready))), ("total", .number(Double(total))),
        ]
        if let uptime { members.append(("uptimeSeconds", .number(uptime.seconds))) }
        members.append(("restarts", .number(Double(restarts))))
        members.append(("restartLimit", .number(Double(restartLimit))))
        if let lastExit { members.append(("lastExit", .string(lastExit))) }
        if let nextRestartIn { members.append(("nextRestartSeconds", .number(nextRestartIn.seconds))) }
        members.append(("stoppedByRequest", .bool(stoppedByRequest)))
        if let waitingFor { members.append(("waitingFor", .string(waitingFor))) }
        if let memoryBytes { members.append(("memoryBytes", .number(Double(memoryBytes)))) }
        if let cpuUsage { members.append(("cpuSeconds", .number(cpuUsage.seconds))) }
        members.append(("services", .array(services.map(\.json))))
        return .object(members)
    }

    init(json: JSONValue) throws(ControlClientError) {
        guard let name = json["name"]?.stringValue, let state = json["state"]?.stringValue, let services = json["services"]?.arrayValue else {
            throw .badReply("a group without name, state or services")
        }
        self.init(
            name: name, state: state, required: json["required"]?.boolValue ?? false,
            ready: json["ready"]?.intValue ?? 0, total: json["total"]?.intValue ?? 0,
            uptime: json["uptimeSeconds"]?.doubleValue.map(Duration.seconds),
            restarts: json["restarts"]?.intValue ?? 0, restartLimit: json["restartLimit"]?.intValue ?? 0,
            lastExit: json["lastExit"]?.stringValue,
            nextRestartIn: json["nextRestartSeconds"]?.doubleValue.map(Duration.seconds),
            stoppedByRequest: json["stoppedByRequest"]?.boolValue ?? false
        )
        waitingFor = json["waitingFor"]?.stringValue
        memoryBytes = json["memoryBytes"]?.intValue.map { UInt64(max(0, $0)) }
        cpuUsage = json["cpuSeconds"]?.doubleValue.map { Duration.seconds($0) }
        for service in services { self.services.append(try StatusReport.Service(json: service)) }
    }
}

extension StatusReport.Service {
    package var json: JSONValue {
        var members: [(String, JSONValue)] = [("name", .string(name)), ("state", .string(state)), ("readiness", .string(readiness))]
        if let pid { members.append(("pid", .number(Double(pid)))) }
        if let status { members.append(("status", .string(status))) }
        if let uptime { members.append(("uptimeSeconds", .number(uptime.seconds))) }
        if let memoryBytes { members.append(("memoryBytes", .number(Double(memoryBytes)))) }
        if let cpuUsage { members.append(("cpuSeconds", .number(cpuUsage.seconds))) }
        return .object(members)
    }

    init(json: JSONValue) throws(ControlClientError) {
        guard let name = json["name"]?.stringValue, let state = json["state"]?.stringValue else {
            throw .badReply("a service without name or state")
        }
        self.init(
            name: name, state: state, readiness: json["readiness"]?.stringValue ?? "none",
            pid: json["pid"]?.intValue.map { Int32(truncatingIfNeeded: $0) }, status: json["status"]?.stringValue,
            uptime: json["uptimeSeconds"]?.doubleValue.map(Duration.seconds)
        )
        memoryBytes = json["memoryBytes"]?.intValue.map { UInt64(max(0, $0)) }
        cpuUsage = json["cpuSeconds"]?.doubleValue.map { Duration.seconds($0) }
    }
}

extension Duration {
    /// The duration in seconds, to the millisecond: what the status report shows.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds / 1_000_000_000_000_000) / 1000
    }
}
