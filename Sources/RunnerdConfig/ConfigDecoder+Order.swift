import Yams

/// `after:`, `binds-to:` and `type: oneshot`, and the checks that need the whole file: unknown
/// names, a service after a service of another group, and cycles.
extension ConfigDecoder {
    /// What the order checks need from the decode, gathered as it goes: every name with the line
    /// of its key, and every reference with the place it was written.
    struct OrderNotes {
        struct Reference {
            /// `groups.web.services.api.after[0]`, with its place.
            var entry: Entry
            /// The group that holds the reference, and the service for a service's `after:`.
            var group: String
            var service: String?
            var target: String
        }

        /// Group name → the line of its key.
        var groupLines: [String: Int] = [:]
        /// Group name → its services' names, in file order, and the line of each key.
        var services: [String: [String]] = [:]
        var serviceLines: [String: [String: Int]] = [:]
        var references: [Reference] = []
    }

    static let serviceTypes = ServiceType.allCases.map(\.rawValue)

    /// A list of names (`after: [db, cache]`), remembered for the checks once the file is read.
    mutating func decodeOrderNames(_ entry: Entry, group: String, service: String?) -> [String] {
        guard case .sequence(let sequence) = entry.value else {
            if case .scalar(let scalar) = entry.value, !isNull(entry.value) {
                report(entry, "is a string, not a list; write a list, e.g. [\(scalar.string)]")
            } else {
                report(entry, "\(kind(of: entry.value)); write a list of names, e.g. [db]")
            }
            return []
        }
        var names: [String] = []
        for (index, item) in sequence.enumerated() {
            let itemEntry = Entry(name: "\(index)", key: item, value: item, path: "\(entry.path)[\(index)]")
            guard let name = string(itemEntry, hint: "write a name, e.g. db") else { continue }
            if names.contains(name) {
                report(itemEntry, "\(name.debugDescription) is listed twice; remove one")
                continue
            }
            names.append(name)
            order.references.append(.init(entry: itemEntry, group: group, service: service, target: name))
        }
        return names
    }

    mutating func decodeServiceType(_ entry: Entry) -> ServiceType? {
        guard let text = string(entry, hint: "write \(Self.list(Self.serviceTypes, conjunction: "or"))") else { return nil }
        if let type = ServiceType(rawValue: text) { return type }
        if let suggestion = KeySuggestion.nearest(to: text, among: Self.serviceTypes) {
            report(entry, "\(text.debugDescription) is not a service type; did you mean \(suggestion)?")
        } else {
            report(entry, "\(text.debugDescription) is not a service type; write \(Self.list(Self.serviceTypes, conjunction: "or"))")
        }
        return nil
    }

    /// The checks that need every name: run once the whole document is decoded.
    mutating func checkOrder(_ groups: [GroupConfig]) {
        let groupNames = groups.map(\.name)
        var serviceGroup: [String: [String]] = [:]
        for group in groups {
            for service in group.services { serviceGroup[service.name, default: []].append(group.name) }
        }
        for reference in order.references {
            if let service = reference.service {
                let own = order.services[reference.group] ?? []
                guard !own.contains(reference.target) else { continue }
                if let other = serviceGroup[reference.target]?.first(where: { $0 != reference.group }) {
                    report(reference.entry, "\(reference.target.debugDescription) is a service of group \(other), not of \(reference.group); a service starts only after services of its own group, so write after: [\(other)] on group \(reference.group) instead")
                } else if groupNames.contains(reference.target) {
                    report(reference.entry, "\(reference.target.debugDescription) is a group, not a service of \(reference.group); write after: [\(reference.target)] on group \(reference.group) instead")
                } else if let suggestion = KeySuggestion.nearest(to: reference.target, among: own.filter { $0 != service }) {
                    report(reference.entry, "\(reference.target.debugDescription) is not a service of group \(reference.group); did you mean \(suggestion)?")
                } else {
                    report(reference.entry, "\(reference.target.debugDescription) is not a service of group \(reference.group); its services are \(Self.list(own))")
                }
            } else if !groupNames.contains(reference.target) {
                if let suggestion = KeySuggestion.nearest(to: reference.target, among: groupNames.filter { $0 != reference.group }) {
                    report(reference.entry, "\(reference.target.debugDescription) is not a group; did you mean \(suggestion)?")
                } else {
                    report(reference.entry, "\(reference.target.debugDescription) is not a group; the groups are \(Self.list(groupNames))")
                }
            }
        }
        for group in groups {
            let services = DependencyOrder(
                names: group.services.map(\.name),
                dependencies: Dictionary(uniqueKeysWithValues: group.services.map { ($0.name, $0.after) }))
            for cycle in services.cycles {
                reportCycle(cycle, group: group.name, lines: order.serviceLines[group.name] ?? [:], key: "after:")
            }
        }
        for cycle in DaemonConfig.groupOrder(groups).cycles {
            reportCycle(cycle, group: nil, lines: order.groupLines, key: "after: or binds-to:")
        }
    }

    /// One cycle, whole, at the reference from its first name to its second.
    private mutating func reportCycle(_ cycle: [String], group: String?, lines: [String: Int], key: String) {
        let next = cycle.count > 1 ? cycle[1] : cycle[0]
        let at = order.references.first {
            $0.target == next && (group == nil ? $0.service == nil && $0.group == cycle[0] : $0.group == group && $0.service == cycle[0])
        }
        let names = cycle.map { "\($0) (\(file):\(lines[$0] ?? 0))" } + [cycle[0]]
        let what = cycle.count == 1 ? "\(cycle[0]) starts after itself" : "a cycle"
        let fix = cycle.count == 1 ? "remove \(cycle[0]) from its \(key)" : "remove one of these \(key) entries"
        let message = "\(what): \(names.joined(separator: " -> ")); \(fix)"
        if let at { report(at.entry, message) } else { report(nil, "", message) }
    }
}

extension DaemonConfig {
    /// The groups' order: each group starts after the groups of its `after:` and `binds-to:`.
    public static func groupOrder(_ groups: [GroupConfig]) -> DependencyOrder {
        DependencyOrder(
            names: groups.map(\.name),
            dependencies: Dictionary(groups.map { ($0.name, $0.after + $0.bindsTo) }, uniquingKeysWith: { first, _ in first }))
    }
}
