@testable import RunnerDaemon
import Logging
import RunnerdConfig
import Systemd

/// Configs and times for the lifecycle machines' tests: no process, no clock, no timer.
enum Fixture {
    /// A fixed origin; every test time is an offset from it.
    static let t0 = ContinuousClock.now

    static func at(_ offset: Duration) -> ContinuousClock.Instant { t0 + offset }

    static func service(_ name: String, interruptTimeout: Duration = .seconds(2)) -> ServiceConfig {
        ServiceConfig(name: name, command: ["/bin/\(name)"], executable: "/bin/\(name)", interruptTimeout: interruptTimeout)
    }

    static func group(
        _ name: String, services: [String] = ["s"], restart: RestartMode = .onFailure, maxRestarts: Int = 5,
        required: Bool = true, groupInterruptTimeout: Duration = .seconds(3), interruptTimeout: Duration = .seconds(2)
    ) -> GroupConfig {
        GroupConfig(
            name: name, restart: restart, restartDelay: .seconds(1), restartDelayMax: .seconds(8),
            maxRestarts: maxRestarts, restartWindow: .seconds(300), required: required,
            groupInterruptTimeout: groupInterruptTimeout,
            services: services.map { service($0, interruptTimeout: interruptTimeout) }
        )
    }

    static func config(_ groups: [GroupConfig]) -> DaemonConfig {
        DaemonConfig(path: "runnerd.yaml", defaults: .init(interruptTimeout: .seconds(2), groupInterruptTimeout: .seconds(3)), groups: groups)
    }

    static let clean = GroupLifecycle.ServiceResult(kind: .clean, description: "exited with status 0")
    static let crashed = GroupLifecycle.ServiceResult(kind: .failed, description: "exited with status 3")
}

/// Feeds the machine and remembers every action, with the time it was returned at.
struct DaemonDriver {
    var machine: DaemonLifecycle
    var generations: [String: Int] = [:]
    var log: [(at: Duration, action: DaemonLifecycle.Action)] = []

    init(_ groups: [GroupConfig], stopTimeout: Duration? = nil) {
        machine = DaemonLifecycle(config: Fixture.config(groups), stopTimeout: stopTimeout)
        record(machine.start(at: Fixture.t0), at: .zero)
    }

    @discardableResult
    mutating func send(_ event: DaemonLifecycle.Event, at offset: Duration) -> [DaemonLifecycle.Action] {
        let actions = machine.handle(event, at: Fixture.at(offset))
        record(actions, at: offset)
        return actions
    }

    @discardableResult
    mutating func report(_ group: String, _ report: GroupLifecycle.Report, at offset: Duration, generation: Int? = nil) -> [DaemonLifecycle.Action] {
        send(.group(group, generation: generation ?? generations[group]!, report), at: offset)
    }

    /// Every service of `group` starting, then ready.
    mutating func bringUp(_ group: String, services: [String] = ["s"], at offset: Duration) {
        for service in services { report(group, .serviceStarting(service), at: offset) }
        for service in services { report(group, .serviceReady(service), at: offset) }
    }

    mutating func record(_ actions: [DaemonLifecycle.Action], at offset: Duration) {
        for action in actions {
            if case .startGroup(let group, let generation) = action { generations[group.name] = generation }
            log.append((offset, action))
        }
    }

    /// When each notify message went out, in order.
    var notifications: [(at: Duration, text: String)] {
        log.compactMap { entry in
            guard case .notify(let states) = entry.action else { return nil }
            return (entry.at, states.map(\.description).joined(separator: "\n"))
        }
    }

    func readyTimes(after offset: Duration = .zero) -> [Duration] {
        notifications.filter { $0.text.hasPrefix("READY=1") && $0.at >= offset }.map(\.at)
    }

    /// The replies to control clients, by request.
    var replies: [Int: DaemonLifecycle.ControlReply] {
        var replies: [Int: DaemonLifecycle.ControlReply] = [:]
        for entry in log {
            if case .reply(let request, let reply) = entry.action { replies[request] = reply }
        }
        return replies
    }
}

extension Array where Element == DaemonLifecycle.Action {
    /// Only the notify messages, as their datagram lines.
    var notifications: [String] {
        compactMap { action in
            guard case .notify(let states) = action else { return nil }
            return states.map(\.description).joined(separator: "\n")
        }
    }

    var startedGroups: [String] {
        compactMap { action in
            guard case .startGroup(let group, _) = action else { return nil }
            return group.name
        }
    }

    var stoppedGroups: [String] {
        compactMap { action in
            guard case .stopGroup(let name, _) = action else { return nil }
            return name
        }
    }

    var logLines: [String] {
        compactMap { action in
            guard case .log(_, let line) = action else { return nil }
            return line
        }
    }
}

extension Array where Element == GroupLifecycle.Action {
    var logLines: [String] {
        compactMap { action in
            guard case .log(_, let line) = action else { return nil }
            return line
        }
    }
}
