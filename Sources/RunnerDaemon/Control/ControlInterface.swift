/// The control socket's varlink interface, `io.runnerd.Manager`: its description in varlink's
/// interface language (what `GetInterfaceDescription` returns, and what generic clients such as
/// `varlinkctl` or Python's `varlink` build their calls from), and the decoding of a call into a
/// request the daemon understands.
package enum ControlInterface {
    package static let name = "io.runnerd.Manager"
    static let service = "org.varlink.service"

    /// The methods a member of `control-group` may call; root may call every method.
    static let readOnlyMethods: Set<String> = [
        "\(name).Status", "\(service).GetInfo", "\(service).GetInterfaceDescription",
    ]

    package static let description = """
        # The control interface of runnerd, which keeps services running as all-or-nothing groups
        # under systemd. Root may call every method; members of the config's control-group may
        # call Status, GetInfo and GetInterfaceDescription.
        interface io.runnerd.Manager

        # One service of a group.
        type Service (
          name: string,
          # down, starting, ready, or done (a oneshot that finished)
          state: string,
          # What decides readiness: notify, tcp, http, exec, log-line or none
          readiness: string,
          pid: ?int,
          # The last STATUS= it sent through its notify socket
          status: ?string,
          uptimeSeconds: ?float,
          # Its own cgroup's memory.current and CPU time (cpu.stat), under a delegated cgroup
          memoryBytes: ?int,
          cpuSeconds: ?float
        )

        # One group: services that run together or not at all.
        type Group (
          name: string,
          # starting, waiting, running, restarting, stopping, stopped, finished or gave-up
          state: string,
          required: bool,
          ready: int,
          total: int,
          uptimeSeconds: ?float,
          # Restarts within the restart window, and the most it allows
          restarts: int,
          restartLimit: int,
          # How the last run ended
          lastExit: ?string,
          # While backing off: the wait before the next run
          nextRestartSeconds: ?float,
          # Stopped with Stop; it stays down until Start
          stoppedByRequest: bool,
          # While it waits for the groups it starts after: which, and how they stand
          waitingFor: ?string,
          # Its services' memory and CPU time together, under a delegated cgroup
          memoryBytes: ?int,
          cpuSeconds: ?float,
          services: []Service
        )

        # Where one group ended up after Start, Stop or Restart.
        type Outcome (group: string, succeeded: bool, message: string)

        # What a reload does to one group: start, stop, restart, keep or stay-stopped.
        type PlanStep (group: string, action: string, reason: string)

        # What runnerd and its groups are doing; every group without groups. With "more", a
        # new reply follows each change.
        method Status(groups: ?[]string) -> (state: string, status: string, unit: ?string, journal: bool, groups: []Group)

        # Starts groups stopped with Stop, or that ended; replies once each is ready or failed.
        method Start(groups: []string) -> (groups: []Outcome)

        # Stops groups; they stay stopped, across reloads, until Start or a restart of runnerd.
        method Stop(groups: []string) -> (groups: []Outcome)

        # Stops and starts groups; replies once each is ready again or failed.
        method Restart(groups: []string) -> (groups: []Outcome)

        # Reads the config file again. With dryRun, returns the plan and changes nothing; else
        # applies it as SIGHUP does and replies once every group it starts is ready.
        method Reload(dryRun: ?bool) -> (applied: bool, summary: string, plan: []PlanStep)

        error NoSuchGroup (group: string)
        # runnerd is stopping and takes no more requests.
        error Stopping ()
        # The config file is invalid; the running config stays. Every error, located.
        error ConfigInvalid (errors: string)
        # The reload was applied, but a group it started failed.
        error GroupFailed (message: string)
        error InvalidMessage (reason: string)
        error TooManyClients (limit: int)
        error RequestTooLarge (limit: int)
        """

    /// What a client may do to whole groups.
    package enum GroupVerb: String, Sendable, Equatable, CaseIterable {
        case start
        case stop
        case restart

        /// The interface's method for it: `io.runnerd.Manager.Restart`.
        package var method: String {
            "\(ControlInterface.name).\(rawValue.prefix(1).uppercased())\(rawValue.dropFirst())"
        }
    }

    /// What a call asks for, once decoded and checked.
    package enum Request: Sendable, Equatable {
        case getInfo
        case describe(interface: String)
        case status(groups: [String], watch: Bool)
        case group(GroupVerb, [String])
        case reload(dryRun: Bool)
    }

    /// A decoded call: a request, or the error reply it gets instead.
    package enum Decoding: Sendable, Equatable {
        case request(Request)
        case error(VarlinkReply)
    }

    /// Decodes `call` into a request, or the error reply it gets instead.
    package static func request(for call: VarlinkCall) -> Decoding {
        let parameters = call.parameters
        if let verb = GroupVerb.allCases.first(where: { $0.method == call.method }) {
            switch optionalNames(parameters) {
            case .success(let groups) where !groups.isEmpty: return .request(.group(verb, groups))
            case .success: return .error(InvalidGroups().reply)
            case .failure(let problem): return .error(problem.reply)
            }
        }
        switch call.method {
        case "\(service).GetInfo":
            return .request(.getInfo)
        case "\(service).GetInterfaceDescription":
            guard let interface = parameters["interface"]?.stringValue else {
                return .error(.failure("\(service).InvalidParameter", [("parameter", "interface")]))
            }
            guard interface == name || interface == service else {
                return .error(.failure("\(service).InterfaceNotFound", [("interface", .string(interface))]))
            }
            return .request(.describe(interface: interface))
        case "\(name).Status":
            switch optionalNames(parameters) {
            case .success(let groups): return .request(.status(groups: groups, watch: call.more))
            case .failure(let problem): return .error(problem.reply)
            }
        case "\(name).Reload":
            let dryRun = parameters["dryRun"]
            guard dryRun == nil || dryRun == .null || dryRun?.boolValue != nil else {
                return .error(.failure("\(service).InvalidParameter", [("parameter", "dryRun")]))
            }
            return .request(.reload(dryRun: dryRun?.boolValue ?? false))
        default:
            if call.interface != name && call.interface != service {
                return .error(.failure("\(service).InterfaceNotFound", [("interface", .string(call.interface))]))
            }
            return .error(.failure("\(service).MethodNotFound", [("method", .string(call.method))]))
        }
    }

    /// `groups` is not a list of names.
    private struct InvalidGroups: Error {
        var reply: VarlinkReply { .failure("\(ControlInterface.service).InvalidParameter", [("parameter", "groups")]) }
    }

    /// `groups`: absent, null, or a list of at most 10,000 distinct names.
    private static func optionalNames(_ parameters: JSONValue) -> Result<[String], InvalidGroups> {
        let invalid = InvalidGroups()
        guard let value = parameters["groups"], value != .null else { return .success([]) }
        guard let items = value.arrayValue, items.count <= 10_000 else { return .failure(invalid) }
        var names: [String] = []
        var seen = Set<String>()
        for item in items {
            guard let name = item.stringValue, !name.isEmpty else { return .failure(invalid) }
            if seen.insert(name).inserted { names.append(name) }
        }
        return .success(names)
    }

    /// `GetInfo`'s reply.
    static func info(version: String) -> JSONValue {
        .object([
            ("vendor", "runnerd"), ("product", "runnerd"), ("version", .string(version)),
            ("url", "file:/usr/share/doc/runnerd/README.md"),
            ("interfaces", .array([.string(service), .string(name)])),
        ])
    }

    /// The `org.varlink.service` interface itself, as its specification describes it.
    static let serviceDescription = """
        interface org.varlink.service

        method GetInfo() -> (vendor: string, product: string, version: string, url: string, interfaces: []string)

        method GetInterfaceDescription(interface: string) -> (description: string)

        error InterfaceNotFound (interface: string)
        error MethodNotFound (method: string)
        error MethodNotImplemented (method: string)
        error InvalidParameter (parameter: string)
        error PermissionDenied ()
        error ExpectedMore ()
        """
}
